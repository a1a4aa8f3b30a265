//! Content types from file extensions, and which types are worth
//! compressing.

/// The `Content-Type` for a path: from its extension, with
/// `charset=utf-8` on text types; `application/octet-stream` when the
/// extension is unknown or absent (what the exercise expects of `/files/`).
pub fn content_type(path: &str) -> String {
    let Some(mime) = mime_guess::from_path(path).first() else {
        return "application/octet-stream".to_string();
    };
    let essence = mime.essence_str();
    if is_text(essence) {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_string()
    }
}

fn is_text(essence: &str) -> bool {
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        )
}

/// True when a content coding is likely to shrink this type: text, and
/// structured text formats. Images, archives and media are already packed.
pub fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    is_text(essence)
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence,
            "application/wasm" | "application/x-javascript" | "font/ttf" | "font/otf"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_extensions() {
        assert_eq!(content_type("a/b.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.png"), "image/png");
        assert_eq!(content_type("humpty_dumpty"), "application/octet-stream");
        assert_eq!(content_type("x.unknownext"), "application/octet-stream");
        assert!(compressible("text/css; charset=utf-8"));
        assert!(compressible("image/svg+xml"));
        assert!(!compressible("image/png") && !compressible("application/octet-stream"));
    }
}
