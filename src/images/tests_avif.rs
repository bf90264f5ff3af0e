//! AVIF sources: files made here with `image`'s encoder (8-bit 4:4:4, with
//! and without alpha), `ravif` (10-bit, limited range, BT.709) and `rav1e`
//! directly (4:2:0), decoded through the pipeline, in this process. Hostile
//! files (truncated, random bytes after a valid header) can abort the
//! process that decodes them, so their property tests run against the
//! decoder process: `tests/it/images_avif.rs`.

use super::*;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use std::io::Cursor;

const LIMIT: u64 = 100_000_000;
const RED: [u8; 3] = [230, 20, 20];
const BLUE: [u8; 3] = [20, 20, 230];

fn halves(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, _| Rgb(if x < w / 2 { RED } else { BLUE }))
}

fn avif_of(img: &DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Avif).unwrap();
    out.into_inner()
}

fn to_png(src: &[u8], query: &str) -> RgbaImage {
    let out = transform(src, &parse_query(query).unwrap(), Format::Png, LIMIT, None).unwrap();
    let img = image::load_from_memory(&out.bytes).unwrap();
    assert_eq!((img.width(), img.height()), (out.width, out.height));
    img.into_rgba8()
}

fn near(p: &Rgba<u8>, want: [u8; 3]) -> bool {
    p.0[..3].iter().zip(want).all(|(a, b)| a.abs_diff(b) < 24)
}

#[test]
fn avif_probe_reads_the_size_from_the_header() {
    let src = avif_of(&DynamicImage::ImageRgb8(halves(120, 80)));
    let p = probe(&src).unwrap();
    assert_eq!((p.format, p.width, p.height), (Format::Avif, 120, 80));
    // The size is in the `meta` box, before the pixels: a short head will do.
    let head = &src[..src.windows(4).position(|w| w == b"mdat").unwrap()];
    assert_eq!(probe(head).unwrap(), p);
}

#[test]
fn avif_8_bit_round_trips() {
    let src = avif_of(&DynamicImage::ImageRgb8(halves(120, 80)));
    let img = to_png(&src, "w=60");
    assert_eq!(img.dimensions(), (60, 40));
    assert!(
        near(img.get_pixel(10, 20), RED),
        "{:?}",
        img.get_pixel(10, 20)
    );
    assert!(
        near(img.get_pixel(50, 20), BLUE),
        "{:?}",
        img.get_pixel(50, 20)
    );
    assert_eq!(img.get_pixel(10, 20).0[3], 255);
}

