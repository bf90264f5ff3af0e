//! AV1 frame decoding through `rav1d` (the Rust port of dav1d). rav1d 1.1
//! exposes only dav1d's C API (`unsafe extern "C" fn dav1d_*`; its safe
//! Rust API is `pub(crate)`), so this is the one module of the crate where
//! `unsafe` is allowed (`#[allow(unsafe_code)]` on its `mod` line; the crate
//! root denies it everywhere else). Everything outside it is safe: the
//! decoder and the picture are owned values released on drop, and a plane
//! is handed out as a slice borrowed from its [`Picture`].
//!
//! One caveat: the `dav1d_*` functions are `extern "C"`, so a panic inside
//! rav1d (a bounds check on a hostile bitstream) aborts the process instead
//! of unwinding into the pool's panic guard. rav1d is fuzzed like dav1d, and
//! the property tests feed it random bitstreams; see `docs/images.md`.

use super::EngineError;
use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::headers::{
    DAV1D_PIXEL_LAYOUT_I400, DAV1D_PIXEL_LAYOUT_I420, DAV1D_PIXEL_LAYOUT_I422,
    DAV1D_PIXEL_LAYOUT_I444,
};
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib as dav1d;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

/// dav1d's `DAV1D_ERR(EAGAIN)`: feed more data, or take a picture first.
const EAGAIN: i32 = -libc::EAGAIN;

/// How many times the decoder is polled for the picture after the data is
/// all sent (a still image needs one).
const DRAIN_POLLS: usize = 16;

/// Chroma subsampling of a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Monochrome: luma only.
    I400,
    I420,
    I422,
    I444,
}

/// One plane's samples: 8-bit, or 10/12-bit in `u16`. `stride` counts
/// samples, not bytes.
pub(crate) enum Plane<'a> {
    U8 { data: &'a [u8], stride: usize },
    U16 { data: &'a [u16], stride: usize },
}

/// A decoded frame. Dropping it releases the picture, then the decoder.
pub(crate) struct Picture {
    pic: Dav1dPicture,
    _decoder: Decoder,
}

/// An open rav1d context, closed on drop.
struct Decoder(Option<Dav1dContext>);

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `dav1d_open` (or is None) and is closed
        // only here, once; `dav1d_close` sets it to None.
        unsafe { dav1d::dav1d_close(Some(NonNull::from(&mut self.0))) };
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: `self.pic` is a picture written by `dav1d_get_picture` (or
        // the zeroed default), valid to read and write; unref releases its
        // references and resets it, so a second call would be harmless.
        unsafe { dav1d::dav1d_picture_unref(Some(NonNull::from(&mut self.pic))) };
    }
}

fn decoder(max_pixels: u64) -> Result<Decoder, EngineError> {
    let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
    // SAFETY: `dav1d_default_settings` writes a whole `Dav1dSettings`
    // through the pointer, which is valid for writes of one.
    unsafe { dav1d::dav1d_default_settings(NonNull::new_unchecked(settings.as_mut_ptr())) };
    // SAFETY: fully initialised by `dav1d_default_settings` just above.
    let mut s = unsafe { settings.assume_init() };
    s.n_threads = 1;
    s.max_frame_delay = 1;
    s.all_layers = 0;
    // Frames over the pixel limit are refused by the decoder itself (0
    // would mean no limit, so never pass it).
    s.frame_size_limit = u32::try_from(max_pixels).unwrap_or(u32::MAX).max(1);
    // No logging to stderr: a logger without a callback is silent. Its type
    // is not exported, so it is cleared in place.
    // SAFETY: `Dav1dLogger` is `#[repr(C)] { cookie: Option<NonNull<_>>,
    // callback: Option<extern "C" fn> }`; all-zero bytes are `None` for both
    // (the null-pointer niche is guaranteed), a valid value with no drop.
    unsafe { std::ptr::write_bytes(&raw mut s.logger, 0, 1) };
    let mut ctx: Option<Dav1dContext> = None;
    // SAFETY: both pointers come from live locals: `ctx` valid for writes,
    // `s` for reads, for the duration of the call.
    let r =
        unsafe { dav1d::dav1d_open(Some(NonNull::from(&mut ctx)), Some(NonNull::from(&mut s))) };
    let decoder = Decoder(ctx);
    if r.0 != 0 || decoder.0.is_none() {
        return Err(EngineError::Internal(format!(
            "AV1 decoder: open failed ({})",
            r.0
        )));
    }
    Ok(decoder)
}

