//! SPEC §8: a form's preamble (the bytes before its first boundary) and each
//! part's headers are at most 16 KiB, so the server's memory stays flat
//! whatever a client sends before a boundary or a blank line. Measured on the
//! real binary, run as a child process, by its resident set (/proc/PID/status).

use crate::both;
use crate::common::{Backend, TestApp};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What each attack sends in all: 256 MiB.
const ATTACK: usize = 256 * 1024 * 1024;
/// How much the server may grow while one attack runs.
const MAX_GROWTH_KIB: u64 = 32 * 1024;

struct Node {
    child: Child,
    addr: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `stowage serve` on a free port, SQLite and files under `dir`; returns the
/// node, its account id and its public key (printed at the first start).
fn start(dir: &Path) -> (Node, String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stowage"))
        .arg("serve")
        .current_dir(dir)
        .env("STOWAGE_LISTEN", &addr)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.display()),
        )
        .env(
            "STOWAGE_STORAGE_URL",
            format!("file://{}/blobs", dir.display()),
        )
        .env("STOWAGE_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let node = Node { child, addr };
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout).lines();
    while !lines.iter().any(|l: &String| l.contains("public key:")) {
        match reader.next() {
            Some(Ok(l)) => lines.push(l),
            _ => panic!("no keys printed: {lines:?}"),
        }
    }
    let field = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{name} not printed: {lines:?}"))
    };
    let (account, public) = (field("account:"), field("public key:"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&node.addr).is_err() {
        assert!(Instant::now() < deadline, "stowage did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (node, account, public)
}

/// The process's resident set, KiB (0 once it is gone).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples the process's resident set every 5 ms until `stop`; the peak.
fn sample_peak(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::SeqCst) {
            peak = peak.max(rss_kib(pid));
            std::thread::sleep(Duration::from_millis(5));
        }
        peak.max(rss_kib(pid))
    })
}

/// Reads one response (head and a Content-Length body) within `limit`.
pub(crate) async fn read_response(
    r: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> (u16, Value) {
    match try_read_response(r, limit).await {
        Ok(answer) => answer,
        Err(e) => panic!("{e}"),
    }
}

/// [`read_response`], or what was read when none came.
async fn try_read_response(
    r: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> Result<(u16, Value), String> {
    let mut buf = Vec::new();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                let body = serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap();
                return Ok((head[9..12].parse().unwrap(), body));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let mut chunk = [0u8; 8192];
        let n = match tokio::time::timeout(left, r.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => n,
            other => {
                let got = String::from_utf8_lossy(&buf);
                return Err(format!("no response ({other:?}) in {limit:?}: {got:?}"));
            }
        };
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends `head`, `start`, then junk (`a`) up to [`ATTACK`] bytes, while
/// reading the answer; returns it (or why none came) and how much the server
/// grew meanwhile.
async fn attack(node: &Node, head: &str, start: &[u8]) -> (Result<(u16, Value), String>, u64) {
    let pid = node.child.id();
    let before = rss_kib(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_peak(pid, stop.clone());
    let s = TcpStream::connect(&node.addr).await.unwrap();
    let (mut r, mut w) = s.into_split();
    let request = format!("{head}content-length: {ATTACK}\r\n\r\n");
    let start = start.to_vec();
    let writer = tokio::spawn(async move {
        w.write_all(request.as_bytes()).await?;
        w.write_all(&start).await?;
        let junk = vec![b'a'; 1024 * 1024];
        let mut sent = start.len();
        while sent < ATTACK {
            let n = junk.len().min(ATTACK - sent);
            w.write_all(&junk[..n]).await?;
            sent += n;
        }
        std::io::Result::Ok(w)
    });
    let answer = try_read_response(&mut r, Duration::from_secs(60)).await;
    writer.abort();
    stop.store(true, Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    (answer, peak.saturating_sub(before))
}

fn post(path: &str, key: Option<&str>) -> String {
    let auth = key.map_or(String::new(), |k| format!("authorization: Bearer {k}\r\n"));
    format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\n{auth}\
         content-type: multipart/form-data; boundary=XyZ\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preamble_and_part_headers_keep_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let (node, account, public) = start(dir.path());
    let form_data = format!("/v2/accounts/{account}/uploads/form_data?filePath=/m/a.bin");
    let imagekit = "/api/v2/files/upload";
    let text = b"--XyZ\r\ncontent-disposition: form-data; name=\"fileName\"\r\n\r\na.bin\r\n";
    let endless_head: &[u8] =
        b"--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a\"\r\nx-pad: ";
    let second_endless = [&text[..], endless_head].concat();
    let cases: [(&str, String, &[u8], &str); 5] = [
        ("imagekit preamble", post(imagekit, None), b"", "preamble"),
        (
            "form_data preamble",
            post(&form_data, Some(&public)),
            b"",
            "preamble",
        ),
        ("POST / preamble", post("/", Some(&public)), b"", "preamble"),
        (
            "imagekit part 2 headers",
            post(imagekit, None),
            &second_endless,
            "part 2",
        ),
        (
            "form_data part 1 headers",
            post(&form_data, Some(&public)),
            endless_head,
            "part 1",
        ),
    ];
    // Warm-up (first-request allocations are not the attack's).
    let _ = attack(&node, &post(imagekit, None), b"").await;
    for (what, head, start, named) in cases {
        let (answer, grew) = attack(&node, &head, start).await;
        eprintln!("{what}: {answer:?}; the server grew by {grew} KiB");
        let (status, body) = answer.unwrap_or_else(|e| panic!("{what}: {e}; grew by {grew} KiB"));
        let message = body["message"]
            .as_str()
            .or(body["error"]["message"].as_str())
            .unwrap_or_default();
        assert!(
            status == 413 && message.contains(named) && grew < MAX_GROWTH_KIB,
            "{what}: {status} {body}, grew by {grew} KiB"
        );
        if let Some(code) = body["error"]["code"].as_str() {
            assert_eq!(code, "field_too_large", "{what}");
        }
    }
    assert_eq!(files_under(&dir.path().join("blobs")), Vec::<String>::new());
}

/// Every file under `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                dirs.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

/// A form at the limits passes whole: a preamble of exactly 16 KiB and a part
/// with a 15 KiB header; one byte more of preamble is refused, nothing kept.
async fn forms_at_the_limits(b: Backend) {
    let app = TestApp::spawn(b).await;
    let pad = "v".repeat(15 * 1024);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let form = |preamble: usize| {
        let head = format!(
            "--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
             x-pad: {pad}\r\ncontent-type: application/octet-stream\r\n\r\n"
        );
        [
            &vec![b'p'; preamble][..],
            head.as_bytes(),
            &data,
            b"\r\n--XyZ--\r\n",
        ]
        .concat()
    };
    let send = |body: Vec<u8>| {
        app.client
            .post(app.api("/uploads/form_data"))
            .query(&[("filePath", "/lim/a.bin")])
            .bearer_auth(&app.secret)
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(body)
            .send()
    };
    let resp = send(form(16 * 1024 + 1)).await.unwrap();
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "field_too_large", "{v}");
    assert_eq!(v["error"]["details"]["field"], "(preamble)", "{v}");
    assert!(app.blob_keys().await.is_empty());

    let resp = send(form(16 * 1024)).await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    assert_eq!(app.get_bytes("/lim/a.bin").await.1, data);
}
both!(forms_at_the_limits);
