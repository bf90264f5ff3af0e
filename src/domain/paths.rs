//! File paths: validation (SPEC §1) and resolution of path templates (SPEC §5.1).

use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;
use serde::Deserialize;

/// Like JavaScript's `encodeURIComponent`, except `/` stays (as Bytescale's CDN URLs).
const PATH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// `<public>/<account>/raw<filePath>`, percent-encoded (`public`: no
/// trailing slash).
pub fn file_url(public: &str, account: &str, path: &str) -> String {
    format!(
        "{public}/{account}/raw{}",
        utf8_percent_encode(path, PATH_ENCODE)
    )
}

pub const MAX_PATH_BYTES: usize = 1024;
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Checks an absolute file path; the error says which rule it broke.
pub fn validate_file_path(path: &str) -> AppResult<()> {
    if path.ends_with('/') {
        return Err(AppError::invalid_path(
            path,
            "a file path may not end with '/'",
        ));
    }
    validate_path(path)
}

/// Checks an absolute folder path (`/` is the root; a trailing `/` is allowed).
pub fn validate_folder_path(path: &str) -> AppResult<()> {
    if path == "/" {
        return Ok(());
    }
    validate_path(path.strip_suffix('/').unwrap_or(path))
}

fn validate_path(path: &str) -> AppResult<()> {
    if !path.starts_with('/') {
        return Err(AppError::invalid_path(path, "it must start with '/'"));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(AppError::invalid_path(
            path,
            format!("it is {} bytes; the limit is {MAX_PATH_BYTES}", path.len()),
        ));
    }
    if path.contains('\\') {
        return Err(AppError::invalid_path(path, "backslashes are not allowed"));
    }
    if path.chars().any(char::is_control) {
        return Err(AppError::invalid_path(
            path,
            "control characters (including NUL) are not allowed",
        ));
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => {
                return Err(AppError::invalid_path(
                    path,
                    "empty segments ('//') are not allowed",
                ))
            }
            "." | ".." => {
                return Err(AppError::invalid_path(
                    path,
                    "'.' and '..' segments are not allowed",
                ))
            }
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Err(AppError::invalid_path(
                    path,
                    format!(
                        "a segment is {} bytes; the limit is {MAX_SEGMENT_BYTES}",
                        s.len()
                    ),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The parent folder of a file path (`/a/b.png` → `/a`, `/b.png` → `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last segment of a path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Bytescale's `path` object; every part optional, variables unexpanded.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathSpec {
    pub folder_path: Option<String>,
    pub file_name: Option<String>,
    pub file_name_fallback: Option<String>,
    pub file_name_variables_enabled: Option<bool>,
    pub folder_path_variables_enabled: Option<bool>,
}

/// A `path` field of a JSON request (SPEC §5.3 begin, §5.7): a full path
/// string, or a path spec object; absent: the default folder and name.
pub fn parse_path(v: Option<&serde_json::Value>) -> AppResult<PathSpec> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(PathSpec::default()),
        Some(serde_json::Value::String(s)) => {
            validate_file_path(s)?;
            Ok(PathSpec::from_file_path(s))
        }
        Some(obj) => serde_json::from_value(obj.clone()).map_err(|e| {
            AppError::invalid_request(
                format!("path is not valid: {e}."),
                "Send path as \"/folder/file.ext\" or {\"folderPath\": \"/folder\", \"fileName\": \"file.ext\"}.",
            )
        }),
    }
}

impl PathSpec {
    /// A full path given as one string (`filePath`): folder and name split at the last `/`.
    pub fn from_file_path(file_path: &str) -> PathSpec {
        let (folder, name) = match file_path.rfind('/') {
            Some(i) => (&file_path[..=i], &file_path[i + 1..]),
            None => ("", file_path),
        };
        PathSpec {
            folder_path: Some(folder.to_string()),
            file_name: Some(name.to_string()),
            ..PathSpec::default()
        }
    }
}

pub const DEFAULT_FOLDER: &str = "/uploads/{UTC_YEAR}/{UTC_MONTH}/{UTC_DAY}";
pub const DEFAULT_FILE_NAME: &str = "{UNIQUE_DIGITS_8}{ORIGINAL_FILE_EXT}";
/// Left in place by [`resolve`] until the bytes are hashed; see [`fill_hash`].
pub const HASH_VARIABLE: &str = "{FILE_HASH_SHA256}";

/// What variables expand to.
pub struct PathContext<'a> {
    pub now: DateTime<Utc>,
    /// The client's original file name (any directory part is dropped).
    pub original_file_name: Option<&'a str>,
}

/// A resolved path, and its fallback, possibly still holding [`HASH_VARIABLE`].
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub path: String,
    pub fallback: Option<String>,
}

/// Expands a path spec into absolute paths (not yet validated: call
/// [`validate_file_path`] after [`fill_hash`]).
pub fn resolve(spec: &PathSpec, ctx: &PathContext) -> AppResult<Resolved> {
    let folder_vars = spec.folder_path_variables_enabled.unwrap_or(true);
    let name_vars = spec.file_name_variables_enabled.unwrap_or(true);
    let folder_template = spec.folder_path.as_deref().unwrap_or(DEFAULT_FOLDER);
    let folder = if folder_vars {
        expand(folder_template, ctx)?
    } else {
        folder_template.to_string()
    };
    let folder = if folder.starts_with('/') {
        folder
    } else {
        format!("/{folder}")
    };
    let join = |name: &str| -> AppResult<String> {
        let name = if name_vars {
            expand(name, ctx)?
        } else {
            name.to_string()
        };
        if name.is_empty() {
            return Err(AppError::invalid_request(
                "The file name is empty.",
                "Give fileName, or leave it out to get a generated name.",
            ));
        }
        // Exactly one trailing '/' is the separator; more would be an empty segment.
        Ok(format!(
            "{}/{}",
            folder.strip_suffix('/').unwrap_or(&folder),
            name
        ))
    };
    let name_template = spec.file_name.as_deref().unwrap_or(DEFAULT_FILE_NAME);
    Ok(Resolved {
        path: join(name_template)?,
        fallback: spec.file_name_fallback.as_deref().map(join).transpose()?,
    })
}

/// Replaces [`HASH_VARIABLE`] once the SHA-256 is known.
pub fn fill_hash(path: &str, sha256: &str) -> String {
    path.replace(HASH_VARIABLE, sha256)
}

/// The client's file name with any directory part (`C:\fakepath\`) removed.
pub fn clean_original_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.chars().filter(|c| !c.is_control()).collect()
}

fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// Expands `{VARIABLE}`s; unknown variables are an error naming the known ones.
fn expand(template: &str, ctx: &PathContext) -> AppResult<String> {
    let original = ctx.original_file_name.map(clean_original_name);
    let (stem, ext) = original.as_deref().map(split_ext).unwrap_or(("", ""));
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let var = &after[..end];
        let now = ctx.now;
        match var {
            "UTC_DATE" => out.push_str(&now.format("%Y-%m-%d").to_string()),
            "UTC_YEAR" => out.push_str(&now.format("%Y").to_string()),
            "UTC_MONTH" => out.push_str(&now.format("%m").to_string()),
            "UTC_DAY" => out.push_str(&now.format("%d").to_string()),
            "UTC_TIME" => out.push_str(&now.format("%H%M%S").to_string()),
            "ORIGINAL_FILE_NAME" => out.push_str(stem),
            "ORIGINAL_FILE_EXT" => out.push_str(ext),
            "FILE_HASH_SHA256" => out.push_str(HASH_VARIABLE),
            v if v.starts_with("UNIQUE_DIGITS_") => {
                let n: usize = v["UNIQUE_DIGITS_".len()..]
                    .parse()
                    .ok()
                    .filter(|n| (1..=32).contains(n))
                    .ok_or_else(|| unknown_variable(var))?;
                let mut rng = rand::thread_rng();
                out.extend((0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))));
            }
            _ => return Err(unknown_variable(var)),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn unknown_variable(var: &str) -> AppError {
    AppError::invalid_request(
        format!("Unknown path variable {{{var}}}."),
        "Known variables: {UTC_DATE} {UTC_YEAR} {UTC_MONTH} {UTC_DAY} {UTC_TIME} \
         {UNIQUE_DIGITS_N} (N = 1–32) {ORIGINAL_FILE_NAME} {ORIGINAL_FILE_EXT} {FILE_HASH_SHA256}; \
         or set fileNameVariablesEnabled/folderPathVariablesEnabled to false.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ctx(name: Option<&str>) -> PathContext<'_> {
        PathContext {
            now: Utc.with_ymd_and_hms(2026, 3, 7, 9, 5, 1).unwrap(),
            original_file_name: name,
        }
    }

    #[test]
    fn rejects_every_bad_path_shape() {
        for bad in [
            "a.jpg",
            "/a//b.jpg",
            "/a/../b.jpg",
            "/a/./b.jpg",
            "/..",
            "/a\\b.jpg",
            "/a\0b",
            "/a\nb",
            "/a/",
            "",
        ] {
            let err = validate_file_path(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_path", "{bad:?}");
        }
        let long_segment = format!("/{}", "x".repeat(256));
        assert!(validate_file_path(&long_segment).is_err());
        let long_path = "/abcdefghi".repeat(103);
        assert!(validate_file_path(&long_path).is_err());
        assert!(validate_file_path(&format!("/{}", "x".repeat(255))).is_ok());
        assert!(validate_file_path("/a b/ünï/..x/.hidden").is_ok());
    }

    #[test]
    fn expands_variables_and_defaults() {
        let spec = PathSpec {
            folder_path: Some("/u/{UTC_YEAR}/{UTC_MONTH}".into()),
            file_name: Some("{ORIGINAL_FILE_NAME}-{UTC_DATE}-{UTC_TIME}{ORIGINAL_FILE_EXT}".into()),
            ..Default::default()
        };
        let r = resolve(&spec, &ctx(Some("C:\\fakepath\\cat.photo.JPG"))).unwrap();
        assert_eq!(r.path, "/u/2026/03/cat.photo-2026-03-07-090501.JPG");

        let r = resolve(&PathSpec::default(), &ctx(Some("x.png"))).unwrap();
        let (folder, name) = r.path.rsplit_once('/').unwrap();
        assert_eq!(folder, "/uploads/2026/03/07");
        assert_eq!(name.len(), 12, "{name}");
        assert!(name.ends_with(".png") && name[..8].bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn hash_variable_waits_for_the_bytes() {
        let spec = PathSpec::from_file_path("/h/{FILE_HASH_SHA256}.bin");
        let r = resolve(&spec, &ctx(None)).unwrap();
        assert_eq!(fill_hash(&r.path, "abc"), "/h/abc.bin");
    }

    #[test]
    fn unknown_variables_and_disabled_expansion() {
        let spec = PathSpec::from_file_path("/a/{NOPE}.txt");
        assert_eq!(
            resolve(&spec, &ctx(None)).unwrap_err().code(),
            "invalid_request"
        );
        let spec = PathSpec {
            folder_path: Some("/a".into()),
            file_name: Some("{NOPE}.txt".into()),
            file_name_variables_enabled: Some(false),
            ..Default::default()
        };
        assert_eq!(resolve(&spec, &ctx(None)).unwrap().path, "/a/{NOPE}.txt");
        let spec = PathSpec::from_file_path("/a/{UNIQUE_DIGITS_33}");
        assert!(resolve(&spec, &ctx(None)).is_err());
    }

    #[test]
    fn relative_folders_and_fallbacks() {
        let spec = PathSpec {
            folder_path: Some("docs".into()),
            file_name: Some("a.txt".into()),
            file_name_fallback: Some("a-{UNIQUE_DIGITS_2}.txt".into()),
            ..Default::default()
        };
        let r = resolve(&spec, &ctx(None)).unwrap();
        assert_eq!(r.path, "/docs/a.txt");
        assert!(r.fallback.unwrap().starts_with("/docs/a-"));
        assert_eq!(PathSpec::from_file_path("/x.txt").folder_path.unwrap(), "/");
        let keep = |p: &str| {
            resolve(&PathSpec::from_file_path(p), &ctx(None))
                .unwrap()
                .path
        };
        assert_eq!(keep("/x.txt"), "/x.txt");
        assert_eq!(keep("/a//b.txt"), "/a//b.txt");
        assert_eq!(keep("/a/b/c.txt"), "/a/b/c.txt");
        assert_eq!(parent("/a/b.png"), "/a");
        assert_eq!(parent("/b.png"), "/");
    }
}