/// Decodes the first frame of an AV1 bitstream (the OBUs of an AVIF item).
/// A frame over `max_pixels` is refused before its pixels are allocated.
pub(crate) fn decode(obus: &[u8], max_pixels: u64) -> Result<Picture, EngineError> {
    let invalid = |what: &str, code: i32| {
        EngineError::Invalid(format!("cannot decode the avif: {what} (AV1 error {code})"))
    };
    if obus.is_empty() {
        return Err(EngineError::Invalid(
            "cannot decode the avif: no AV1 data".into(),
        ));
    }
    let decoder = decoder(max_pixels)?;
    let ctx = decoder.0;
    let mut data = Data(Dav1dData::default());
    // SAFETY: `data.0` is a live, default (empty) Dav1dData valid for writes;
    // `obus.len()` > 0, as `dav1d_data_create` requires.
    let buf = unsafe { dav1d::dav1d_data_create(Some(NonNull::from(&mut data.0)), obus.len()) };
    if buf.is_null() {
        return Err(EngineError::Internal("AV1 decoder: out of memory".into()));
    }
    // SAFETY: `dav1d_data_create` returned a buffer of exactly `obus.len()`
    // writable bytes owned by `data.0`, which cannot overlap `obus`.
    unsafe { std::ptr::copy_nonoverlapping(obus.as_ptr(), buf, obus.len()) };
    let mut picture = Picture {
        pic: Dav1dPicture::default(),
        _decoder: decoder,
    };
    let mut polls = 0;
    loop {
        if data.0.sz > 0 {
            // SAFETY: `ctx` is open (owned by `picture._decoder`, closed only
            // on drop); `data.0` is a live Dav1dData valid to read and write.
            let r = unsafe { dav1d::dav1d_send_data(ctx, Some(NonNull::from(&mut data.0))) };
            if r.0 != 0 && r.0 != EAGAIN {
                return Err(invalid("bad bitstream", r.0));
            }
        } else {
            polls += 1;
            if polls > DRAIN_POLLS {
                return Err(invalid("no frame in the bitstream", EAGAIN));
            }
        }
        // SAFETY: as above for `ctx`; `picture.pic` is a live, empty picture
        // valid for writes (each failed call leaves it empty).
        let r = unsafe { dav1d::dav1d_get_picture(ctx, Some(NonNull::from(&mut picture.pic))) };
        match r.0 {
            0 => break,
            e if e == EAGAIN => continue,
            e => return Err(invalid("bad frame", e)),
        }
    }
    picture.check()?;
    Ok(picture)
}

/// Input data, unreferenced on drop if the decoder did not take it all.
struct Data(Dav1dData);

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: `self.0` is a Dav1dData from `dav1d_data_create` (or the
        // default), valid to read and write; unref resets it.
        unsafe { dav1d::dav1d_data_unref(Some(NonNull::from(&mut self.0))) };
    }
}

impl Picture {
    pub fn width(&self) -> u32 {
        u32::try_from(self.pic.p.w).unwrap_or(0)
    }

    pub fn height(&self) -> u32 {
        u32::try_from(self.pic.p.h).unwrap_or(0)
    }

    /// 8, 10 or 12.
    pub fn bit_depth(&self) -> u8 {
        u8::try_from(self.pic.p.bpc).unwrap_or(0)
    }

    pub fn layout(&self) -> Option<Layout> {
        Some(match self.pic.p.layout {
            DAV1D_PIXEL_LAYOUT_I400 => Layout::I400,
            DAV1D_PIXEL_LAYOUT_I420 => Layout::I420,
            DAV1D_PIXEL_LAYOUT_I422 => Layout::I422,
            DAV1D_PIXEL_LAYOUT_I444 => Layout::I444,
            _ => return None,
        })
    }

