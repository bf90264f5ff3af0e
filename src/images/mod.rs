//! The image engine behind `/{acc}/image/…` and presets (SPEC §6.1): pure,
//! blocking library code. The HTTP layer parses the query with
//! [`parse_query`], picks the output with [`choose_format`], and runs
//! [`transform`] on the bounded [`Pool`] (which uses `spawn_blocking`).
//!
//! Crate choices and figures: `docs/images.md`.

// The one module where `unsafe` is allowed: rav1d's C API (see av1.rs).
#[allow(unsafe_code)]
mod av1;
mod avif;
mod avif_proc;
mod crop;
mod encode;
mod engine;
mod params;
mod pool;
mod probe;
mod shrink;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_avif;

pub use avif_proc::{decoder_main, set_avif_decoder, DECODER_ARG, DECODE_TIMEOUT};
pub use crop::{parse_crop, CropSpec};
pub use engine::{output_pixels, transform, Output, Rect, AVIF_MAX_PIXELS};
pub use params::{
    default_bg, parse_preset_query, parse_query, Fit, FormatReq, ParamError, Params, MAX_SIDE,
    PASSTHROUGH,
};
pub use pool::{Busy, Pool};
pub use probe::{choose_format, probe, Probe};

/// Image formats the engine knows, as sources or outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
    Avif,
    Gif,
    Bmp,
    Tiff,
}

impl Format {
    /// The extension used in cache keys and file names.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::WebP => "webp",
            Format::Avif => "avif",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
            Format::Tiff => "tiff",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::WebP => "image/webp",
            Format::Avif => "image/avif",
            Format::Gif => "image/gif",
            Format::Bmp => "image/bmp",
            Format::Tiff => "image/tiff",
        }
    }

    /// Whether the engine can write this format.
    pub fn is_output(self) -> bool {
        matches!(
            self,
            Format::Jpeg | Format::Png | Format::WebP | Format::Avif
        )
    }

    /// Whether `q` changes the encoding.
    pub fn is_lossy(self) -> bool {
        matches!(self, Format::Jpeg | Format::WebP | Format::Avif)
    }

    /// Whether the output keeps an alpha channel.
    pub fn has_alpha(self) -> bool {
        !matches!(self, Format::Jpeg | Format::Bmp)
    }
}

/// Why a transformation failed. The HTTP mapping (SPEC §8):
/// `Unsupported` → 415 `unsupported_image`, `TooLarge` → 413
/// `image_too_large` (`OutputTooLarge` too), `Invalid` → 400 (`invalid_transformation` for a bad
/// crop file, or a corrupt image), `Internal` → 500.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("not a supported image: {0}")]
    Unsupported(String),
    #[error("image has {pixels} pixels, more than the limit of {limit}")]
    TooLarge { pixels: u64, limit: u64 },
    /// The output asked for is over a format's own limit (AVIF: 16 MP).
    #[error("a {} output of {pixels} pixels is over its limit of {limit}", format.ext())]
    OutputTooLarge {
        format: Format,
        pixels: u64,
        limit: u64,
    },
    #[error("invalid image: {0}")]
    Invalid(String),
    #[error("image encoding failed: {0}")]
    Internal(String),
}
