//! Transformation parameters: Bytescale's query names, parsed strictly.

use super::Format;
use std::borrow::Cow;
use std::fmt;

/// Largest accepted `w` / `h`.
pub const MAX_SIDE: u32 = 8192;
/// Quality used when `q` is absent.
pub const DEFAULT_QUALITY: u8 = 80;

/// The CDN query parameters that may ride along on an image URL and are not
/// transformations: accepted and ignored here (the caller acts on those it
/// understands, e.g. `download`, `cache_ttl`, `exp`/`sig`).
pub const PASSTHROUGH: &[&str] = &[
    "download",
    "cache_ttl",
    "cache-ttl",
    "version",
    "versionId",
    "auth",
    "artifact",
    "cache",
    "cache_only",
    "cache_perm",
    "exp",
    "sig",
    "apiKey",
];

/// How the image is fitted into `w`×`h`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fit {
    /// Inside w×h keeping the aspect ratio, never enlarged.
    #[default]
    Max,
    /// Covers w×h exactly, centred, the overflow cut off.
    Crop,
    /// Inside w×h, then padded to exactly w×h with `bg`.
    Pad,
    /// Exactly w×h, aspect ratio ignored.
    Stretch,
}

impl Fit {
    pub fn as_str(self) -> &'static str {
        match self {
            Fit::Max => "max",
            Fit::Crop => "crop",
            Fit::Pad => "pad",
            Fit::Stretch => "stretch",
        }
    }
}

/// What `f` asked for: a concrete format, or the `Accept`-driven choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FormatReq {
    #[default]
    Auto,
    Exact(Format),
}

/// A bad or unknown query parameter: `name` is the parameter as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    pub name: String,
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter `{}`: {}", self.name, self.message)
    }
}

impl std::error::Error for ParamError {}

fn bad(name: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        name: name.to_string(),
        message: message.into(),
    }
}

/// Parsed transformation parameters. `None` means "not given" so that a
/// preset and a query can be merged field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pub w: Option<u32>,
    pub h: Option<u32>,
    pub fit: Option<Fit>,
    pub f: Option<FormatReq>,
    pub f2: Option<Format>,
    pub q: Option<u8>,
    /// RGBA background for `fit=pad`.
    pub bg: Option<[u8; 4]>,
}

/// The parameters that decide a result's size and shape: a preset URL may
/// not change them (SPEC §6.1), so a Limited folder that allows a preset
/// never serves more than the preset makes.
pub const GEOMETRY: &[&str] = &["w", "h", "fit", "bg"];

/// Parses a raw query string (without the leading `?`). Percent-encoding is
/// decoded; invalid UTF-8 after decoding is a `ParamError`. A parameter
/// given twice is an error (which value wins would be a guess).
pub fn parse_query(q: &str) -> Result<Params, ParamError> {
    parse(q, true)
}

/// Parses the query of a preset URL (`/{acc}/{preset}/…`): only `f`, `f2`,
/// `q` and the CDN query ([`PASSTHROUGH`]); a [`GEOMETRY`] parameter is an
/// error naming it, whatever its value.
pub fn parse_preset_query(q: &str) -> Result<Params, ParamError> {
    parse(q, false)
}

fn parse(q: &str, geometry: bool) -> Result<Params, ParamError> {
    let mut p = Params::default();
    for pair in q.split('&').filter(|s| !s.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name, raw_name)?;
        let value = decode(&name, raw_value)?;
        if PASSTHROUGH.contains(&&*name) {
            continue;
        }
        if !geometry && GEOMETRY.contains(&&*name) {
            return Err(bad(
                &name,
                "cannot be changed on a preset URL (a preset URL may change only f, f2 and q); \
                 use /image/ for other sizes",
            ));
        }
        p.set(&name, &value)?;
    }
    Ok(p)
}

fn decode<'a>(name: &str, raw: &'a str) -> Result<Cow<'a, str>, ParamError> {
    if !raw.contains(['%', '+']) {
        return Ok(Cow::Borrowed(raw));
    }
    let plus = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map(|s| Cow::Owned(s.into_owned()))
        .map_err(|_| bad(name, "is not valid UTF-8"))
}

impl Params {
    /// Parses a stored preset such as `w=200&h=200&fit=crop`: the same
    /// syntax and checks as a query.
    pub fn from_preset(s: &str) -> Result<Params, ParamError> {
        parse_query(s.trim().trim_start_matches('?'))
    }