    /// The sequence header's matrix coefficients (ISO/IEC 23091-4 code
    /// points: 1 BT.709, 5/6 BT.601, 9 BT.2020, 0 identity, 2 unknown) and
    /// whether samples use the full range.
    pub fn colour(&self) -> (u32, bool) {
        match self.pic.seq_hdr {
            // SAFETY: a picture from `dav1d_get_picture` holds a reference
            // to its sequence header (`seq_hdr_ref`) for as long as the
            // picture lives, and `self` is borrowed for this read.
            Some(h) => unsafe {
                let h = h.as_ref();
                (h.mtrx, h.color_range != 0)
            },
            None => (2, false),
        }
    }

    /// The size of plane `i` (0 luma, 1 and 2 chroma) in samples.
    pub fn plane_size(&self, i: usize) -> (usize, usize) {
        let (w, h) = (self.width() as usize, self.height() as usize);
        match (i, self.layout()) {
            (0, _) => (w, h),
            (_, Some(Layout::I420)) => (w.div_ceil(2), h.div_ceil(2)),
            (_, Some(Layout::I422)) => (w.div_ceil(2), h),
            (_, Some(Layout::I444)) => (w, h),
            _ => (0, 0),
        }
    }

    /// Refuses pictures whose description the planes could not back:
    /// unknown layout or depth, missing planes, strides shorter than a row.
    fn check(&self) -> Result<(), EngineError> {
        let bad = |what: &str| EngineError::Invalid(format!("cannot decode the avif: {what}"));
        if self.width() == 0 || self.height() == 0 {
            return Err(bad("empty frame"));
        }
        let layout = self.layout().ok_or_else(|| bad("unknown chroma layout"))?;
        let bytes = match self.bit_depth() {
            8 => 1,
            10 | 12 => 2,
            _ => return Err(bad("unknown bit depth")),
        };
        let planes = if layout == Layout::I400 { 1 } else { 3 };
        for i in 0..planes {
            let stride = self.pic.stride[i.min(1)];
            let (w, _) = self.plane_size(i);
            let ptr = self.pic.data[i].ok_or_else(|| bad("missing plane"))?;
            if stride <= 0
                || (stride as usize) < w * bytes
                || !(stride as usize).is_multiple_of(bytes)
            {
                return Err(bad("bad plane stride"));
            }
            if ptr.as_ptr().align_offset(bytes) != 0 {
                return Err(bad("misaligned plane"));
            }
        }
        Ok(())
    }

    /// Plane `i` (0 luma, 1 Cb, 2 Cr); chroma planes of a monochrome
    /// picture are `None`.
    pub fn plane(&self, i: usize) -> Option<Plane<'_>> {
        if i > 2 || (i > 0 && self.layout() == Some(Layout::I400)) {
            return None;
        }
        let ptr = self.pic.data[i]?;
        let stride_bytes = usize::try_from(self.pic.stride[i.min(1)]).ok()?;
        let (w, h) = self.plane_size(i);
        let wide = self.bit_depth() > 8;
        let row_bytes = if wide { w * 2 } else { w };
        let len_bytes = stride_bytes * (h - 1) + row_bytes;
        Some(if wide {
            // SAFETY: `check` (run before a Picture is returned) found the
            // plane present, 2-byte aligned, with a positive stride of at
            // least one row; dav1d allocates `stride × height` bytes per
            // plane, so `len_bytes` ≤ the allocation, which the picture's
            // reference keeps alive and unmodified while `self` is borrowed.
            let data =
                unsafe { std::slice::from_raw_parts(ptr.as_ptr().cast::<u16>(), len_bytes / 2) };
            Plane::U16 {
                data,
                stride: stride_bytes / 2,
            }
        } else {
            // SAFETY: as above, for 8-bit samples (no alignment needed).
            let data = unsafe { std::slice::from_raw_parts(ptr.as_ptr().cast::<u8>(), len_bytes) };
            Plane::U8 {
                data,
                stride: stride_bytes,
            }
        })
    }
}
