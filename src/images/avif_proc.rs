//! AVIF decoding in a child process. rav1d is called through `extern "C"`
//! functions, and a panic cannot unwind out of those: it aborts the process.
//! The property tests found such a panic (rav1d 1.1, `decode.rs:4997`, an
//! `unwrap` on a missing frame header reached by random bytes after a valid
//! AVIF header). So the server never runs rav1d itself: each AVIF source is
//! decoded by `stowage __avif-decode` (this binary, started again with an
//! empty environment), which reads the file on stdin and writes the pixels
//! on stdout. A crash, a hang (killed after [`DECODE_TIMEOUT`]) or garbage
//! there is an unreadable image (400), never the server's end.
//!
//! Wire format on stdout: width, height (u32 big-endian), channels (1 byte,
//! 3 or 4), then width × height × channels bytes of 8-bit sRGB.

use super::EngineError;
use image::{DynamicImage, RgbImage, RgbaImage};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The first argument that makes the binary a decoder process.
pub const DECODER_ARG: &str = "__avif-decode";

/// How long one decode may take before the process is killed.
pub const DECODE_TIMEOUT: Duration = Duration::from_secs(60);

static DECODER: OnceLock<PathBuf> = OnceLock::new();

/// Enables AVIF sources: `exe` is the `stowage` binary, which
/// [`decoder_main`] turns into a decoder when given [`DECODER_ARG`].
pub fn set_avif_decoder(exe: PathBuf) {
    let _ = DECODER.set(exe);
}

/// Whether AVIF sources can be decoded (a decoder binary is set).
pub(crate) fn available() -> bool {
    DECODER.get().is_some() || cfg!(test)
}

/// Runs the decoder process's side when the first argument asks for it:
/// `Some(exit code)`, else `None` (a normal start).
pub fn decoder_main() -> Option<u8> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(DECODER_ARG) {
        return None;
    }
    let max_pixels: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let mut src = Vec::new();
    if std::io::stdin().read_to_end(&mut src).is_err() {
        return Some(2);
    }
    let img = match super::avif::decode_here(&src, max_pixels) {
        Ok(img) => img,
        Err(e) => {
            eprintln!("{e}");
            return Some(1);
        }
    };
    let (w, h) = (img.width(), img.height());
    let (channels, raw) = match img {
        DynamicImage::ImageRgba8(i) => (4u8, i.into_raw()),
        other => (3u8, other.into_rgb8().into_raw()),
    };
    let mut out = std::io::stdout().lock();
    let mut head = w.to_be_bytes().to_vec();
    head.extend_from_slice(&h.to_be_bytes());
    head.push(channels);
    let written = out.write_all(&head).and_then(|()| out.write_all(&raw));
    Some(if written.and_then(|()| out.flush()).is_ok() {
        0
    } else {
        2
    })
}

/// Decodes `src` in a decoder process (or, in the crate's own unit tests,
/// which have no `stowage` binary, in this one).
pub(crate) fn decode(src: &[u8], max_pixels: u64) -> Result<DynamicImage, EngineError> {
    match DECODER.get() {
        Some(exe) => decode_in_child(exe, src, max_pixels),
        None if cfg!(test) => super::avif::decode_here(src, max_pixels),
        None => Err(EngineError::Unsupported(
            "AVIF decoding is not available in this process".into(),
        )),
    }
}

fn decode_in_child(
    exe: &PathBuf,
    src: &[u8],
    max_pixels: u64,
) -> Result<DynamicImage, EngineError> {
    let failed = |why: String| EngineError::Invalid(format!("cannot decode the avif: {why}"));
    let mut child = Command::new(exe)
        .arg(DECODER_ARG)
        .arg(max_pixels.to_string())
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| EngineError::Internal(format!("AVIF decoder: {e}")))?;
    let (mut stdin, mut stdout, mut stderr) =
        match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(i), Some(o), Some(e)) => (i, o, e),
            _ => return Err(EngineError::Internal("AVIF decoder: no pipes".into())),
        };
    let child = Arc::new(Mutex::new(child));
    let watchdog = watchdog(child.clone());
    let input = src.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.by_ref().take(4096).read_to_string(&mut text);
        text
    });
    let result = read_pixels(&mut stdout, max_pixels);
    let _ = feeder.join();
    let message = errors.join().unwrap_or_default();
    let status = wait(&child);
    drop(watchdog);
    match (status, result) {
        (Ok(s), Ok(img)) if s.success() => Ok(img),
        (Ok(s), _) if s.code() == Some(1) => Err(failed(message.trim().to_string())),
        (Ok(s), _) => Err(failed(format!("the decoder stopped ({s})"))),
        (Err(e), _) => Err(failed(e.to_string())),
    }
}

/// Waits for the child's exit without holding the lock the watchdog needs.
fn wait(child: &Mutex<std::process::Child>) -> std::io::Result<std::process::ExitStatus> {
    loop {
        let polled = match child.lock() {
            Ok(mut c) => c.try_wait()?,
            Err(_) => return Err(std::io::Error::other("decoder lost")),
        };
        if let Some(status) = polled {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Kills the child after [`DECODE_TIMEOUT`] unless dropped first.
struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

fn watchdog(child: Arc<Mutex<std::process::Child>>) -> Watchdog {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if rx.recv_timeout(DECODE_TIMEOUT).is_err() {
            if let Ok(mut c) = child.lock() {
                let _ = c.kill();
            }
        }
    });
    Watchdog(Some(tx))
}

/// Reads the decoder's answer, refusing sizes over `max_pixels`.
fn read_pixels(stdout: &mut impl Read, max_pixels: u64) -> Result<DynamicImage, EngineError> {
    let bad = |why: &str| EngineError::Invalid(format!("cannot decode the avif: {why}"));
    let mut head = [0u8; 9];
    stdout
        .read_exact(&mut head)
        .map_err(|_| bad("the decoder gave no image"))?;
    let w = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let h = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let channels = head[8];
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 || pixels > max_pixels || !matches!(channels, 3 | 4) {
        return Err(bad("the decoder gave a bad size"));
    }
    let mut raw = vec![0u8; pixels as usize * usize::from(channels)];
    stdout
        .read_exact(&mut raw)
        .map_err(|_| bad("the decoder's image ended early"))?;
    let img = if channels == 4 {
        RgbaImage::from_raw(w, h, raw).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(w, h, raw).map(DynamicImage::ImageRgb8)
    };
    img.ok_or_else(|| bad("buffer size"))
}