    /// Combines a preset with the request's query: a parameter given in the
    /// query wins over the preset's, the preset fills in the rest. This is
    /// what lets `/{acc}/thumb/x.jpg?f=png` keep the preset's size while
    /// changing the format; the query of a preset URL is parsed with
    /// [`parse_preset_query`], so it can only carry `f`, `f2` and `q`.
    pub fn merge(&self, over: &Params) -> Params {
        Params {
            w: over.w.or(self.w),
            h: over.h.or(self.h),
            fit: over.fit.or(self.fit),
            f: over.f.or(self.f),
            f2: over.f2.or(self.f2),
            q: over.q.or(self.q),
            bg: over.bg.or(self.bg),
        }
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let dup = match name {
            "w" => self.w.replace(side(name, value)?).is_some(),
            "h" => self.h.replace(side(name, value)?).is_some(),
            "fit" => self.fit.replace(fit(name, value)?).is_some(),
            "f" => {
                let req = match value {
                    "auto" => FormatReq::Auto,
                    v => FormatReq::Exact(format(name, v)?),
                };
                self.f.replace(req).is_some()
            }
            "f2" => self.f2.replace(format(name, value)?).is_some(),
            "q" => self.q.replace(quality(name, value)?).is_some(),
            "bg" => self.bg.replace(colour(name, value)?).is_some(),
            _ => return Err(bad(name, "is not a known image transformation parameter")),
        };
        if dup {
            return Err(bad(name, "is given more than once"));
        }
        Ok(())
    }

    pub fn fit_or_default(&self) -> Fit {
        self.fit.unwrap_or_default()
    }

    pub fn quality(&self) -> u8 {
        self.q.unwrap_or(DEFAULT_QUALITY)
    }

    /// A canonical string for the cache key: every parameter in a fixed
    /// (alphabetical) order, defaults filled in, `f` replaced by the output
    /// format actually produced (so `f=auto` answered as WebP and `f=webp`
    /// share one cached result). `bg` only counts for `fit=pad`; `q` only
    /// for lossy outputs; `f2` never (it only steers the format choice).
    pub fn cache_key(&self, output: Format) -> String {
        // One buffer, fields in name order (the key is stored: keep its form);
        // numbers through `itoa`, not `fmt` (this runs on every cached hit).
        let fit = self.fit_or_default();
        let mut num = itoa::Buffer::new();
        let mut key = String::with_capacity(40);
        if fit == Fit::Pad {
            let [r, g, b, a] = self.bg.unwrap_or(default_bg(output));
            key.push_str("bg=");
            key.push_str(&hex::encode([r, g, b, a]));
            key.push('&');
        }
        key.push_str("f=");
        key.push_str(output.ext());
        key.push_str("&fit=");
        key.push_str(fit.as_str());
        if let Some(h) = self.h {
            key.push_str("&h=");
            key.push_str(num.format(h));
        }
        if output.is_lossy() {
            key.push_str("&q=");
            key.push_str(num.format(self.quality()));
        }
        if let Some(w) = self.w {
            key.push_str("&w=");
            key.push_str(num.format(w));
        }
        key
    }
}

/// `fit=pad`'s background when `bg` is absent: transparent where the output
/// format has alpha, else white.
pub fn default_bg(output: Format) -> [u8; 4] {
    if output.has_alpha() {
        [0, 0, 0, 0]
    } else {
        [255, 255, 255, 255]
    }
}

fn side(name: &str, v: &str) -> Result<u32, ParamError> {
    match v.parse::<u32>() {
        Ok(n) if (1..=MAX_SIDE).contains(&n) && !v.starts_with('+') => Ok(n),
        _ => Err(bad(
            name,
            format!("must be a whole number from 1 to {MAX_SIDE}"),
        )),
    }
}

fn quality(name: &str, v: &str) -> Result<u8, ParamError> {
    match v.parse::<u8>() {
        Ok(n) if (1..=100).contains(&n) && !v.starts_with('+') => Ok(n),
        _ => Err(bad(name, "must be a whole number from 1 to 100")),
    }
}

fn fit(name: &str, v: &str) -> Result<Fit, ParamError> {
    Ok(match v {
        "max" => Fit::Max,
        "crop" => Fit::Crop,
        "pad" => Fit::Pad,
        "stretch" => Fit::Stretch,
        _ => return Err(bad(name, "must be one of max, crop, pad, stretch")),
    })
}

fn format(name: &str, v: &str) -> Result<Format, ParamError> {
    Ok(match v {
        "jpg" | "jpeg" => Format::Jpeg,
        "png" => Format::Png,
        "webp" => Format::WebP,
        "avif" => Format::Avif,
        _ => {
            let also = if name == "f" { "auto, " } else { "" };
            return Err(bad(
                name,
                format!("must be one of {also}jpg, png, webp, avif"),
            ));
        }
    })
}

