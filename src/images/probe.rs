//! Format sniffing from magic bytes, header-only dimensions, and the choice
//! of output format.

use super::{EngineError, Format, FormatReq, Params};
use std::io::Cursor;

/// What the header says: decided without decoding any pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

impl Probe {
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// The format named by the first bytes, if it is one the engine knows.
pub(crate) fn sniff(head: &[u8]) -> Option<Format> {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(b"\xFF\xD8\xFF") {
        Some(Format::Jpeg)
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(Format::Gif)
    } else if starts(b"BM") && head.len() >= 26 {
        Some(Format::Bmp)
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some(Format::Tiff)
    } else if head.len() >= 12
        && &head[4..8] == b"ftyp"
        && matches!(&head[8..12], b"avif" | b"avis")
    {
        Some(Format::Avif)
    } else {
        None
    }
}

pub(crate) fn image_format(f: Format) -> image::ImageFormat {
    match f {
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Png => image::ImageFormat::Png,
        Format::WebP => image::ImageFormat::WebP,
        Format::Avif => image::ImageFormat::Avif,
        Format::Gif => image::ImageFormat::Gif,
        Format::Bmp => image::ImageFormat::Bmp,
        Format::Tiff => image::ImageFormat::Tiff,
    }
}

/// Reads the format and size from the header only. `head` is the file's
/// start (the caller reads at most 256 KiB): a header that does not lie
/// within it (a JPEG with more metadata than that before its frame header)
/// reports `Invalid`. Anything that is not JPEG, PNG, WebP, GIF, BMP, TIFF
/// or AVIF is `Unsupported` at once, without decoding.
pub fn probe(head: &[u8]) -> Result<Probe, EngineError> {
    let format =
        sniff(head).ok_or_else(|| EngineError::Unsupported("unrecognised file type".into()))?;
    if format == Format::Avif {
        if !super::avif_proc::available() {
            return Err(EngineError::Unsupported(
                "AVIF decoding is not available in this process".into(),
            ));
        }
        let (width, height) = super::avif::dimensions(head)?;
        return Ok(Probe {
            format,
            width,
            height,
        });
    }
    let reader = image::ImageReader::with_format(Cursor::new(head), image_format(format));
    let (width, height) = reader.into_dimensions().map_err(|e| {
        EngineError::Invalid(format!("cannot read the {} header: {e}", format.ext()))
    })?;
    Ok(Probe {
        format,
        width,
        height,
    })
}

/// Picks the output format. Returns the format and whether the `Accept`
/// header decided it (then the response needs `Vary: Accept`).
///
/// - `f=jpg|png|webp|avif`: that format; every one of them can be written, so
///   `f2` is never needed for an explicit `f`.
/// - `f=auto` or no `f`: AVIF if `Accept` names `image/avif`, else WebP if it
///   names `image/webp` (with q > 0; `*/*` and `image/*` do not count), else
///   `f2` when given (the widget's `f=webp&f2=jpg` read as "WebP, or JPEG for
///   a client that cannot take it"), else the source's own format, where GIF,
///   BMP and TIFF sources become PNG (lossless, keeps transparency and
///   GIF-style flat colours). `vary_accept` is true for every `f=auto`
///   answer, since another `Accept` could have changed it.
pub fn choose_format(params: &Params, source: Format, accept: Option<&str>) -> (Format, bool) {
    match params.f.unwrap_or_default() {
        FormatReq::Exact(f) if f.is_output() => (f, false),
        FormatReq::Exact(_) => (params.f2.unwrap_or(source_output(source)), false),
        FormatReq::Auto => {
            let accept = accept.unwrap_or("");
            let f = if accepts(accept, "image/avif") {
                Format::Avif
            } else if accepts(accept, "image/webp") {
                Format::WebP
            } else {
                params.f2.unwrap_or(source_output(source))
            };
            (f, true)
        }
    }
}

/// The output used for a source when no format is asked for.
fn source_output(source: Format) -> Format {
    match source {
        Format::Jpeg => Format::Jpeg,
        Format::WebP => Format::WebP,
        Format::Avif => Format::Avif,
        Format::Png | Format::Gif | Format::Bmp | Format::Tiff => Format::Png,
    }
}

/// Whether `accept` names `mime` explicitly with a non-zero q.
fn accepts(accept: &str, mime: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let ty = parts.next().unwrap_or("").trim();
        if !ty.eq_ignore_ascii_case(mime) {
            return false;
        }
        !parts.any(|p| {
            let p = p.trim();
            let q = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="));
            q.and_then(|v| v.trim().parse::<f32>().ok())
                .is_some_and(|v| v <= 0.0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::parse_query;

    const CHROME: &str = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";

    #[test]
    fn auto_follows_accept() {
        let p = Params::default();
        assert_eq!(
            choose_format(&p, Format::Jpeg, Some(CHROME)),
            (Format::Avif, true)
        );
        assert_eq!(
            choose_format(&p, Format::Jpeg, Some("image/webp,*/*")),
            (Format::WebP, true)
        );
        assert_eq!(
            choose_format(&p, Format::Jpeg, Some("*/*")),
            (Format::Jpeg, true)
        );
        assert_eq!(
            choose_format(&p, Format::Png, Some("image/*")),
            (Format::Png, true)
        );
        assert_eq!(choose_format(&p, Format::Gif, None), (Format::Png, true));
        assert_eq!(choose_format(&p, Format::Tiff, None), (Format::Png, true));
        assert_eq!(
            choose_format(&p, Format::Jpeg, Some("image/avif;q=0, image/webp")),
            (Format::WebP, true)
        );
    }

    #[test]
    fn explicit_format_and_fallback() {
        let widget = parse_query("f=webp&f2=jpg").unwrap();
        assert_eq!(
            choose_format(&widget, Format::Png, Some(CHROME)),
            (Format::WebP, false)
        );
        let auto = parse_query("f2=jpg").unwrap();
        assert_eq!(
            choose_format(&auto, Format::Png, Some("*/*")),
            (Format::Jpeg, true)
        );
        assert_eq!(
            choose_format(&auto, Format::Png, Some("image/webp")),
            (Format::WebP, true)
        );
        let png = parse_query("f=png").unwrap();
        assert_eq!(
            choose_format(&png, Format::Jpeg, Some(CHROME)),
            (Format::Png, false)
        );
    }

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(Format::Jpeg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::WebP));
        assert_eq!(sniff(b"\0\0\0\x1cftypavif\0\0"), Some(Format::Avif));
        assert_eq!(sniff(b"%PDF-1.7\n"), None);
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42\0\0"), None);
        assert!(matches!(
            probe(b"\0\0\0\x1cftypavif\0\0\0\0"),
            Err(EngineError::Invalid(_))
        ));
    }
}
