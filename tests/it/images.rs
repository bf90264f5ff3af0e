//! SPEC §6.1 over HTTP: transformations of images made here, the cache and
//! its invalidation, refusals, crops. Permissions and presets: `images_auth.rs`.

use crate::both;
use crate::common::{Backend, TestApp};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use serde_json::Value;
use std::io::Cursor;
use std::time::{Duration, Instant};

pub fn encoded(img: &DynamicImage, f: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, f).unwrap();
    out.into_inner()
}

/// Left half red, right half blue, as a JPEG.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, _| {
        Rgb(if x < w / 2 { [255, 0, 0] } else { [0, 0, 255] })
    });
    encoded(&DynamicImage::ImageRgb8(img), ImageFormat::Jpeg)
}

/// A JPEG with EXIF orientation 6 (display rotated 90° clockwise) and a GPS pointer.
fn jpeg_rotated(w: u32, h: u32) -> Vec<u8> {
    let plain = jpeg(w, h);
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

pub fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).unwrap()
}

pub async fn get(
    app: &TestApp,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    (status, h, resp.bytes().await.unwrap().to_vec())
}

pub fn image_url(app: &TestApp, slug: &str, path_and_query: &str) -> String {
    format!("{}/{}/{slug}{path_and_query}", app.url, app.account)
}

pub fn error(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(body).unwrap()["error"].clone()
}

async fn derived_keys(app: &TestApp) -> Vec<String> {
    let rows = app.state.meta.list_derived(&app.account).await.unwrap();
    rows.into_iter().map(|r| r.blob_key).collect()
}

async fn resize_cache_and_invalidation(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/p/rot.jpg", &jpeg_rotated(40, 20)).await;
    let url = image_url(&app, "image", "/p/rot.jpg?w=10");
    let (s, h, first) = get(&app, &url, &[]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&first));
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert_eq!(h["cache-control"], "public, max-age=3600");
    assert!(h.get("vary").is_some(), "f absent is f=auto: Vary: Accept");
    let img = decode(&first);
    assert_eq!(
        (img.width(), img.height()),
        (10, 20),
        "EXIF rotation applied"
    );
    assert!(!first.windows(4).any(|w| w == b"Exif"), "EXIF stripped");
    let etag = h["etag"].to_str().unwrap().to_string();
    assert_eq!(
        etag,
        format!("\"{}\"", crate::common::sha256_hex(&first)),
        "ETag is the result's SHA-256"
    );

    // Cached: one derived object, identical bytes and ETag, 304, Range, HEAD.
    let keys = derived_keys(&app).await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with(&format!("{}/derived/", app.account)));
    assert!(app.blob_keys().await.contains(&keys[0]));
    let (s, h2, again) = get(&app, &url, &[]).await;
    assert_eq!((s, &again), (200, &first));
    assert_eq!(h2["etag"], etag.as_str());
    assert_eq!(h2["last-modified"], h["last-modified"]);
    let (s, _, body) = get(&app, &url, &[("if-none-match", &etag)]).await;
    assert_eq!((s, body.len()), (304, 0));
    let (s, h3, part) = get(&app, &url, &[("range", "bytes=0-9")]).await;
    assert_eq!((s, &part[..]), (206, &first[..10]));
    assert_eq!(
        h3["content-range"],
        format!("bytes 0-9/{}", first.len()).as_str()
    );
    let head = app.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        first.len().to_string().as_str()
    );
    assert_eq!(derived_keys(&app).await.len(), 1, "nothing re-rendered");

    // Overwrite: the old version's results go (row and object).
    app.put("/p/rot.jpg", &jpeg(30, 30)).await;
    assert!(derived_keys(&app).await.is_empty());
    assert!(!app.blob_keys().await.contains(&keys[0]));
    let (s, _, body) = get(&app, &url, &[]).await;
    assert_eq!(s, 200);
    assert_eq!(decode(&body).width(), 10);
    assert_eq!(decode(&body).height(), 10, "the new source is square");
    let new_keys = derived_keys(&app).await;
    assert_eq!(new_keys.len(), 1);

    // Delete: gone too.
    let resp = app
        .client
        .delete(app.api("/files"))
        .query(&[("filePath", "/p/rot.jpg")])
        .bearer_auth(&app.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(derived_keys(&app).await.is_empty());
    assert!(!app.blob_keys().await.contains(&new_keys[0]));
    let (s, _, _) = get(&app, &url, &[]).await;
    assert_eq!(s, 404);
}
both!(resize_cache_and_invalidation);