/// `ffff00`, `#ffff00`, or with alpha `ffff0080` / `#ffff0080`.
fn colour(name: &str, v: &str) -> Result<[u8; 4], ParamError> {
    let hex = v.strip_prefix('#').unwrap_or(v);
    let ok = (hex.len() == 6 || hex.len() == 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(bad(
            name,
            "must be a hex colour such as ffff00 or #ffff0080",
        ));
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0);
    let alpha = if hex.len() == 8 { byte(6) } else { 255 };
    Ok([byte(0), byte(2), byte(4), alpha])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter() {
        let p = parse_query("w=200&h=100&fit=pad&f=webp&f2=jpg&q=55&bg=%23ff000080").unwrap();
        assert_eq!(p.w, Some(200));
        assert_eq!(p.h, Some(100));
        assert_eq!(p.fit, Some(Fit::Pad));
        assert_eq!(p.f, Some(FormatReq::Exact(Format::WebP)));
        assert_eq!(p.f2, Some(Format::Jpeg));
        assert_eq!(p.q, Some(55));
        assert_eq!(p.bg, Some([255, 0, 0, 128]));
        assert_eq!(parse_query("bg=00ff00").unwrap().bg, Some([0, 255, 0, 255]));
        assert_eq!(
            parse_query("f=jpeg").unwrap().f,
            Some(FormatReq::Exact(Format::Jpeg))
        );
        assert_eq!(parse_query("f=auto").unwrap().f, Some(FormatReq::Auto));
    }

    #[test]
    fn defaults_and_passthrough() {
        let p = parse_query("download=true&cache_ttl=60&cache-ttl=5&version=3&auth=true&artifact=/x&cache=false&cache_only=true&cache_perm=auto&exp=1&sig=ab&apiKey=k&versionId=v").unwrap();
        assert_eq!(p, Params::default());
        assert_eq!(p.fit_or_default(), Fit::Max);
        assert_eq!(p.quality(), 80);
        assert_eq!(parse_query("").unwrap(), Params::default());
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            ("w=0", "w"),
            ("w=8193", "w"),
            ("h=abc", "h"),
            ("h=-4", "h"),
            ("q=0", "q"),
            ("q=101", "q"),
            ("fit=cover", "fit"),
            ("f=gif", "f"),
            ("f2=auto", "f2"),
            ("bg=red", "bg"),
            ("bg=%23ff00", "bg"),
            ("blur=3", "blur"),
            ("w=10&w=20", "w"),
            ("w=%FF", "w"),
        ];
        for (q, name) in cases {
            let err = parse_query(q).expect_err(q);
            assert_eq!(err.name, name, "{q}: {err}");
            assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn preset_queries_change_only_format_and_quality() {
        let p = parse_preset_query("f=webp&f2=jpg&q=50&download=true&cache_ttl=5&cache-ttl=5&version=1&auth=true&artifact=/a&cache=false&cache_only=true&cache_perm=auto").unwrap();
        assert_eq!(p.f, Some(FormatReq::Exact(Format::WebP)));
        assert_eq!((p.f2, p.q), (Some(Format::Jpeg), Some(50)));
        assert_eq!((p.w, p.h, p.fit, p.bg), (None, None, None, None));
        for (q, name) in [
            ("w=10", "w"),
            ("f=png&h=8192", "h"),
            ("fit=max", "fit"),
            ("bg=ffffff", "bg"),
            ("%77=10", "w"),
            ("w=bogus", "w"),
            ("q=50&zoom=2", "zoom"),
        ] {
            let err = parse_preset_query(q).expect_err(q);
            assert_eq!(err.name, name, "{q}");
        }
        assert!(parse_preset_query("q=0").is_err());
    }

    #[test]
    fn preset_merge_query_wins() {
        let preset = Params::from_preset("w=200&h=200&fit=crop").unwrap();
        let query = parse_query("f=png&w=50").unwrap();
        let m = preset.merge(&query);
        assert_eq!((m.w, m.h, m.fit), (Some(50), Some(200), Some(Fit::Crop)));
        assert_eq!(m.f, Some(FormatReq::Exact(Format::Png)));
        assert_eq!(Params::from_preset("fit=bogus").unwrap_err().name, "fit");
    }

    #[test]
    fn cache_key_is_canonical() {
        let a = parse_query("h=10&w=20&f=auto").unwrap();
        let b = parse_query("w=20&q=80&fit=max&h=10&f2=png").unwrap();
        assert_eq!(a.cache_key(Format::WebP), b.cache_key(Format::WebP));
        assert_eq!(a.cache_key(Format::WebP), "f=webp&fit=max&h=10&q=80&w=20");
        assert_eq!(a.cache_key(Format::Png), "f=png&fit=max&h=10&w=20");
        let pad = parse_query("w=5&fit=pad").unwrap();
        assert_eq!(
            pad.cache_key(Format::Jpeg),
            "bg=ffffffff&f=jpg&fit=pad&q=80&w=5"
        );
        assert_eq!(pad.cache_key(Format::Png), "bg=00000000&f=png&fit=pad&w=5");
        assert_ne!(
            a.cache_key(Format::Jpeg),
            parse_query("h=10&w=20&q=81")
                .unwrap()
                .cache_key(Format::Jpeg)
        );
    }
}
