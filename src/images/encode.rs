//! Encoders. None of them writes EXIF, XMP or ICC data: only pixels go in.
//!
//! - JPEG: `image`'s encoder (baseline, JFIF header only), quality `q`.
//! - PNG: `image`'s encoder (the `png` crate), default compression.
//! - WebP: `webp` (safe wrapper over libwebp, compiled by `libwebp-sys` from
//!   the C source it bundles: no system library), lossy, quality `q`.
//!   `image`'s own WebP encoder is lossless only.
//! - AVIF: `image`'s encoder over `ravif`/rav1e (pure Rust, built without
//!   the nasm assembly), speed 8, quality `q`.

use super::{EngineError, Format};
use image::{ExtendedColorType, ImageEncoder, RgbImage, RgbaImage};

/// rav1e speed for AVIF (1 slowest … 10 fastest).
pub const AVIF_SPEED: u8 = 8;
/// libwebp's largest side.
pub const WEBP_MAX_SIDE: u32 = 16383;

/// 8-bit sRGB pixels, with or without alpha.
pub(crate) enum Pixels {
    Rgb(RgbImage),
    Rgba(RgbaImage),
}

impl Pixels {
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Pixels::Rgb(i) => i.dimensions(),
            Pixels::Rgba(i) => i.dimensions(),
        }
    }

    fn raw(&self) -> (&[u8], ExtendedColorType) {
        match self {
            Pixels::Rgb(i) => (i.as_raw(), ExtendedColorType::Rgb8),
            Pixels::Rgba(i) => (i.as_raw(), ExtendedColorType::Rgba8),
        }
    }
}

pub(crate) fn encode(px: &Pixels, format: Format, q: u8) -> Result<Vec<u8>, EngineError> {
    let (w, h) = px.dimensions();
    let (data, color) = px.raw();
    let mut out = Vec::new();
    let fail =
        |e: &dyn std::fmt::Display| EngineError::Internal(format!("{} encoder: {e}", format.ext()));
    match format {
        Format::Jpeg => {
            let rgb;
            let (data, color) = match px {
                Pixels::Rgb(_) => (data, color),
                Pixels::Rgba(i) => {
                    rgb = image::DynamicImage::ImageRgba8(i.clone()).into_rgb8();
                    (rgb.as_raw().as_slice(), ExtendedColorType::Rgb8)
                }
            };
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
                .write_image(data, w, h, color)
                .map_err(|e| fail(&e))?;
        }
        Format::Png => {
            image::codecs::png::PngEncoder::new(&mut out)
                .write_image(data, w, h, color)
                .map_err(|e| fail(&e))?;
        }
        Format::WebP => return webp(px, q),
        Format::Avif => {
            image::codecs::avif::AvifEncoder::new_with_speed_quality(&mut out, AVIF_SPEED, q)
                .write_image(data, w, h, color)
                .map_err(|e| fail(&e))?;
        }
        other => return Err(fail(&format!("{} is not an output format", other.ext()))),
    }
    Ok(out)
}

fn webp(px: &Pixels, q: u8) -> Result<Vec<u8>, EngineError> {
    let (w, h) = px.dimensions();
    if w > WEBP_MAX_SIDE || h > WEBP_MAX_SIDE {
        return Err(EngineError::Invalid(format!(
            "WebP images are at most {WEBP_MAX_SIDE} px a side; this one is {w}×{h}: ask for a smaller w/h"
        )));
    }
    let encoder = match px {
        Pixels::Rgb(i) => webp::Encoder::from_rgb(i.as_raw(), w, h),
        Pixels::Rgba(i) => webp::Encoder::from_rgba(i.as_raw(), w, h),
    };
    let mem = encoder
        .encode_simple(false, f32::from(q))
        .map_err(|e| EngineError::Internal(format!("webp encoder: {e:?}")))?;
    Ok(mem.to_vec())
}