async fn formats_and_accept(b: Backend) {
    let app = TestApp::spawn(b).await;
    // PNG with alpha: left half transparent, right half opaque green.
    let rgba = RgbaImage::from_fn(40, 20, |x, _| {
        Rgba(if x < 20 {
            [0, 0, 0, 0]
        } else {
            [0, 255, 0, 255]
        })
    });
    app.put(
        "/a.png",
        &encoded(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
    )
    .await;
    let url = image_url(&app, "image", "/a.png?w=20");
    let cases = [
        ("", "image/png"),
        ("image/webp,*/*", "image/webp"),
        ("image/avif,image/webp,*/*", "image/avif"),
        ("*/*", "image/png"),
    ];
    for (accept, want) in cases {
        let (s, h, body) = get(&app, &url, &[("accept", accept)]).await;
        assert_eq!(s, 200);
        assert_eq!(h["content-type"], want, "Accept {accept:?}");
        assert_eq!(h["vary"], "Accept");
        if want != "image/avif" {
            let img = decode(&body).into_rgba8();
            assert_eq!(img.dimensions(), (20, 10));
            assert_eq!(img.get_pixel(2, 5).0[3], 0, "alpha kept in {want}");
            assert!(img.get_pixel(17, 5).0[1] > 200);
        } else {
            assert!(body.windows(4).any(|w| w == b"avif"));
        }
    }
    // The widget's previews: f=webp&f2=jpg gives WebP, with no Vary.
    let (s, h, body) = get(
        &app,
        &image_url(&app, "image", "/a.png?f=webp&f2=jpg&w=8"),
        &[],
    )
    .await;
    assert_eq!(
        (s, &h["content-type"]),
        (200, &"image/webp".parse().unwrap())
    );
    assert!(h.get("vary").is_none());
    assert_eq!(decode(&body).width(), 8);
    // fit=pad to an exact box, JPEG with a background.
    let url = image_url(&app, "image", "/a.png?w=30&h=30&fit=pad&f=jpg&bg=ffff00");
    let (s, _, body) = get(&app, &url, &[]).await;
    assert_eq!(s, 200);
    let img = decode(&body).into_rgb8();
    assert_eq!(img.dimensions(), (30, 30));
    let corner = img.get_pixel(1, 1).0;
    assert!(
        corner[0] > 200 && corner[1] > 200 && corner[2] < 60,
        "{corner:?}"
    );

    // Animated GIF: the first frame, as PNG.
    use image::codecs::gif::{GifEncoder, Repeat};
    let frame = |c: [u8; 4]| image::Frame::new(RgbaImage::from_pixel(30, 20, Rgba(c)));
    let mut gif = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut gif);
        enc.set_repeat(Repeat::Infinite).unwrap();
        enc.encode_frames([frame([255, 0, 0, 255]), frame([0, 0, 255, 255])])
            .unwrap();
    }
    app.put("/anim.gif", &gif).await;
    let (s, h, body) = get(&app, &image_url(&app, "image", "/anim.gif"), &[]).await;
    assert_eq!(
        (s, &h["content-type"]),
        (200, &"image/png".parse().unwrap())
    );
    let img = decode(&body).into_rgb8();
    assert_eq!(img.dimensions(), (30, 20));
    assert!(img.get_pixel(15, 10).0[0] > 200 && img.get_pixel(15, 10).0[2] < 60);
}
both!(formats_and_accept);

