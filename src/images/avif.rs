//! AVIF sources (safe code only): the size from the container's `ispe`
//! property for the probe, then the whole file through `avif-parse` (the
//! colour and alpha items' AV1 data), each item decoded by [`super::av1`],
//! and the Y′CbCr picture converted to 8-bit RGB(A) for the pipeline.
//!
//! Conversion: the matrix and range come from the AV1 sequence header
//! (BT.601 when unspecified, as libavif does); 10- and 12-bit samples are
//! scaled to 8 bits; subsampled chroma (4:2:0, 4:2:2) is taken from the
//! nearest chroma sample; premultiplied alpha (`prem`) is divided out.
//! Not applied: the container's `irot`/`imir` (rotation, mirror) and `colr`
//! boxes, which `avif-parse` does not expose, and grid (tiled) images,
//! which it does not read (those answer 400, the image cannot be read).

use super::av1::{self, Layout, Picture, Plane};
use super::EngineError;
use image::{DynamicImage, RgbImage, RgbaImage};

/// The width and height from the `ispe` properties of the `meta` box in
/// `head` (the file's first bytes): the largest of each, so an alpha item or
/// thumbnail cannot make the budget smaller than the primary image.
pub(crate) fn dimensions(head: &[u8]) -> Result<(u32, u32), EngineError> {
    let missing = || {
        EngineError::Invalid(
            "cannot read the avif header: no image size (ispe) in its first bytes".into(),
        )
    };
    let meta = children(head)
        .find(|(t, _)| t == b"meta")
        .map(|(_, body)| body.get(4..).unwrap_or_default())
        .ok_or_else(missing)?;
    let ipco = children(meta)
        .filter(|(t, _)| t == b"iprp")
        .flat_map(|(_, iprp)| children(iprp))
        .find(|(t, _)| t == b"ipco")
        .map(|(_, b)| b)
        .ok_or_else(missing)?;
    let mut size: Option<(u32, u32)> = None;
    for (_, ispe) in children(ipco).filter(|(t, _)| t == b"ispe") {
        let (Some(w), Some(h)) = (be_u32(ispe, 4), be_u32(ispe, 8)) else {
            continue;
        };
        let (mw, mh) = size.unwrap_or((0, 0));
        size = Some((mw.max(w), mh.max(h)));
    }
    match size {
        Some((w, h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(missing()),
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// The boxes laid end to end in `data` (ISO/IEC 14496-12 §4.2): type and
/// body. Stops at the first box that does not fit (a truncated head).
fn children(data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let size = be_u32(rest, 0)? as usize;
        let kind: [u8; 4] = rest.get(4..8)?.try_into().ok()?;
        let (header, size) = match size {
            0 => (8, rest.len()),
            1 => {
                let large = u64::from(be_u32(rest, 8)?) << 32 | u64::from(be_u32(rest, 12)?);
                (16, usize::try_from(large).ok()?)
            }
            n => (8, n),
        };
        let body = rest.get(header..size)?;
        rest = &rest[size..];
        Some((kind, body))
    })
}

/// Decodes an AVIF file whose header promised at most `max_pixels`, in
/// this process: only the decoder process (`avif_proc`) and unit tests call
/// this.
pub(crate) fn decode_here(src: &[u8], max_pixels: u64) -> Result<DynamicImage, EngineError> {
    let avif = avif_parse::read_avif(&mut std::io::Cursor::new(src))
        .map_err(|e| EngineError::Invalid(format!("cannot read the avif: {e}")))?;
    let colour = av1::decode(&avif.primary_item, max_pixels)?;
    let alpha = match avif.alpha_item.as_deref() {
        Some(a) => Some(av1::decode(a, max_pixels)?),
        None => None,
    };
    let (w, h) = (colour.width(), colour.height());
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(EngineError::Invalid(format!(
            "the avif's frame ({w}×{h}) is larger than its header says"
        )));
    }
    if let Some(a) = &alpha {
        if (a.width(), a.height()) != (w, h) {
            return Err(EngineError::Invalid(
                "the avif's alpha channel does not match its image size".into(),
            ));
        }
    }
    let (w, h) = (w as usize, h as usize);
    match alpha {
        None => {
            let mut out = vec![0u8; w * h * 3];
            colour_to_rgb(&colour, &mut out, 3)?;
            RgbImage::from_raw(w as u32, h as u32, out)
                .map(DynamicImage::ImageRgb8)
                .ok_or_else(|| EngineError::Internal("avif: buffer size".into()))
        }
        Some(a) => {
            let mut out = vec![0u8; w * h * 4];
            colour_to_rgb(&colour, &mut out, 4)?;
            alpha_into(&a, &mut out)?;
            if avif.premultiplied_alpha {
                unpremultiply(&mut out);
            }
            RgbaImage::from_raw(w as u32, h as u32, out)
                .map(DynamicImage::ImageRgba8)
                .ok_or_else(|| EngineError::Internal("avif: buffer size".into()))
        }
    }
}

/// How samples map to [0, 1] (luma) and [-0.5, 0.5] (chroma).
#[derive(Clone, Copy)]
struct Range {
    y_off: f32,
    y_scale: f32,
    c_off: f32,
    c_scale: f32,
}

impl Range {
    fn new(depth: u8, full: bool) -> Range {
        let max = f32::from((1u16 << depth) - 1);
        let step = f32::from(1u16 << (depth - 8));
        if full {
            Range {
                y_off: 0.0,
                y_scale: 1.0 / max,
                c_off: f32::from(1u16 << (depth - 1)),
                c_scale: 1.0 / max,
            }
        } else {
            Range {
                y_off: 16.0 * step,
                y_scale: 1.0 / (219.0 * step),
                c_off: 128.0 * step,
                c_scale: 1.0 / (224.0 * step),
            }
        }
    }
}

/// Kr and Kb of a matrix code point; `None` for identity (GBR).
fn matrix(code: u32) -> Option<(f32, f32)> {
    Some(match code {
        0 => return None,
        1 => (0.2126, 0.0722),
        4 => (0.30, 0.11),
        7 => (0.212, 0.087),
        9 | 10 => (0.2627, 0.0593),
        _ => (0.299, 0.114),
    })
}

fn to_u8(v: f32) -> u8 {
    (v * 255.0 + 0.5).clamp(0.0, 255.0) as u8
}

/// Writes the colour picture as RGB into `out` (`channels` bytes a pixel).
fn colour_to_rgb(p: &Picture, out: &mut [u8], channels: usize) -> Result<(), EngineError> {
    let layout = p
        .layout()
        .ok_or_else(|| EngineError::Invalid("avif: no layout".into()))?;
    let (code, full) = p.colour();
    let range = Range::new(p.bit_depth(), full);
    let (sx, sy) = match layout {
        Layout::I420 => (1, 1),
        Layout::I422 => (1, 0),
        Layout::I400 | Layout::I444 => (0, 0),
    };
    let geometry = Geometry {
        width: p.width() as usize,
        sx,
        sy,
        channels,
    };
    let bad = || EngineError::Invalid("avif: planes do not match the picture".into());
    match (p.plane(0), p.plane(1), p.plane(2)) {
        (Some(Plane::U8 { data, stride }), u, v) => {
            let chroma = chroma_u8(u, v);
            convert(&geometry, (data, stride), chroma, range, matrix(code), out)
        }
        (Some(Plane::U16 { data, stride }), u, v) => {
            let chroma = chroma_u16(u, v);
            convert(&geometry, (data, stride), chroma, range, matrix(code), out)
        }
        _ => return Err(bad()),
    }
    .then_some(())
    .ok_or_else(bad)
}

type Chroma<'a, T> = Option<((&'a [T], usize), (&'a [T], usize))>;

fn chroma_u8<'a>(u: Option<Plane<'a>>, v: Option<Plane<'a>>) -> Chroma<'a, u8> {
    match (u, v) {
        (
            Some(Plane::U8 {
                data: u,
                stride: su,
            }),
            Some(Plane::U8 {
                data: v,
                stride: sv,
            }),
        ) => Some(((u, su), (v, sv))),
        _ => None,
    }
}

fn chroma_u16<'a>(u: Option<Plane<'a>>, v: Option<Plane<'a>>) -> Chroma<'a, u16> {
    match (u, v) {
        (
            Some(Plane::U16 {
                data: u,
                stride: su,
            }),
            Some(Plane::U16 {
                data: v,
                stride: sv,
            }),
        ) => Some(((u, su), (v, sv))),
        _ => None,
    }
}

struct Geometry {
    width: usize,
    sx: usize,
    sy: usize,
    channels: usize,
}

/// The conversion proper, row by row. False when a plane is shorter than
/// the picture needs (never for a picture that passed `av1`'s checks).
fn convert<T: Copy + Into<f32>>(
    g: &Geometry,
    (y_plane, y_stride): (&[T], usize),
    chroma: Chroma<'_, T>,
    r: Range,
    kr_kb: Option<(f32, f32)>,
    out: &mut [u8],
) -> bool {
    for (row, px) in out.chunks_exact_mut(g.width * g.channels).enumerate() {
        let Some(ys) = y_plane.get(row * y_stride..row * y_stride + g.width) else {
            return false;
        };
        let cr = row >> g.sy;
        let cw = g.width.div_ceil(1 << g.sx);
        let uv = match chroma {
            Some(((u, su), (v, sv))) => {
                match (u.get(cr * su..cr * su + cw), v.get(cr * sv..cr * sv + cw)) {
                    (Some(u), Some(v)) => Some((u, v)),
                    _ => return false,
                }
            }
            None => None,
        };
        for (x, o) in px.chunks_exact_mut(g.channels).enumerate() {
            let y = ys[x].into();
            let rgb = match uv {
                None => {
                    let l = to_u8((y - r.y_off) * r.y_scale);
                    [l, l, l]
                }
                Some((us, vs)) => {
                    let (u, v) = (us[x >> g.sx].into(), vs[x >> g.sx].into());
                    pixel(y, u, v, r, kr_kb)
                }
            };
            o[..3].copy_from_slice(&rgb);
        }
    }
    true
}

fn pixel(y: f32, u: f32, v: f32, r: Range, kr_kb: Option<(f32, f32)>) -> [u8; 3] {
    let Some((kr, kb)) = kr_kb else {
        // Identity: the planes are G, B, R, each with the luma range.
        let c = |s: f32| to_u8((s - r.y_off) * r.y_scale);
        return [c(v), c(y), c(u)];
    };
    let y = (y - r.y_off) * r.y_scale;
    let cb = (u - r.c_off) * r.c_scale;
    let cr = (v - r.c_off) * r.c_scale;
    let red = y + 2.0 * (1.0 - kr) * cr;
    let blue = y + 2.0 * (1.0 - kb) * cb;
    let green = (y - kr * red - kb * blue) / (1.0 - kr - kb);
    [to_u8(red), to_u8(green), to_u8(blue)]
}

/// Fills every fourth byte of `out` from the alpha picture's luma.
fn alpha_into(a: &Picture, out: &mut [u8]) -> Result<(), EngineError> {
    let (_, full) = a.colour();
    let r = Range::new(a.bit_depth(), full);
    let w = a.width() as usize;
    let bad = || EngineError::Invalid("avif: alpha plane does not match".into());
    let rows = out.chunks_exact_mut(w * 4).enumerate();
    match a.plane(0) {
        Some(Plane::U8 { data, stride }) => {
            for (row, px) in rows {
                let src = data.get(row * stride..row * stride + w).ok_or_else(bad)?;
                for (o, s) in px.chunks_exact_mut(4).zip(src) {
                    o[3] = to_u8((f32::from(*s) - r.y_off) * r.y_scale);
                }
            }
        }
        Some(Plane::U16 { data, stride }) => {
            for (row, px) in rows {
                let src = data.get(row * stride..row * stride + w).ok_or_else(bad)?;
                for (o, s) in px.chunks_exact_mut(4).zip(src) {
                    o[3] = to_u8((f32::from(*s) - r.y_off) * r.y_scale);
                }
            }
        }
        None => return Err(bad()),
    }
    Ok(())
}

fn unpremultiply(out: &mut [u8]) {
    for px in out.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        if a == 0 || a == 255 {
            continue;
        }
        for c in &mut px[..3] {
            *c = ((u32::from(*c) * 255 + a / 2) / a).min(255) as u8;
        }
    }
}
