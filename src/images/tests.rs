//! Engine tests on images made here with `image`'s encoders.

use super::*;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use std::io::Cursor;

const LIMIT: u64 = 100_000_000;
const RED: [u8; 3] = [255, 0, 0];
const BLUE: [u8; 3] = [0, 0, 255];

/// Left half red, right half blue.
fn halves(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, _| Rgb(if x < w / 2 { RED } else { BLUE }))
}

fn encoded(img: &DynamicImage, f: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, f).unwrap();
    out.into_inner()
}

fn run(src: &[u8], query: &str, out: Format) -> Output {
    transform(src, &parse_query(query).unwrap(), out, LIMIT, None).unwrap()
}

fn decode(o: &Output) -> DynamicImage {
    let img = image::load_from_memory(&o.bytes).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (o.width, o.height),
        "{:?}",
        o.format
    );
    img
}

fn near(p: [u8; 3], want: [u8; 3]) -> bool {
    p.iter().zip(want).all(|(a, b)| a.abs_diff(b) < 40)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A JPEG with an EXIF APP1 segment: orientation 6 (rotate 90° clockwise to
/// display) and a GPS IFD pointer, inserted right after SOI.
fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let jpeg = encoded(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Jpeg);
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes()); // two entries
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]); // GPS IFD
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// AVIF's `ispe` (image spatial extent) box: width and height.
fn avif_size(bytes: &[u8]) -> (u32, u32) {
    let i = bytes
        .windows(4)
        .position(|w| w == b"ispe")
        .expect("ispe box");
    let n = |o: usize| u32::from_be_bytes(bytes[i + o..i + o + 4].try_into().unwrap());
    (n(8), n(12))
}

#[test]
fn fit_modes_give_expected_sizes() {
    let src = encoded(&DynamicImage::ImageRgb8(halves(400, 200)), ImageFormat::Png);
    let size = |q: &str| {
        let o = run(&src, q, Format::Png);
        decode(&o);
        (o.width, o.height)
    };
    assert_eq!(size("w=100&h=100"), (100, 50));
    assert_eq!(size("w=100&h=100&fit=max"), (100, 50));
    assert_eq!(size("w=1000&h=1000"), (400, 200), "max never enlarges");
    assert_eq!(size("w=100&h=100&fit=crop"), (100, 100));
    assert_eq!(size("w=100&h=100&fit=pad"), (100, 100));
    assert_eq!(size("w=100&h=100&fit=stretch"), (100, 100));
    assert_eq!(size("w=100"), (100, 50));
    assert_eq!(size("h=50&fit=crop"), (100, 50));
    assert_eq!(size(""), (400, 200));
}

#[test]
fn crop_fit_is_centred_and_pad_uses_background() {
    // 400×200, red | blue: a centred 100×100 cover crop keeps both halves.
    let src = encoded(&DynamicImage::ImageRgb8(halves(400, 200)), ImageFormat::Png);
    let crop = decode(&run(&src, "w=100&h=100&fit=crop", Format::Png)).into_rgb8();
    assert!(near(crop.get_pixel(5, 50).0, RED) && near(crop.get_pixel(94, 50).0, BLUE));

    let pad = decode(&run(&src, "w=100&h=100&fit=pad", Format::Png)).into_rgba8();
    assert_eq!(
        pad.get_pixel(50, 2).0[3],
        0,
        "transparent band by default in PNG"
    );
    assert_eq!(pad.get_pixel(10, 50).0[3], 255);
    let jpg = decode(&run(&src, "w=100&h=100&fit=pad", Format::Jpeg)).into_rgb8();
    assert!(
        near(jpg.get_pixel(50, 2).0, [255, 255, 255]),
        "white band in JPEG"
    );
    let yellow = decode(&run(&src, "w=100&h=100&fit=pad&bg=%23ffff00", Format::Png)).into_rgba8();
    assert_eq!(yellow.get_pixel(50, 2).0, [255, 255, 0, 255]);
}

#[test]
fn exif_orientation_is_applied_and_stripped() {
    let src = jpeg_with_orientation(&halves(80, 40), 6);
    assert!(contains(&src, b"Exif"));
    assert_eq!(
        probe(&src).unwrap(),
        Probe {
            format: Format::Jpeg,
            width: 80,
            height: 40
        }
    );
    for f in [Format::Jpeg, Format::Png, Format::WebP] {
        let out = run(&src, "", f);
        assert_eq!((out.width, out.height), (40, 80), "{f:?} rotated");
        assert!(!contains(&out.bytes, b"Exif"), "{f:?} carries EXIF");
        let img = decode(&out).into_rgb8();
        // Rotating 90° clockwise brings the left (red) half to the top.
        assert!(
            near(img.get_pixel(20, 5).0, RED),
            "{f:?} top {:?}",
            img.get_pixel(20, 5)
        );
        assert!(near(img.get_pixel(20, 74).0, BLUE), "{f:?} bottom");
    }
    let avif = run(&src, "w=20", Format::Avif);
    assert_eq!(avif_size(&avif.bytes), (20, 40));
    assert!(!contains(&avif.bytes, b"Exif"));
}

