//! Shrink-on-load for JPEG: when the output is at least 4× smaller than the
//! source, decode at 1/2, 1/4 or 1/8 scale in the DCT domain (jpeg-decoder's
//! `scale`, the same trick as libjpeg-turbo's `scale_num/scale_denom` that
//! libvips and imgproxy use), then resize the small image with Lanczos3.
//! The scaled decode keeps at least twice the output's pixels per side, so the
//! final filter still has detail to work with; the output's size is the one
//! the full decode would give (the plan is made on the full dimensions).
//!
//! Anything the fast path does not cover (CMYK and 16-bit JPEGs, crops of the
//! widget, a shrink under 4×, a header jpeg-decoder refuses) returns `None` and
//! goes through the normal decoder, which also words the errors.

use super::engine::Plan;
use super::{EngineError, Format};
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, RgbImage};
use jpeg_decoder::{Decoder, PixelFormat};
use std::io::Cursor;

/// A source decoded at reduced scale, oriented, with the plan rescaled to it.
pub(crate) struct Shrunk {
    pub img: DynamicImage,
    pub icc: Option<Vec<u8>>,
    pub plan: Plan,
}

/// Decodes the JPEG `src` shrunk for the plan `plan_for(oriented w, h)`
/// makes, or `None` when the fast path does not apply. The caller has checked
/// the format and the pixel limit from the header.
pub(crate) fn jpeg(
    src: &[u8],
    format: Format,
    plan_for: impl Fn(u32, u32) -> Plan,
) -> Result<Option<Shrunk>, EngineError> {
    if format != Format::Jpeg {
        return Ok(None);
    }
    let mut dec = Decoder::new(Cursor::new(src));
    let Some(info) = dec.read_info().ok().and_then(|()| dec.info()) else {
        return Ok(None);
    };
    if !matches!(info.pixel_format, PixelFormat::RGB24 | PixelFormat::L8) {
        return Ok(None);
    }
    let orientation = dec
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let (ow, oh) = if swaps_sides(orientation) {
        (h, w)
    } else {
        (w, h)
    };
    let plan = plan_for(ow, oh);
    let Some(factor) = factor(&plan, ow, oh) else {
        return Ok(None);
    };
    let req = |v: u32| u16::try_from(v.div_ceil(factor)).unwrap_or(u16::MAX);
    let corrupt =
        |e: jpeg_decoder::Error| EngineError::Invalid(format!("cannot decode the jpg: {e}"));
    let (sw, sh) = dec.scale(req(w), req(h)).map_err(corrupt)?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    dec.set_max_decoding_buffer_size((sw as usize * sh as usize * 3).max(1 << 20));
    let pixels = dec.decode().map_err(corrupt)?;
    let short = || EngineError::Invalid("the jpg ended before its last pixel".into());
    let mut img = match info.pixel_format {
        PixelFormat::RGB24 => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(sw, sh, pixels).ok_or_else(short)?)
        }
        _ => DynamicImage::ImageLuma8(GrayImage::from_raw(sw, sh, pixels).ok_or_else(short)?),
    };
    img.apply_orientation(orientation);
    let (fx, fy) = (
        f64::from(img.width()) / f64::from(ow),
        f64::from(img.height()) / f64::from(oh),
    );
    let plan = Plan {
        src: plan
            .src
            .map(|(l, t, cw, ch)| (l * fx, t * fy, cw * fx, ch * fy)),
        ..plan
    };
    Ok(Some(Shrunk {
        img,
        icc: dec.icc_profile(),
        plan,
    }))
}

/// The largest of 8, 4, 2 that keeps ≥ 2× the output's pixels per side of
/// the region the plan reads; `None` below a 4× shrink.
fn factor(plan: &Plan, ow: u32, oh: u32) -> Option<u32> {
    let (rw, rh) = match plan.src {
        Some((_, _, cw, ch)) => (cw, ch),
        None => (f64::from(ow), f64::from(oh)),
    };
    let ratio = (rw / f64::from(plan.size.0.max(1))).min(rh / f64::from(plan.size.1.max(1)));
    [8u32, 4, 2]
        .into_iter()
        .find(|f| f64::from(*f) * 2.0 <= ratio)
}

fn swaps_sides(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(size: (u32, u32), src: Option<(f64, f64, f64, f64)>) -> Plan {
        Plan {
            size,
            src,
            canvas: None,
        }
    }

    #[test]
    fn factors() {
        assert_eq!(factor(&plan((400, 300), None), 4000, 3000), Some(4));
        assert_eq!(factor(&plan((200, 150), None), 4000, 3000), Some(8));
        assert_eq!(factor(&plan((1000, 750), None), 4000, 3000), Some(2));
        assert_eq!(factor(&plan((2000, 1500), None), 4000, 3000), None);
        // fit=crop reads a centred region: the shrink is measured on it.
        let crop = plan((400, 400), Some((500.0, 0.0, 3000.0, 3000.0)));
        assert_eq!(factor(&crop, 4000, 3000), Some(2));
    }

    #[test]
    fn decodes_shrunk() {
        let img =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(1600, 1200, image::Rgb([10, 200, 30])));
        let mut jpg = Cursor::new(Vec::new());
        img.write_to(&mut jpg, image::ImageFormat::Jpeg).unwrap();
        let src = jpg.into_inner();
        let plan_for =
            |w, h| super::super::engine::plan(w, h, Some(100), None, super::super::Fit::Max);
        let s = jpeg(&src, Format::Jpeg, plan_for)
            .unwrap()
            .expect("fast path");
        assert_eq!((s.img.width(), s.img.height()), (200, 150), "1/8 scale");
        assert_eq!(s.plan.size, (100, 75));
        assert!(jpeg(&src, Format::Png, plan_for).unwrap().is_none());
        let big = |w, h| super::super::engine::plan(w, h, Some(1000), None, super::super::Fit::Max);
        assert!(
            jpeg(&src, Format::Jpeg, big).unwrap().is_none(),
            "under 4×: full decode"
        );
    }
}