/// A PNG header claiming 60000×60000 pixels, with almost no data.
fn bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = 60000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    for (kind, data) in [
        (&b"IHDR"[..], &ihdr[..]),
        (b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
        (b"IEND", &[]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        let mut crc = !0u32;
        for &byte in &body {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        png.extend_from_slice(&(!crc).to_be_bytes());
    }
    png
}

async fn refusals(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/bomb.png", &bomb()).await;
    let start = Instant::now();
    let (s, _, body) = get(&app, &image_url(&app, "image", "/bomb.png?w=10"), &[]).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "refused from the header"
    );
    assert_eq!(s, 413);
    let e = error(&body);
    assert_eq!(e["code"], "image_too_large");
    assert_eq!(e["details"]["limit"], 100_000_000);
    assert_eq!(e["details"]["setting"], "STOWAGE_IMAGE_MAX_PIXELS");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("STOWAGE_IMAGE_MAX_PIXELS"));

    for (path, bytes) in [
        ("/doc.pdf", &b"%PDF-1.7\n1 0 obj << >> endobj"[..]),
        ("/x.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
        ("/t.txt", b"hello"),
        ("/fake.jpg", b"not really a jpeg"),
    ] {
        app.put(path, bytes).await;
        let (s, _, body) = get(&app, &image_url(&app, "image", path), &[]).await;
        assert_eq!(
            (s, error(&body)["code"].as_str()),
            (415, Some("unsupported_image")),
            "{path}"
        );
    }

    app.put("/ok.jpg", &jpeg(20, 20)).await;
    for (q, name) in [
        ("w=0", "w"),
        ("w=abc", "w"),
        ("h=9000", "h"),
        ("fit=cover", "fit"),
        ("f=heic", "f"),
        ("q=101", "q"),
        ("bg=zz", "bg"),
        ("w=1&w=2", "w"),
        ("blur=3", "blur"),
    ] {
        let (s, _, body) = get(
            &app,
            &image_url(&app, "image", &format!("/ok.jpg?{q}")),
            &[],
        )
        .await;
        let e = error(&body);
        assert_eq!(s, 400, "{q}");
        assert_eq!(e["code"], "invalid_transformation", "{q}");
        assert_eq!(e["details"]["parameter"], name, "{q}");
        assert!(e["message"].as_str().unwrap().contains(name), "{q}");
    }
    // The common CDN query rides along.
    let url = image_url(
        &app,
        "image",
        "/ok.jpg?w=5&download=true&cache_ttl=60&version=3&auth=true",
    );
    let (s, h, _) = get(&app, &url, &[]).await;
    assert_eq!(s, 200);
    assert_eq!(h["cache-control"], "public, max-age=60");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .contains("ok.jpg"));
    // Without CDN names the CDN defaults apply; a bad CDN value is still
    // refused, and an encoded CDN name is still read.
    let (s, h, _) = get(&app, &image_url(&app, "image", "/ok.jpg?w=5"), &[]).await;
    assert_eq!(s, 200);
    assert_eq!(h["cache-control"], "public, max-age=3600");
    assert!(h.get("content-disposition").is_none());
    let (s, _, body) = get(
        &app,
        &image_url(&app, "image", "/ok.jpg?w=5&cache_ttl=soon"),
        &[],
    )
    .await;
    assert_eq!(
        (s, error(&body)["code"].as_str()),
        (400, Some("invalid_request")),
        "{body:?}"
    );
    let (s, h, _) = get(
        &app,
        &image_url(&app, "image", "/ok.jpg?w=5&cache%5Fttl=7"),
        &[],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["cache-control"], "public, max-age=7");

    let (s, _, body) = get(&app, &image_url(&app, "nope", "/ok.jpg"), &[]).await;
    assert_eq!(
        (s, error(&body)["code"].as_str()),
        (404, Some("preset_not_found"))
    );
    let (s, _, body) = get(&app, &image_url(&app, "image", "/missing.jpg"), &[]).await;
    assert_eq!(
        (s, error(&body)["code"].as_str()),
        (404, Some("file_not_found"))
    );
}
both!(refusals);