#[test]
fn png_alpha_is_kept_in_png_and_webp() {
    let img = RgbaImage::from_fn(64, 64, |x, _| {
        Rgba(if x < 32 {
            [0, 200, 0, 0]
        } else {
            [0, 200, 0, 255]
        })
    });
    let src = encoded(&DynamicImage::ImageRgba8(img), ImageFormat::Png);
    for f in [Format::Png, Format::WebP] {
        let out = run(&src, "w=32", f);
        let back = decode(&out);
        assert!(back.color().has_alpha(), "{f:?} lost alpha");
        let px = back.into_rgba8();
        assert!(
            px.get_pixel(2, 10).0[3] < 10,
            "{f:?} left should be transparent"
        );
        assert!(
            px.get_pixel(30, 10).0[3] > 245,
            "{f:?} right should be opaque"
        );
    }
    // JPEG has no alpha: transparent areas become white, not black.
    let jpg = decode(&run(&src, "w=32", Format::Jpeg)).into_rgb8();
    assert!(near(jpg.get_pixel(2, 10).0, [255, 255, 255]));
}

#[test]
fn animated_gif_gives_first_frame() {
    use image::codecs::gif::{GifEncoder, Repeat};
    let frame = |c: [u8; 4]| image::Frame::new(RgbaImage::from_pixel(30, 20, Rgba(c)));
    let mut gif = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut gif);
        enc.set_repeat(Repeat::Infinite).unwrap();
        enc.encode_frames([frame([255, 0, 0, 255]), frame([0, 0, 255, 255])])
            .unwrap();
    }
    assert_eq!(probe(&gif).unwrap().format, Format::Gif);
    let (out_fmt, _) = choose_format(&Params::default(), Format::Gif, Some("*/*"));
    assert_eq!(out_fmt, Format::Png);
    let out = run(&gif, "", out_fmt);
    let img = decode(&out).into_rgb8();
    assert_eq!(img.dimensions(), (30, 20));
    assert!(
        near(img.get_pixel(15, 10).0, RED),
        "{:?}",
        img.get_pixel(15, 10)
    );
}

#[test]
fn decompression_bomb_is_refused_from_the_header() {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = 60000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&60000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut png, b"IEND", &[]);
    assert_eq!(probe(&png).unwrap().width, 60000);
    let start = std::time::Instant::now();
    match transform(&png, &Params::default(), Format::Png, LIMIT, None) {
        Err(EngineError::TooLarge { pixels, limit }) => {
            assert_eq!((pixels, limit), (3_600_000_000, LIMIT));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(start.elapsed().as_millis() < 500);
    // Within the pixel limit the decoder still fails cleanly, never panics.
    let err = transform(&png, &Params::default(), Format::Png, u64::MAX, None).unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)), "{err:?}");
}

#[test]
fn non_images_are_unsupported() {
    let samples: [&[u8]; 5] = [
        b"%PDF-1.7\n1 0 obj << >> endobj",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>",
        b"hello, world\n",
        b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom",
        b"",
    ];
    for s in samples {
        assert!(
            matches!(probe(s), Err(EngineError::Unsupported(_))),
            "{s:?}"
        );
        let r = transform(s, &Params::default(), Format::Png, LIMIT, None);
        assert!(matches!(r, Err(EngineError::Unsupported(_))), "{s:?}");
    }
}

#[test]
fn every_output_format_round_trips() {
    let src = encoded(&DynamicImage::ImageRgb8(halves(120, 90)), ImageFormat::Png);
    for f in [Format::Jpeg, Format::Png, Format::WebP] {
        let out = run(&src, "w=60", f);
        assert_eq!(out.format, f);
        assert_eq!(
            image::guess_format(&out.bytes).unwrap(),
            probe::image_format(f)
        );
        let img = decode(&out);
        assert_eq!((img.width(), img.height()), (60, 45));
        assert!(near(img.to_rgb8().get_pixel(5, 20).0, RED), "{f:?}");
    }
    let avif = run(&src, "w=60", Format::Avif);
    assert_eq!(&avif.bytes[4..12], b"ftypavif");
    assert_eq!(avif_size(&avif.bytes), (60, 45));
}

#[test]
fn other_sources_decode() {
    let img = DynamicImage::ImageRgb8(halves(50, 30));
    for f in [
        ImageFormat::Bmp,
        ImageFormat::Tiff,
        ImageFormat::Jpeg,
        ImageFormat::WebP,
    ] {
        let src = encoded(&img, f);
        let p = probe(&src).unwrap();
        assert_eq!((p.width, p.height), (50, 30), "{f:?}");
        let out = run(&src, "w=25", Format::Png);
        assert_eq!((out.width, out.height), (25, 15), "{f:?}");
    }
    // 16-bit sources come out as 8-bit.
    let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_pixel(
        10,
        10,
        Rgb([65535u16, 0, 0]),
    ));
    let out = run(&encoded(&deep, ImageFormat::Png), "", Format::Png);
    assert_eq!(decode(&out).color(), image::ColorType::Rgb8);
}

