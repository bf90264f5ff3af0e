//! Decode (bounded), orient, crop, resize, pad, encode.

use super::encode::{encode, Pixels};
use super::probe::{image_format, probe};
use super::shrink;
use super::{default_bg, EngineError, Fit, Format, Params};
use fast_image_resize as fr;
use image::{DynamicImage, ImageDecoder, RgbaImage};
use std::io::Cursor;

/// A rectangle in pixels of the oriented source image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// An encoded result: 8-bit sRGB pixels, no EXIF, XMP or ICC metadata.
#[derive(Clone, Debug)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// Room for the decoder's working buffers beyond the pixels themselves.
const ALLOC_SLACK: u64 = 64 << 20;

/// Largest AVIF output (4096×4096): rav1e's encode time grows with the
/// pixels (8192² took 72 s), so one encode stays within seconds.
pub const AVIF_MAX_PIXELS: u64 = 4096 * 4096;

/// The pixels of the output `params` ask of a `width`×`height` source (as
/// its header says), known before decoding: the fit's canvas, for either
/// EXIF orientation (the larger), or the widget's `crop` rectangle's.
pub fn output_pixels(width: u32, height: u32, params: &Params, crop: Option<Rect>) -> u64 {
    let fit = params.fit_or_default();
    let area = |(w, h): (u32, u32)| {
        let p = plan(w, h, params.w, params.h, fit);
        let (cw, ch) = p.canvas.unwrap_or(p.size);
        u64::from(cw) * u64::from(ch)
    };
    let sides = |w: u32, h: u32| match crop {
        Some(r) => (r.width.clamp(1, w.max(1)), r.height.clamp(1, h.max(1))),
        None => (w.max(1), h.max(1)),
    };
    area(sides(width, height)).max(area(sides(height, width)))
}

/// Transforms `src` into `out` (a format from [`super::choose_format`]).
///
/// The header is read first: more than `max_pixels` is `TooLarge` before any
/// pixel buffer exists, and the decoder runs under `image::Limits` set from
/// the header's size, so a file that lies about its size cannot allocate
/// more. Then EXIF orientation is applied, `crop` (the widget's `.crop`
/// rectangle, clamped to the image) is cut, and the fit is applied.
pub fn transform(
    src: &[u8],
    params: &Params,
    out: Format,
    max_pixels: u64,
    crop: Option<Rect>,
) -> Result<Output, EngineError> {
    if !out.is_output() {
        return Err(EngineError::Internal(format!(
            "{} is not an output format",
            out.ext()
        )));
    }
    let fit = params.fit_or_default();
    let plan_for = |w, h| plan(w, h, params.w, params.h, fit);
    let head = probe(src)?;
    check_pixels(&head, max_pixels)?;
    let shrunk = match crop {
        None => shrink::jpeg(src, head.format, plan_for)?,
        Some(_) => None,
    };
    let (img, icc, plan) = match shrunk {
        Some(s) => (s.img, s.icc, s.plan),
        None => {
            let (img, icc) = decode(src, &head)?;
            let img = match crop {
                Some(r) => cut(img, r)?,
                None => img,
            };
            let plan = plan_for(img.width(), img.height());
            (img, icc, plan)
        }
    };
    let (cw, ch) = plan.canvas.unwrap_or(plan.size);
    let out_pixels = u64::from(cw) * u64::from(ch);
    if out == Format::Avif && out_pixels > AVIF_MAX_PIXELS {
        return Err(EngineError::OutputTooLarge {
            format: out,
            pixels: out_pixels,
            limit: AVIF_MAX_PIXELS,
        });
    }
    let bg = params.bg.unwrap_or(default_bg(out));
    let keep_alpha =
        out.has_alpha() && (img.color().has_alpha() || (plan.canvas.is_some() && bg[3] < 255));
    let opaque = !img.color().has_alpha();
    let pixels = to_srgb(resize(img, &plan)?, icc.as_deref());
    let pixels = match plan.canvas {
        Some((w, h)) => pad(pixels, w, h, bg, opaque),
        None => pixels,
    };
    let pixels = if keep_alpha {
        Pixels::Rgba(pixels)
    } else {
        Pixels::Rgb(flatten(pixels, bg))
    };
    let (width, height) = pixels.dimensions();
    let bytes = encode(&pixels, out, params.quality())?;
    Ok(Output {
        bytes,
        format: out,
        width,
        height,
    })
}

/// Bounded decode (the header `head` already read and within the limit),
/// EXIF orientation. Returns the embedded ICC profile too, if any.
pub(crate) fn decode(
    src: &[u8],
    head: &super::Probe,
) -> Result<(DynamicImage, Option<Vec<u8>>), EngineError> {
    if head.format == Format::Avif {
        return Ok((super::avif_proc::decode(src, head.pixels())?, None));
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(src), image_format(head.format));
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(head.width);
    limits.max_image_height = Some(head.height);
    limits.max_alloc = Some(head.pixels().saturating_mul(8).saturating_add(ALLOC_SLACK));
    reader.limits(limits);
    let ext = head.format.ext();
    let corrupt = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => EngineError::Invalid(format!(
            "the {ext} needs more memory than its size allows: {l}"
        )),
        e => EngineError::Invalid(format!("cannot decode the {ext}: {e}")),
    };
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut img = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    Ok((img, icc))
}

