//! Bounds what multer holds before a part's body (SPEC §8): the form's
//! preamble (the bytes before its first boundary) and each part's header
//! block are at most [`MAX_PART_HEAD`] bytes. multer buffers both whole until
//! it finds their end, so a [`Scanner`] follows the raw body as multer reads
//! it, with the same grammar, and stops the form as soon as one is too long;
//! it keeps only the last few bytes of each chunk (a boundary may straddle two).

use memchr::memmem::Finder;

/// The largest preamble, and the largest header block of one part.
pub const MAX_PART_HEAD: usize = 16 * 1024;

/// What was too large.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Overflow {
    #[error("the form's preamble is over {MAX_PART_HEAD} bytes")]
    Preamble,
    /// The header block of the given part (counted from 1).
    #[error("the header block of the form's part {0} is over {MAX_PART_HEAD} bytes")]
    Headers(usize),
}

impl Overflow {
    /// The name the 413 `field_too_large` gives it.
    pub fn field_name(&self) -> String {
        match self {
            Overflow::Preamble => "(preamble)".into(),
            Overflow::Headers(n) => format!("(header block of part {n})"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first `--boundary` (multer looks for it anywhere).
    Preamble,
    /// Just after a `--boundary`: `--` closes the form; else optional
    /// transport padding (spaces, tabs), then CRLF.
    Start,
    Dash,
    Padding(usize),
    Cr,
    /// A part's header block, up to its blank line (`CRLF CRLF`).
    Headers,
    /// A part's body, up to `CRLF --boundary`.
    Body,
    /// After the closing boundary, or past a point where multer fails the
    /// form itself: nothing left to bound.
    Done,
}

/// Follows a `multipart/form-data` body chunk by chunk (see the module doc).
pub struct Scanner {
    state: State,
    /// Header blocks entered so far.
    parts: usize,
    /// `--boundary`, `CRLF CRLF`, `CRLF --boundary`.
    open: Finder<'static>,
    blank: Finder<'static>,
    next: Finder<'static>,
    region: Region,
}

impl Scanner {
    pub fn new(boundary: &str) -> Scanner {
        Scanner {
            state: State::Preamble,
            parts: 0,
            open: Finder::new(format!("--{boundary}").as_bytes()).into_owned(),
            blank: Finder::new(b"\r\n\r\n").into_owned(),
            next: Finder::new(format!("\r\n--{boundary}").as_bytes()).into_owned(),
            region: Region::default(),
        }
    }

    /// Takes in the next chunk of the body; the first thing too large, if
    /// this chunk shows it (the scanner must not be fed after that).
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), Overflow> {
        while let Some((&byte, rest)) = chunk.split_first() {
            let (finder, overflow, then) = match self.state {
                State::Preamble => (&self.open, Some(Overflow::Preamble), State::Start),
                State::Headers => (
                    &self.blank,
                    Some(Overflow::Headers(self.parts)),
                    State::Body,
                ),
                State::Body => (&self.next, None, State::Start),
                State::Done => return Ok(()),
                delimiter => {
                    self.state = self.delimiter(delimiter, byte)?;
                    chunk = rest;
                    continue;
                }
            };
            // A match starting past the limit, or enough bytes to know
            // none will start before it, is too long.
            let most = MAX_PART_HEAD + finder.needle().len();
            match (self.region.find(finder, chunk), overflow) {
                (Some((_, start)), Some(o)) if start > MAX_PART_HEAD => return Err(o),
                (Some((end, _)), _) => {
                    chunk = &chunk[end..];
                    self.region.reset();
                    self.state = then;
                }
                (None, Some(o)) if self.region.seen >= most => return Err(o),
                (None, _) => return Ok(()),
            }
        }
        Ok(())
    }

    /// One byte after a `--boundary`, as multer reads it: the next state.
    fn delimiter(&mut self, state: State, byte: u8) -> Result<State, Overflow> {
        Ok(match (state, byte) {
            (State::Start, b'-') => State::Dash,
            (State::Start, b' ' | b'\t') => State::Padding(1),
            (State::Padding(n), b' ' | b'\t') if n >= MAX_PART_HEAD => {
                return Err(Overflow::Headers(self.parts + 1))
            }
            (State::Padding(n), b' ' | b'\t') => State::Padding(n + 1),
            (State::Start | State::Padding(_), b'\r') => State::Cr,
            (State::Cr, b'\n') => {
                self.parts += 1;
                State::Headers
            }
            // `--boundary--` closes the form; anything else here is
            // malformed and multer refuses it.
            _ => State::Done,
        })
    }
}

/// The search for one needle over a run of chunks (a region: the preamble, a
/// header block, a body).
#[derive(Default)]
struct Region {
    /// Bytes of the region taken in before the current chunk.
    seen: usize,
    /// Its last bytes (fewer than the needle): where a match may have begun.
    carry: Vec<u8>,
    /// Scratch: `carry` followed by the head of the current chunk.
    joint: Vec<u8>,
}

impl Region {
    /// The first match that ends in `chunk`: (where in `chunk` it ends, where
    /// in the region it starts). Without one, `chunk` is taken in.
    fn find(&mut self, finder: &Finder<'_>, chunk: &[u8]) -> Option<(usize, usize)> {
        let n = finder.needle().len();
        if !self.carry.is_empty() {
            let head = &chunk[..chunk.len().min(n - 1)];
            self.joint.clear();
            self.joint.extend_from_slice(&self.carry);
            self.joint.extend_from_slice(head);
            if let Some(i) = finder.find(&self.joint) {
                let start = self.seen - self.carry.len() + i;
                return Some((i + n - self.carry.len(), start));
            }
        }
        if let Some(i) = finder.find(chunk) {
            return Some((i + n, self.seen + i));
        }
        self.seen += chunk.len();
        let keep = n - 1;
        if chunk.len() >= keep {
            self.carry.clear();
            self.carry.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            self.carry.extend_from_slice(chunk);
            let extra = self.carry.len().saturating_sub(keep);
            self.carry.drain(..extra);
        }
        None
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.carry.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "XyZ";

    /// Feeds `body` in chunks of `size`; the first overflow, if any.
    fn scan(body: &[u8], size: usize) -> Result<(), Overflow> {
        let mut s = Scanner::new(B);
        body.chunks(size).try_for_each(|c| s.feed(c))
    }

    /// Every chunking that matters: single bytes, sizes around the needles
    /// and the limit, and a split at every offset of the body's start.
    fn scan_all_ways(body: &[u8]) -> Result<(), Overflow> {
        let first = scan(body, body.len().max(1));
        for size in [
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            13,
            64,
            1000,
            4096,
            16 * 1024,
            16 * 1024 + 1,
        ] {
            assert_eq!(scan(body, size), first, "chunks of {size}");
        }
        for cut in 0..body.len().min(200) {
            let mut s = Scanner::new(B);
            let r = s.feed(&body[..cut]).and_then(|()| s.feed(&body[cut..]));
            assert_eq!(r, first, "cut at {cut}");
        }
        first
    }

    fn part(headers: &str, body: &[u8]) -> Vec<u8> {
        let mut v = format!("--{B}\r\n{headers}\r\n\r\n").into_bytes();
        v.extend_from_slice(body);
        v.extend_from_slice(b"\r\n");
        v
    }

    fn form(preamble: &[u8], parts: &[Vec<u8>]) -> Vec<u8> {
        let mut v = preamble.to_vec();
        parts.iter().for_each(|p| v.extend_from_slice(p));
        v.extend_from_slice(format!("--{B}--\r\n").as_bytes());
        v
    }

    fn disposition(name: &str) -> String {
        format!("content-disposition: form-data; name=\"{name}\"")
    }

    #[test]
    fn a_plain_form_passes() {
        let body = form(
            b"",
            &[
                part(&disposition("a"), b"hello"),
                part(&disposition("file"), &[0u8; 70_000]),
            ],
        );
        assert_eq!(scan_all_ways(&body), Ok(()));
    }

    #[test]
    fn preamble_of_16_kib_passes_and_one_byte_more_does_not() {
        let p = part(&disposition("a"), b"x");
        assert_eq!(
            scan_all_ways(&form(&[b'a'; MAX_PART_HEAD], std::slice::from_ref(&p))),
            Ok(())
        );
        let over = form(&[b'a'; MAX_PART_HEAD + 1], &[p]);
        assert_eq!(scan_all_ways(&over), Err(Overflow::Preamble));
        // A preamble with CR, LF and near-boundaries in it counts the same.
        let mut tricky = b"\r\n--XY\r\n-\r\n--Xy\r".repeat(MAX_PART_HEAD / 16);
        tricky.resize(MAX_PART_HEAD, b'-');
        let ok = form(&tricky, &[part(&disposition("a"), b"x")]);
        assert_eq!(scan_all_ways(&ok), Ok(()));
        tricky.push(b'\r');
        let over = form(&tricky, &[part(&disposition("a"), b"x")]);
        assert_eq!(scan_all_ways(&over), Err(Overflow::Preamble));
    }

    #[test]
    fn a_preamble_that_never_ends_stops_soon() {
        let mut s = Scanner::new(B);
        let junk = [b'a'; 1000];
        let mut fed = 0;
        let r = loop {
            if let Err(o) = s.feed(&junk) {
                break o;
            }
            fed += junk.len();
            assert!(fed < MAX_PART_HEAD + 2000, "still going after {fed}");
        };
        assert_eq!(r, Overflow::Preamble);
        // It keeps at most a needle's worth of bytes.
        assert!(s.region.carry.len() < 8);
    }

    #[test]
    fn headers_of_15_kib_pass_and_over_16_kib_do_not() {
        let pad = "v".repeat(15 * 1024);
        let big = format!("{}\r\nx-pad: {pad}", disposition("file"));
        let body = form(b"", &[part(&disposition("a"), b"1"), part(&big, b"data")]);
        assert_eq!(scan_all_ways(&body), Ok(()));
        // The header block is exactly 16 KiB (without its blank line): passes.
        let line = disposition("f");
        let exact = format!(
            "{line}\r\nx: {}",
            "v".repeat(MAX_PART_HEAD - line.len() - 5)
        );
        assert_eq!(exact.len(), MAX_PART_HEAD);
        assert_eq!(scan_all_ways(&form(b"", &[part(&exact, b"")])), Ok(()));
        let over = format!("{exact}v");
        let body = form(b"", &[part(&disposition("a"), b"1"), part(&over, b"")]);
        assert_eq!(scan_all_ways(&body), Err(Overflow::Headers(2)));
    }

    #[test]
    fn headers_that_never_end_stop_soon() {
        let mut s = Scanner::new(B);
        let start = format!("--{B}\r\n{}\r\nx: ", disposition("f"));
        assert_eq!(s.feed(start.as_bytes()), Ok(()));
        let mut fed = 0;
        // Lines that end, but never a blank one.
        let r = loop {
            if let Err(o) = s.feed(b"abc\r\nx: ") {
                break o;
            }
            fed += 8;
            assert!(fed < MAX_PART_HEAD + 100, "still going after {fed}");
        };
        assert_eq!(r, Overflow::Headers(1));
    }

    #[test]
    fn part_bodies_are_not_bounded_and_hide_no_boundary() {
        // Boundary look-alikes in a body: CRLF without the dashes, dashes
        // without CRLF, a prefix of the boundary.
        let data = b"\r\n-XyZ--XyZ\r\n--Xy\r\n\r\n\r\n--".repeat(5000);
        let body = form(
            b"",
            &[
                part(&disposition("file"), &data),
                part(&disposition("b"), b""),
            ],
        );
        assert_eq!(scan_all_ways(&body), Ok(()));
    }

    #[test]
    fn crlf_edge_cases_follow_multer() {
        // Transport padding after a boundary, then CRLF: a part.
        let mut body = format!("--{B}  \t\r\n{}\r\n\r\nx\r\n", disposition("a")).into_bytes();
        body.extend_from_slice(format!("--{B}--").as_bytes());
        assert_eq!(scan_all_ways(&body), Ok(()));
        // The closing boundary ends the scan: an epilogue is not a preamble.
        let mut closed = form(b"", &[part(&disposition("a"), b"x")]);
        closed.extend_from_slice(&[b'e'; 3 * MAX_PART_HEAD]);
        assert_eq!(scan_all_ways(&closed), Ok(()));
        // A bare LF does not end a header block: still the headers.
        let lf = format!(
            "--{B}\r\n{}\n\n{}",
            disposition("a"),
            "y".repeat(MAX_PART_HEAD)
        );
        assert_eq!(scan_all_ways(lf.as_bytes()), Err(Overflow::Headers(1)));
        // Endless transport padding counts as the next part's head.
        let pad = format!("--{B}{}", " ".repeat(MAX_PART_HEAD + 1));
        assert_eq!(scan_all_ways(pad.as_bytes()), Err(Overflow::Headers(1)));
        // Malformed after a boundary: multer refuses it; nothing to bound.
        let bad = format!("--{B}x{}", "y".repeat(3 * MAX_PART_HEAD));
        assert_eq!(scan_all_ways(bad.as_bytes()), Ok(()));
    }
}
