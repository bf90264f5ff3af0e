//! The dashboard's static files, embedded in the binary. Each is served at
//! `/dashboard/assets/<hash>/<name>`, the hash being the first 12 hex digits of
//! the SHA-256 of its bytes, so it can be cached forever. Scripts and style
//! sheets are served [`compact`]ed: without comments, indentation and blank
//! lines (the files in `assets/` keep them for their readers).

use sha2::{Digest, Sha256};
use std::sync::LazyLock;

pub struct Asset {
    pub name: &'static str,
    pub mime: &'static str,
    /// What is served (scripts and style sheets compacted).
    pub bytes: &'static [u8],
    /// The file as written in `assets/` (what the tests check [`compact`]
    /// against).
    #[cfg_attr(not(test), allow(dead_code))]
    source: &'static [u8],
    pub hash: String,
}

impl Asset {
    /// The URL path the shell links to.
    pub fn href(&self) -> String {
        format!("/dashboard/assets/{}/{}", self.hash, self.name)
    }
}

fn asset(name: &'static str, mime: &'static str, source: &'static [u8]) -> Asset {
    let bytes = match std::str::from_utf8(source) {
        Ok(text) if mime == JS || mime == CSS => {
            Box::leak(compact(text, mime == CSS).into_bytes().into_boxed_slice())
        }
        _ => source,
    };
    let hash = hex::encode(Sha256::digest(bytes))[..12].to_string();
    Asset {
        name,
        mime,
        bytes,
        source,
        hash,
    }
}

/// `text` without comment lines (`//` in scripts, `/* … */` in style
/// sheets), leading indentation and blank lines: line breaks stay, so a
/// script means what it meant (none of ours has a string or template that
/// spans lines; a test checks).
fn compact(text: &str, css: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_comment = false;
    for line in text.lines() {
        let mut line = line.trim_start();
        if css {
            let mut kept = String::new();
            let mut rest = line;
            loop {
                if in_comment {
                    match rest.find("*/") {
                        Some(end) => {
                            rest = &rest[end + 2..];
                            in_comment = false;
                        }
                        None => break,
                    }
                } else {
                    match rest.find("/*") {
                        Some(start) => {
                            kept.push_str(&rest[..start]);
                            rest = &rest[start + 2..];
                            in_comment = true;
                        }
                        None => {
                            kept.push_str(rest);
                            break;
                        }
                    }
                }
            }
            if !kept.trim().is_empty() {
                out.push_str(kept.trim());
                out.push('\n');
            }
            continue;
        }
        if line.starts_with("//") {
            line = "";
        }
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// In load order: the shell links every style sheet and script in this
/// order (scripts `defer`), `app.js` first (helpers, API, router), the pages'
/// files after it.
pub static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        asset("app.js", JS, include_bytes!("assets/app.js")),
        asset("files.js", JS, include_bytes!("assets/files.js")),
        asset("upload.js", JS, include_bytes!("assets/upload.js")),
        asset("details.js", JS, include_bytes!("assets/details.js")),
        asset("search.js", JS, include_bytes!("assets/search.js")),
        asset("images.js", JS, include_bytes!("assets/images.js")),
        asset("pages.js", JS, include_bytes!("assets/pages.js")),
        asset("wave3.js", JS, include_bytes!("assets/wave3.js")),
        asset("apidocs.js", JS, include_bytes!("assets/apidocs.js")),
        asset(
            "account-extras.js",
            JS,
            include_bytes!("assets/account-extras.js"),
        ),
        asset("app.css", CSS, include_bytes!("assets/app.css")),
        asset("extras.css", CSS, include_bytes!("assets/extras.css")),
        asset("files.css", CSS, include_bytes!("assets/files.css")),
        asset(
            "icon.svg",
            "image/svg+xml",
            include_bytes!("assets/icon.svg"),
        ),
    ]
});

/// The `<link>` and `<script>` tags of every style sheet and script, in order.
pub fn head_tags() -> String {
    ASSETS
        .iter()
        .filter_map(|a| match a.mime {
            CSS => Some(format!("<link rel=\"stylesheet\" href=\"{}\">\n", a.href())),
            JS => Some(format!("<script src=\"{}\" defer></script>\n", a.href())),
            _ => None,
        })
        .collect()
}

pub fn by_name(name: &str) -> &'static Asset {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .expect("embedded asset")
}

/// The asset at `/dashboard/assets/{hash}/{name}`, if the hash is current.
pub fn find(hash: &str, name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name && a.hash == hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #30: every script and style sheet the dashboard loads, together,
    /// stays within 150 KiB, uncompressed, as served (compacted: what a
    /// browser downloads).
    #[test]
    fn scripts_and_styles_fit_the_budget() {
        const BUDGET: usize = 150 * 1024;
        let code: Vec<&Asset> = ASSETS
            .iter()
            .filter(|a| a.mime.starts_with("text/javascript") || a.mime.starts_with("text/css"))
            .collect();
        let total: usize = code.iter().map(|a| a.bytes.len()).sum();
        let names: Vec<String> = code
            .iter()
            .map(|a| format!("{} {} B", a.name, a.bytes.len()))
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("app.js ")),
            "app.js is counted"
        );
        assert!(
            total <= BUDGET,
            "dashboard JS+CSS is {total} B, over the {BUDGET} B budget: {names:?}"
        );
    }

    /// What [`compact`] relies on: no script has a template literal or string
    /// that spans lines (which its indentation or `//` lines would be part of).
    #[test]
    fn no_script_has_a_multiline_literal() {
        for a in ASSETS.iter().filter(|a| a.mime == JS) {
            let (name, text) = (a.name, std::str::from_utf8(a.source).unwrap());
            for (i, line) in text.lines().enumerate() {
                let ticks = line.matches('`').count() - line.matches("\\`").count();
                assert!(
                    ticks % 2 == 0,
                    "{name}:{}: a template literal spans lines",
                    i + 1
                );
                assert!(
                    !line.ends_with('\\'),
                    "{name}:{}: a string continues",
                    i + 1
                );
            }
        }
    }

    #[test]
    fn compact_keeps_code_and_drops_comments() {
        let js = "// head\n  const a = 1; // tail\n\n    if (a) {\n      f(\"//x\");\n    }\n";
        assert_eq!(
            compact(js, false),
            "const a = 1; // tail\nif (a) {\nf(\"//x\");\n}\n"
        );
        let css = "/* a\n b */\n.x { color: red; } /* c */\n  .y {\n    top: 0;\n  }\n";
        assert_eq!(compact(css, true), ".x { color: red; }\n.y {\ntop: 0;\n}\n");
    }

    /// Every embedded file is a script, a style sheet or an image: a new kind
    /// of asset gets a conscious place in the budget above.
    #[test]
    fn every_asset_is_known() {
        for a in ASSETS.iter() {
            assert!(
                ["text/javascript", "text/css", "image/"]
                    .iter()
                    .any(|p| a.mime.starts_with(p)),
                "{} has the unexpected type {}",
                a.name,
                a.mime
            );
        }
    }
}