fn check_pixels(head: &super::Probe, max_pixels: u64) -> Result<(), EngineError> {
    if head.pixels() > max_pixels {
        return Err(EngineError::TooLarge {
            pixels: head.pixels(),
            limit: max_pixels,
        });
    }
    Ok(())
}

/// Converts pixels described by an embedded ICC profile (Display P3 from
/// phones, Adobe RGB from cameras) to sRGB with moxcms, since the outputs
/// carry no profile. Done after the resize, on the small image. A profile
/// that cannot be read or does not describe RGB (gray, CMYK) leaves the
/// pixels as they are, read as sRGB.
fn to_srgb(img: RgbaImage, icc: Option<&[u8]>) -> RgbaImage {
    use moxcms::{ColorProfile, Layout, TransformOptions};
    let Some(profile) = icc.and_then(|b| ColorProfile::new_from_slice(b).ok()) else {
        return img;
    };
    let srgb = ColorProfile::new_srgb();
    let opts = TransformOptions::default();
    let Ok(t) = profile.create_transform_8bit(Layout::Rgba, &srgb, Layout::Rgba, opts) else {
        return img;
    };
    let mut out = vec![0u8; img.as_raw().len()];
    if t.transform(img.as_raw(), &mut out).is_err() {
        return img;
    }
    let (w, h) = img.dimensions();
    RgbaImage::from_raw(w, h, out).unwrap_or(img)
}

/// Cuts `r` (clamped to the image) out of `img`.
fn cut(img: DynamicImage, r: Rect) -> Result<DynamicImage, EngineError> {
    let (w, h) = (img.width(), img.height());
    if r.x >= w || r.y >= h {
        return Err(EngineError::Invalid(format!(
            "crop at {},{} lies outside the {w}×{h} image",
            r.x, r.y
        )));
    }
    let cw = r.width.min(w - r.x).max(1);
    let ch = r.height.min(h - r.y).max(1);
    if (r.x, r.y, cw, ch) == (0, 0, w, h) {
        return Ok(img);
    }
    Ok(img.crop_imm(r.x, r.y, cw, ch))
}

/// What to do with a `sw`×`sh` image: resize (a `src` region) to `size`,
/// then optionally centre it on a `canvas`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    pub size: (u32, u32),
    /// Source region (left, top, width, height) for `fit=crop`.
    pub src: Option<(f64, f64, f64, f64)>,
    pub canvas: Option<(u32, u32)>,
}

fn scaled(v: u32, scale: f64) -> u32 {
    ((f64::from(v) * scale).round() as u32).clamp(1, super::MAX_SIDE.max(v))
}

/// The geometry of each fit. With only `w` or only `h` the aspect ratio is
/// kept (for every fit); `max` never enlarges, `crop`, `pad` and `stretch`
/// do (they promise exactly w×h).
pub(crate) fn plan(sw: u32, sh: u32, w: Option<u32>, h: Option<u32>, fit: Fit) -> Plan {
    let keep = |size| Plan {
        size,
        src: None,
        canvas: None,
    };
    let (w, h) = match (w, h) {
        (None, None) => return keep((sw, sh)),
        (Some(w), None) => {
            let scale = f64::from(w) / f64::from(sw);
            if fit == Fit::Max && scale >= 1.0 {
                return keep((sw, sh));
            }
            return keep((w, scaled(sh, scale)));
        }
        (None, Some(h)) => {
            let scale = f64::from(h) / f64::from(sh);
            if fit == Fit::Max && scale >= 1.0 {
                return keep((sw, sh));
            }
            return keep((scaled(sw, scale), h));
        }
        (Some(w), Some(h)) => (w, h),
    };
    let (sx, sy) = (f64::from(w) / f64::from(sw), f64::from(h) / f64::from(sh));
    match fit {
        Fit::Stretch => keep((w, h)),
        Fit::Max => {
            let s = sx.min(sy).min(1.0);
            keep((scaled(sw, s).min(w), scaled(sh, s).min(h)))
        }
        Fit::Pad => {
            let s = sx.min(sy);
            let size = (scaled(sw, s).min(w), scaled(sh, s).min(h));
            Plan {
                size,
                src: None,
                canvas: Some((w, h)),
            }
        }
        Fit::Crop => {
            let s = sx.max(sy);
            let (cw, ch) = (
                (f64::from(w) / s).min(f64::from(sw)),
                (f64::from(h) / s).min(f64::from(sh)),
            );
            let src = (
                (f64::from(sw) - cw) / 2.0,
                (f64::from(sh) - ch) / 2.0,
                cw,
                ch,
            );
            Plan {
                size: (w, h),
                src: Some(src),
                canvas: None,
            }
        }
    }
}

