//! AVIF sources (SPEC §6.1) over HTTP, and hostile AVIF files through the
//! engine: decoded in the `stowage __avif-decode` child process, so a crash
//! of the AV1 decoder is an unreadable image, never the server's end.

use crate::both;
use crate::common::{Backend, TestApp};
use crate::images::{decode, error, get, image_url};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use proptest::prelude::*;
use std::io::Cursor;

fn use_decoder() {
    stowage::images::set_avif_decoder(env!("CARGO_BIN_EXE_stowage").into());
}

fn avif(img: &DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Avif).unwrap();
    out.into_inner()
}

fn near(p: [u8; 3], want: [u8; 3]) -> bool {
    p.iter().zip(want).all(|(a, b)| a.abs_diff(b) < 24)
}

async fn avif_sources_decode(b: Backend) {
    use_decoder();
    let app = TestApp::spawn(b).await;
    let (red, blue) = ([230, 20, 20], [20, 20, 230]);
    let img = RgbImage::from_fn(120, 80, |x, _| Rgb(if x < 60 { red } else { blue }));
    app.put("/a/photo.avif", &avif(&DynamicImage::ImageRgb8(img)))
        .await;
    let (s, h, body) = get(
        &app,
        &image_url(&app, "image", "/a/photo.avif?w=60&f=png"),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h["content-type"], "image/png");
    let out = decode(&body).into_rgb8();
    assert_eq!(out.dimensions(), (60, 40));
    assert!(
        near(out.get_pixel(10, 20).0, red),
        "{:?}",
        out.get_pixel(10, 20)
    );
    assert!(
        near(out.get_pixel(50, 20).0, blue),
        "{:?}",
        out.get_pixel(50, 20)
    );

    // With alpha, to WebP (keeps it).
    let rgba = RgbaImage::from_fn(40, 40, |x, _| {
        Rgba(if x < 20 {
            [230, 20, 20, 255]
        } else {
            [0, 0, 0, 0]
        })
    });
    app.put("/a/alpha.avif", &avif(&DynamicImage::ImageRgba8(rgba)))
        .await;
    let (s, _, body) = get(&app, &image_url(&app, "image", "/a/alpha.avif?f=webp"), &[]).await;
    assert_eq!(s, 200);
    let out = decode(&body).into_rgba8();
    assert_eq!(out.dimensions(), (40, 40));
    assert!(out.get_pixel(5, 5).0[3] > 240 && out.get_pixel(35, 5).0[3] < 16);

    // Broken AVIF: an unreadable image, and the server still answers.
    let mut broken = avif(&DynamicImage::ImageRgb8(RgbImage::new(32, 32)));
    let n = broken.len();
    broken[n - 40..].fill(0xA5);
    broken.truncate(n - 10);
    app.put("/a/broken.avif", &broken).await;
    let (s, _, body) = get(&app, &image_url(&app, "image", "/a/broken.avif?w=8"), &[]).await;
    assert!(
        matches!(s, 400 | 415),
        "{s} {}",
        String::from_utf8_lossy(&body)
    );
    assert!(error(&body)["code"].is_string());
    let (s, _, _) = get(
        &app,
        &image_url(&app, "image", "/a/photo.avif?w=30&f=png"),
        &[],
    )
    .await;
    assert_eq!(s, 200);
}
both!(avif_sources_decode);

fn sample() -> Vec<u8> {
    use std::sync::OnceLock;
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    SAMPLE
        .get_or_init(|| {
            let img = RgbaImage::from_fn(40, 24, |x, y| Rgba([x as u8 * 6, y as u8 * 10, 90, 200]));
            avif(&DynamicImage::ImageRgba8(img))
        })
        .clone()
}

fn transform(src: &[u8]) -> Result<stowage::images::Output, stowage::images::EngineError> {
    use_decoder();
    let params = stowage::images::Params::default();
    stowage::images::transform(
        src,
        &params,
        stowage::images::Format::Png,
        100_000_000,
        None,
    )
}

fn clean(r: &Result<stowage::images::Output, stowage::images::EngineError>) -> bool {
    use stowage::images::EngineError;
    matches!(
        r,
        Ok(_) | Err(EngineError::Invalid(_) | EngineError::Unsupported(_))
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A valid AVIF cut anywhere: an unreadable image, never a crash.
    #[test]
    fn truncated_avif_fails_cleanly(cut in 0.0f64..1.0) {
        let src = sample();
        let r = transform(&src[..(src.len() as f64 * cut) as usize]);
        prop_assert!(clean(&r), "{:?}", r.err());
    }

    /// Random bytes in place of the AV1 data after a valid container
    /// header, or scattered over the file. Such bytes made rav1d panic
    /// inside an `extern "C"` function, which aborts its process: here the
    /// decoder process, so the answer is an error like any corrupt image.
    #[test]
    fn random_bytes_after_a_valid_header_fail_cleanly(
        junk in proptest::collection::vec(any::<u8>(), 1..2048),
        at in 0.0f64..1.0,
        scatter in any::<bool>(),
    ) {
        let mut src = sample();
        let data = src.windows(4).position(|w| w == b"mdat").unwrap() + 4;
        if scatter {
            for (i, b) in junk.iter().enumerate() {
                let k = ((at * src.len() as f64) as usize + i * 7919) % src.len();
                src[k] ^= b | 1;
            }
        } else {
            src.truncate(data + ((src.len() - data) as f64 * at) as usize);
            src.extend_from_slice(&junk);
        }
        let r = transform(&src);
        prop_assert!(clean(&r), "{:?}", r.err());
    }
}