#[test]
fn avif_alpha_is_kept() {
    let rgba = RgbaImage::from_fn(64, 64, |x, _| {
        if x < 32 {
            Rgba([RED[0], RED[1], RED[2], 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let src = avif_of(&DynamicImage::ImageRgba8(rgba));
    let img = to_png(&src, "f=png");
    assert_eq!(img.dimensions(), (64, 64));
    assert!(near(img.get_pixel(8, 8), RED));
    assert!(img.get_pixel(8, 8).0[3] > 240);
    assert!(img.get_pixel(56, 8).0[3] < 16, "{:?}", img.get_pixel(56, 8));
}

#[test]
fn avif_10_bit_limited_range_bt709_round_trips() {
    let (w, h) = (48usize, 32usize);
    let img = halves(w as u32, h as u32);
    // BT.709, limited range, 10 bits: what a camera or ffmpeg would write.
    let planes = img.pixels().map(|p| {
        let [r, g, b] = p.0.map(|c| f32::from(c) / 255.0);
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let (cb, cr) = ((b - y) / 1.8556, (r - y) / 1.5748);
        let q = |v: f32, off: f32, span: f32| (off + v * span).round() as u16;
        [q(y, 64.0, 876.0), q(cb, 512.0, 896.0), q(cr, 512.0, 896.0)]
    });
    let enc = ravif::Encoder::new().with_quality(90.0).with_speed(10);
    let none: Option<[u16; 0]> = None;
    let src = enc
        .encode_raw_planes_10_bit(
            w,
            h,
            planes,
            none,
            ravif::PixelRange::Limited,
            ravif::MatrixCoefficients::BT709,
        )
        .unwrap()
        .avif_file;
    let out = to_png(&src, "f=png");
    assert_eq!(out.dimensions(), (48, 32));
    assert!(
        near(out.get_pixel(6, 16), RED),
        "{:?}",
        out.get_pixel(6, 16)
    );
    assert!(
        near(out.get_pixel(42, 16), BLUE),
        "{:?}",
        out.get_pixel(42, 16)
    );
}

/// A 4:2:0 AVIF (BT.601, full range) encoded with rav1e itself (`ravif`
/// writes only 4:4:4).
fn avif_420(img: &RgbImage) -> Vec<u8> {
    use rav1e::prelude::*;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let enc = EncoderConfig {
        width: w,
        height: h,
        chroma_sampling: ChromaSampling::Cs420,
        still_picture: true,
        quantizer: 40,
        speed_settings: SpeedSettings::from_preset(10),
        pixel_range: PixelRange::Full,
        color_description: Some(ColorDescription {
            color_primaries: ColorPrimaries::BT709,
            transfer_characteristics: TransferCharacteristics::SRGB,
            matrix_coefficients: MatrixCoefficients::BT601,
        }),
        ..Default::default()
    };
    let mut ctx: Context<u8> = Config::new()
        .with_encoder_config(enc)
        .with_threads(1)
        .new_context()
        .unwrap();
    let ycc = |p: &Rgb<u8>| {
        let [r, g, b] = p.0.map(f32::from);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        [y, 128.0 + (b - y) / 1.772, 128.0 + (r - y) / 1.402].map(|v| v.round() as u8)
    };
    let ys: Vec<u8> = img.pixels().map(|p| ycc(p)[0]).collect();
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let sub = |i: usize| -> Vec<u8> {
        (0..cw * ch)
            .map(|k| ycc(img.get_pixel((k % cw * 2) as u32, (k / cw * 2) as u32))[i])
            .collect()
    };
    let mut frame = ctx.new_frame();
    frame.planes[0].copy_from_raw_u8(&ys, w, 1);
    frame.planes[1].copy_from_raw_u8(&sub(1), cw, 1);
    frame.planes[2].copy_from_raw_u8(&sub(2), cw, 1);
    ctx.send_frame(frame).unwrap();
    ctx.flush();
    let mut obus = Vec::new();
    loop {
        match ctx.receive_packet() {
            Ok(mut p) => obus.append(&mut p.data),
            Err(EncoderStatus::Encoded) => continue,
            Err(_) => break,
        }
    }
    avif_serialize::Aviffy::new()
        .set_chroma_subsampling((true, true))
        .set_matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
        .set_full_color_range(true)
        .to_vec(&obus, None, w as u32, h as u32, 8)
}

#[test]
fn avif_420_round_trips() {
    let src = avif_420(&halves(65, 33));
    let out = to_png(&src, "f=png");
    assert_eq!(out.dimensions(), (65, 33));
    assert!(
        near(out.get_pixel(8, 16), RED),
        "{:?}",
        out.get_pixel(8, 16)
    );
    assert!(
        near(out.get_pixel(56, 16), BLUE),
        "{:?}",
        out.get_pixel(56, 16)
    );
}

#[test]
fn avif_frame_larger_than_its_header_is_refused() {
    // The decoder is told the header's size: a frame over it is not decoded.
    let src = avif_of(&DynamicImage::ImageRgb8(halves(64, 64)));
    let head = probe(&src).unwrap();
    let r = engine::decode(
        &src,
        &Probe {
            width: 16,
            height: 16,
            ..head
        },
    );
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{:?}", r.err());
}

/// `unsafe` is denied at the crate root and allowed on one module only.
#[test]
fn unsafe_is_allowed_only_for_the_av1_module() {
    fn walk(dir: &std::path::Path, hits: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, hits);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let marker = ["allow(", "unsafe_code)"].concat();
                for (i, line) in text.lines().enumerate() {
                    if line.contains(&marker) && !line.trim_start().starts_with("//") {
                        hits.push(format!("{}:{}", path.display(), i + 1));
                    }
                }
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut hits = Vec::new();
    walk(&src, &mut hits);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let text = std::fs::read_to_string(src.join("images/mod.rs")).unwrap();
    let at = text.find(&["#[allow(", "unsafe_code)]"].concat()).unwrap();
    assert!(text[at..].lines().nth(1) == Some("mod av1;"));
    let root = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(root.contains(&["#![deny(", "unsafe_code)]"].concat()));
}