#[test]
fn quality_changes_lossy_output() {
    let noise = RgbImage::from_fn(128, 128, |x, y| {
        Rgb([((x * 7) ^ (y * 13)) as u8, (x * y) as u8, (x + y * 3) as u8])
    });
    let src = encoded(&DynamicImage::ImageRgb8(noise), ImageFormat::Png);
    for f in [Format::Jpeg, Format::WebP] {
        let low = run(&src, "q=10", f).bytes.len();
        let high = run(&src, "q=95", f).bytes.len();
        assert!(low * 2 < high, "{f:?}: q=10 {low} B, q=95 {high} B");
    }
}

#[test]
fn crop_rectangle_is_cut_after_orientation() {
    // 80×40 stored, displayed 40×80 (red top, blue bottom): the bottom half
    // of the displayed image is blue.
    let src = jpeg_with_orientation(&halves(80, 40), 6);
    let spec = parse_crop(
        br#"{"inputPath":"a.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":0,"y":45},"size":{"width":40,"height":30,"type":"widthxheight!"}},"type":"crop"}]}}"#,
    )
    .unwrap();
    let out = transform(
        &src,
        &Params::default(),
        Format::Png,
        LIMIT,
        Some(spec.rect()),
    )
    .unwrap();
    assert_eq!((out.width, out.height), (40, 30));
    let img = decode(&out).into_rgb8();
    assert!(near(img.get_pixel(20, 15).0, BLUE));
    // Then the query applies to the cut.
    let half = transform(
        &src,
        &parse_query("w=20").unwrap(),
        Format::Png,
        LIMIT,
        Some(spec.rect()),
    )
    .unwrap();
    assert_eq!((half.width, half.height), (20, 15));
    // A rectangle running past the edge is clamped; one outside is refused.
    let r = Rect {
        x: 30,
        y: 70,
        width: 100,
        height: 100,
    };
    let clamped = transform(&src, &Params::default(), Format::Png, LIMIT, Some(r)).unwrap();
    assert_eq!((clamped.width, clamped.height), (10, 10));
    let r = Rect {
        x: 40,
        y: 0,
        width: 5,
        height: 5,
    };
    let err = transform(&src, &Params::default(), Format::Png, LIMIT, Some(r)).unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)));
}

#[test]
fn pixel_limit_applies_to_real_images() {
    let src = encoded(&DynamicImage::ImageRgb8(halves(100, 100)), ImageFormat::Png);
    let err = transform(&src, &Params::default(), Format::Png, 9_999, None).unwrap_err();
    assert!(matches!(
        err,
        EngineError::TooLarge {
            pixels: 10_000,
            limit: 9_999
        }
    ));
    assert!(transform(&src, &Params::default(), Format::Png, 10_000, None).is_ok());
}

#[test]
fn icc_profile_is_converted_to_srgb_and_stripped() {
    use image::ImageEncoder;
    let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
    let img = RgbImage::from_pixel(16, 16, Rgb([200, 100, 100]));
    let mut src = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new(&mut src);
    enc.set_icc_profile(p3).unwrap();
    enc.write_image(img.as_raw(), 16, 16, image::ExtendedColorType::Rgb8)
        .unwrap();
    assert!(contains(&src, b"iCCP"));
    let out = run(&src, "", Format::Png);
    assert!(
        !contains(&out.bytes, b"iCCP"),
        "ICC profile left in the output"
    );
    let px = decode(&out).into_rgb8().get_pixel(8, 8).0;
    // P3 (200,100,100) is a more saturated red than sRGB (200,100,100).
    assert!(px[0] > 208 && px[1] < 95, "{px:?}");
}

#[test]
fn shrink_on_load_gives_the_full_decode_sizes_and_orientation() {
    // 1603×1201 (odd sizes), rotated by EXIF: shrunk decodes (1/2 … 1/8) must
    // give exactly the sizes of the full decode, upright, colours in place.
    let src = jpeg_with_orientation(&halves(1603, 1201), 6);
    let full = |q: &str| {
        let p = parse_query(q).unwrap();
        let (img, _) = engine::decode(&src, &probe(&src).unwrap()).unwrap();
        let plan = engine::plan(img.width(), img.height(), p.w, p.h, p.fit_or_default());
        plan.canvas.unwrap_or(plan.size)
    };
    for q in [
        "w=100",
        "h=150",
        "w=300&h=300",
        "w=120&h=120&fit=crop",
        "w=200&h=90&fit=pad",
        "w=50&h=400&fit=stretch",
        "w=700",
    ] {
        let out = run(&src, q, Format::Png);
        assert_eq!((out.width, out.height), full(q), "{q}");
    }
    let img = decode(&run(&src, "w=100", Format::Png)).into_rgb8();
    assert_eq!(img.dimensions(), (100, 133));
    assert!(
        near(img.get_pixel(50, 5).0, RED),
        "top {:?}",
        img.get_pixel(50, 5)
    );
    assert!(near(img.get_pixel(50, 127).0, BLUE), "bottom");
}
