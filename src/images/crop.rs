//! `.crop` files written by `@bytescale/upload-widget` (checked against
//! 4.29.0's `makeCropJson`):
//!
//! ```json
//! {"inputPath":"photo.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":10,"y":20},
//!  "size":{"width":100,"height":50,"type":"widthxheight!"}},"type":"crop"}]}}
//! ```
//!
//! `inputPath` is the input's file name relative to the `.crop` file's
//! folder; the numbers are pixels of the oriented (EXIF-applied) image,
//! rounded by the widget.

use super::{EngineError, Rect};
use serde::Deserialize;

/// Largest `.crop` file worth parsing (the widget writes ~200 bytes).
pub const MAX_CROP_FILE: usize = 64 * 1024;

/// A parsed crop file: the input's relative path and the rectangle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CropSpec {
    pub input_path: String,
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl CropSpec {
    pub fn rect(&self) -> Rect {
        Rect {
            x: self.x,
            y: self.y,
            width: self.width,
            height: self.height,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    input_path: String,
    pipeline: Pipeline,
}

#[derive(Deserialize)]
struct Pipeline {
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    #[serde(rename = "type")]
    kind: String,
    geometry: Option<Geometry>,
}

#[derive(Deserialize)]
struct Geometry {
    offset: Offset,
    size: Size,
}

#[derive(Deserialize)]
struct Offset {
    x: f64,
    y: f64,
}

#[derive(Deserialize)]
struct Size {
    width: f64,
    height: f64,
    #[serde(rename = "type")]
    kind: Option<String>,
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::Invalid(format!("crop file: {}", msg.into()))
}

/// Parses a `.crop` file. Exactly one step of type `crop` is accepted (what
/// the widget writes); its size type must be `widthxheight!` (exact size)
/// when present. The input path must be a plain relative path: no leading
/// `/`, no `..` or `.` segment, no backslash, no empty segment.
pub fn parse_crop(json: &[u8]) -> Result<CropSpec, EngineError> {
    if json.len() > MAX_CROP_FILE {
        return Err(invalid("larger than 64 KiB"));
    }
    let file: File = serde_json::from_slice(json).map_err(|e| invalid(e.to_string()))?;
    let [step] = file.pipeline.steps.as_slice() else {
        return Err(invalid("the pipeline must have exactly one step"));
    };
    if step.kind != "crop" {
        return Err(invalid(format!("unsupported step type `{}`", step.kind)));
    }
    let g = step
        .geometry
        .as_ref()
        .ok_or_else(|| invalid("the crop step has no geometry"))?;
    if let Some(kind) = g.size.kind.as_deref().filter(|k| *k != "widthxheight!") {
        return Err(invalid(format!("unsupported size type `{kind}`")));
    }
    check_path(&file.input_path)?;
    let num = |name: &str, v: f64, min: f64| -> Result<u32, EngineError> {
        let r = v.round();
        if !r.is_finite() || r < min || r > f64::from(u32::MAX) {
            return Err(invalid(format!("`{name}` out of range")));
        }
        Ok(r as u32)
    };
    Ok(CropSpec {
        input_path: file.input_path,
        x: num("x", g.offset.x, 0.0)?,
        y: num("y", g.offset.y, 0.0)?,
        width: num("width", g.size.width, 1.0)?,
        height: num("height", g.size.height, 1.0)?,
    })
}

fn check_path(p: &str) -> Result<(), EngineError> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.contains('\0')
        || p.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        return Err(invalid(
            "`inputPath` must be a relative path inside the crop file's folder",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte for byte what the widget's `JSON.stringify(makeCropJson(…))` writes.
    const WIDGET: &str = r#"{"inputPath":"photo.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":10,"y":20},"size":{"width":100,"height":50,"type":"widthxheight!"}},"type":"crop"}]}}"#;

    #[test]
    fn parses_widget_crop_file() {
        let c = parse_crop(WIDGET.as_bytes()).unwrap();
        assert_eq!(
            c,
            CropSpec {
                input_path: "photo.jpg".into(),
                x: 10,
                y: 20,
                width: 100,
                height: 50
            }
        );
        assert_eq!(
            c.rect(),
            Rect {
                x: 10,
                y: 20,
                width: 100,
                height: 50
            }
        );
    }

    #[test]
    fn rejects_bad_crop_files() {
        let cases = [
            "not json",
            r#"{"inputPath":"../secret.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":0,"y":0},"size":{"width":1,"height":1}},"type":"crop"}]}}"#,
            r#"{"inputPath":"/abs.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":0,"y":0},"size":{"width":1,"height":1}},"type":"crop"}]}}"#,
            r#"{"inputPath":"a.jpg","pipeline":{"steps":[]}}"#,
            r#"{"inputPath":"a.jpg","pipeline":{"steps":[{"type":"blur"}]}}"#,
            r#"{"inputPath":"a.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":-5,"y":0},"size":{"width":1,"height":1}},"type":"crop"}]}}"#,
            r#"{"inputPath":"a.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":0,"y":0},"size":{"width":0,"height":1}},"type":"crop"}]}}"#,
            r#"{"inputPath":"a.jpg","pipeline":{"steps":[{"geometry":{"offset":{"x":0,"y":0},"size":{"width":5,"height":1,"type":"widthxheight^"}},"type":"crop"}]}}"#,
        ];
        for c in cases {
            assert!(
                matches!(parse_crop(c.as_bytes()), Err(EngineError::Invalid(_))),
                "{c}"
            );
        }
    }
}