/// Converts to 8-bit RGBA and resizes per `plan` with fast_image_resize:
/// Lanczos3 when shrinking, Catmull-Rom when enlarging, alpha-weighted.
fn resize(img: DynamicImage, plan: &Plan) -> Result<RgbaImage, EngineError> {
    let rgba = img.into_rgba8();
    let (sw, sh) = rgba.dimensions();
    if plan.size == (sw, sh) && plan.src.is_none() {
        return Ok(rgba);
    }
    let fail = |e: &dyn std::fmt::Display| EngineError::Internal(format!("resize: {e}"));
    let src = fr::images::Image::from_vec_u8(sw, sh, rgba.into_raw(), fr::PixelType::U8x4)
        .map_err(|e| fail(&e))?;
    let (dw, dh) = plan.size;
    let mut dst = fr::images::Image::new(dw, dh, fr::PixelType::U8x4);
    let shrinking = u64::from(dw) * u64::from(dh) < u64::from(sw) * u64::from(sh);
    let filter = if shrinking {
        fr::FilterType::Lanczos3
    } else {
        fr::FilterType::CatmullRom
    };
    let mut opts = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(filter));
    if let Some((l, t, w, h)) = plan.src {
        opts = opts.crop(l, t, w, h);
    }
    fr::Resizer::new()
        .resize(&src, &mut dst, &opts)
        .map_err(|e| fail(&e))?;
    RgbaImage::from_raw(dw, dh, dst.into_vec()).ok_or_else(|| fail(&"buffer size"))
}

/// Centres `img` on a `w`×`h` canvas filled with `bg`. When `img` already
/// fills the canvas it is composited over `bg` in place (nothing to do for
/// an `opaque` one): no second buffer of the output's size (a 1×1 source
/// padded to 8192² would need 256 MiB more).
fn pad(mut img: RgbaImage, w: u32, h: u32, bg: [u8; 4], opaque: bool) -> RgbaImage {
    if img.dimensions() == (w, h) {
        if bg[3] != 0 && !opaque {
            for p in img.pixels_mut() {
                *p = over(*p, bg);
            }
        }
        return img;
    }
    let mut canvas = RgbaImage::from_pixel(w, h, image::Rgba(bg));
    let x = (w - img.width().min(w)) / 2;
    let y = (h - img.height().min(h)) / 2;
    image::imageops::overlay(&mut canvas, &img, i64::from(x), i64::from(y));
    canvas
}

/// `top` over `under`, as `imageops::overlay` blends.
fn over(top: image::Rgba<u8>, under: [u8; 4]) -> image::Rgba<u8> {
    use image::Pixel;
    if top[3] == 255 {
        return top;
    }
    let mut p = image::Rgba(under);
    p.blend(&top);
    p
}

/// Drops alpha for outputs without it, compositing over `bg` (white unless
/// `bg` names an opaque colour) so transparent areas do not turn black.
/// Done in the RGBA buffer itself (each RGB triple written at or before the
/// pixel it came from), so no second output-sized buffer exists.
fn flatten(img: RgbaImage, bg: [u8; 4]) -> image::RgbImage {
    let under = if bg[3] == 255 {
        bg
    } else {
        [255, 255, 255, 255]
    };
    let (w, h) = img.dimensions();
    let mut buf = img.into_raw();
    let n = buf.len() / 4;
    for i in 0..n {
        let px = [buf[i * 4], buf[i * 4 + 1], buf[i * 4 + 2], buf[i * 4 + 3]];
        let a = u32::from(px[3]);
        for c in 0..3 {
            let v = u32::from(px[c]) * a + u32::from(under[c]) * (255 - a);
            buf[i * 3 + c] = ((v + 127) / 255) as u8;
        }
    }
    buf.truncate(n * 3);
    buf.shrink_to_fit();
    image::RgbImage::from_raw(w, h, buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_geometry() {
        let p = |w, h, fit| plan(1000, 500, w, h, fit);
        assert_eq!(p(Some(200), Some(200), Fit::Max).size, (200, 100));
        assert_eq!(p(Some(2000), Some(2000), Fit::Max).size, (1000, 500));
        assert_eq!(p(Some(2000), None, Fit::Max).size, (1000, 500));
        assert_eq!(p(None, Some(100), Fit::Max).size, (200, 100));
        assert_eq!(p(Some(300), None, Fit::Stretch).size, (300, 150));
        assert_eq!(p(Some(200), Some(200), Fit::Stretch).size, (200, 200));
        let pad = p(Some(200), Some(200), Fit::Pad);
        assert_eq!((pad.size, pad.canvas), ((200, 100), Some((200, 200))));
        let crop = p(Some(200), Some(200), Fit::Crop);
        assert_eq!(
            (crop.size, crop.src),
            ((200, 200), Some((250.0, 0.0, 500.0, 500.0)))
        );
        assert_eq!(p(None, None, Fit::Crop).size, (1000, 500));
    }
}
