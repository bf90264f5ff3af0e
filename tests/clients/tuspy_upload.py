"""Uploads a file to stowage with tuspy (the Python tus client of record).

Usage: tuspy_upload.py ENDPOINT KEY FILE FILE_PATH CHUNK_SIZE [RESUME_AFTER]
Prints the upload URL. With RESUME_AFTER, the first uploader stops after that
many chunks and a second uploader, knowing only the URL, resumes it (as a
client restarting after a crash would).
"""
import sys

from tusclient import client

endpoint, key, path, file_path, chunk = sys.argv[1:6]
resume_after = int(sys.argv[6]) if len(sys.argv) > 6 else None
tus = client.TusClient(endpoint, headers={"Authorization": f"Bearer {key}"})
meta = {"filePath": file_path, "filename": path.rsplit("/", 1)[-1]}
uploader = tus.uploader(path, chunk_size=int(chunk), metadata=meta)
if resume_after is None:
    uploader.upload()
else:
    for _ in range(resume_after):
        uploader.upload_chunk()
    url = uploader.url
    uploader = tus.uploader(path, chunk_size=int(chunk), url=url)
    assert uploader.offset > 0, "the server kept the first chunks"
    uploader.upload()
print(uploader.url)