async fn crop_files(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/w/photo.jpg", &jpeg(100, 80)).await;
    let crop = r#"{"inputPath":"photo.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":10,"y":20},"size":{"width":40,"height":30,"type":"widthxheight!"}},"type":"crop"}]}}"#;
    app.put("/w/photo.jpg.crop", crop.as_bytes()).await;
    let (s, h, body) = get(&app, &image_url(&app, "image", "/w/photo.jpg.crop"), &[]).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h["content-type"], "image/jpeg");
    let img = decode(&body);
    assert_eq!((img.width(), img.height()), (40, 30));
    // The cropped area is the red left part (x 10..50 of a red 0..50 half).
    assert!(img.to_rgb8().get_pixel(5, 15).0[0] > 200);
    let (s, _, body) = get(
        &app,
        &image_url(&app, "image", "/w/photo.jpg.crop?w=20&f=png"),
        &[],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(decode(&body).width(), 20);
    assert_eq!(decode(&body).height(), 15);

    // Overwriting the .crop file drops its results; a new crop renders.
    let n = app
        .state
        .meta
        .list_derived(&app.account)
        .await
        .unwrap()
        .len();
    assert_eq!(n, 2);
    app.put(
        "/w/photo.jpg.crop",
        crop.replace("\"width\":40", "\"width\":20").as_bytes(),
    )
    .await;
    assert!(app
        .state
        .meta
        .list_derived(&app.account)
        .await
        .unwrap()
        .is_empty());
    let (_, _, body) = get(&app, &image_url(&app, "image", "/w/photo.jpg.crop"), &[]).await;
    assert_eq!(decode(&body).width(), 20);

    // Bad crop files: escaping the folder, not JSON, missing input.
    for (name, json) in [
        ("/w/up.crop", crop.replace("photo.jpg", "../photo.jpg")),
        ("/w/bad.crop", "{not json".to_string()),
    ] {
        app.put(name, json.as_bytes()).await;
        let (s, _, body) = get(&app, &image_url(&app, "image", name), &[]).await;
        let e = error(&body);
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_transformation")),
            "{name}"
        );
        assert_eq!(e["details"]["parameter"], "crop");
    }
    app.put(
        "/w/gone.crop",
        crop.replace("photo.jpg", "none.jpg").as_bytes(),
    )
    .await;
    let (s, _, _) = get(&app, &image_url(&app, "image", "/w/gone.crop"), &[]).await;
    assert_eq!(s, 404);
}
both!(crop_files);

async fn busy_pool_is_429(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.put("/b.jpg", &jpeg(20, 20)).await;
    let cached = image_url(&app, "image", "/b.jpg?w=4");
    assert_eq!(get(&app, &cached, &[]).await.0, 200);
    // Fill every worker and queue place with jobs that wait for a signal.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let capacity = cores * (1 + stowage::state::IMAGE_QUEUE_PER_WORKER);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let mut jobs = Vec::new();
    for _ in 0..capacity {
        let (pool, rx) = (app.state.images.clone(), rx.clone());
        jobs.push(tokio::spawn(async move {
            pool.run(1, move || rx.lock().unwrap().recv().unwrap())
                .await
        }));
    }
    while app.state.images.load() < capacity {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (s, h, body) = get(&app, &image_url(&app, "image", "/b.jpg?w=5"), &[]).await;
    assert_eq!((s, error(&body)["code"].as_str()), (429, Some("busy")));
    assert_eq!(h["retry-after"], "2");
    // A cached result needs no worker.
    assert_eq!(get(&app, &cached, &[]).await.0, 200);
    for _ in 0..capacity {
        tx.send(()).unwrap();
    }
    for j in jobs {
        j.await.unwrap().unwrap();
    }
    let (s, _, body) = get(&app, &image_url(&app, "image", "/b.jpg?w=5"), &[]).await;
    assert_eq!((s, decode(&body).width()), (200, 5));
}
both!(busy_pool_is_429);
