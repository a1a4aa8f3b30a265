//! Arbitrary bytes into `parse_target`, then `decode_path` on the path part,
//! as the connection does. Invariants: no panic; the parts lie inside the
//! target; a path said to be plain decodes to itself; a decoded path starts
//! with '/', has no `.` or `..` segment left and no NUL.
#![no_main]

use barehttp::proto::target::{Form, decode_path, parse_target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(target) = parse_target(data) else {
        return;
    };
    let parts = [Some(target.path), target.query, target.authority];
    for (start, end) in parts.into_iter().flatten() {
        assert!(
            start <= end && end <= data.len(),
            "part {start}..{end} outside the target"
        );
    }
    if target.form == Form::Asterisk {
        assert_eq!(data, b"*");
        return;
    }
    let (start, end) = target.path;
    let raw = &data[start..end];
    if raw.is_empty() {
        // Only an absolute-form target may have an empty path ("http://h?q").
        assert_eq!(target.form, Form::Absolute);
        return;
    }
    assert!(
        raw.starts_with(b"/"),
        "path {raw:?} does not start with '/'"
    );
    let decoded = decode_path(raw);
    if target.plain {
        // The connection skips decoding a plain path: it must be unchanged.
        assert_eq!(
            decoded.as_deref().map(str::as_bytes),
            Ok(raw),
            "plain path {raw:?} changed in decoding"
        );
    }
    let Ok(path) = decoded else {
        return;
    };
    assert!(
        path.starts_with('/'),
        "decoded {path:?} does not start with '/'"
    );
    assert!(!path.contains('\0'), "decoded {path:?} has a NUL");
    for segment in path.split('/') {
        assert!(
            segment != "." && segment != "..",
            "decoded {path:?} keeps a dot-segment"
        );
    }
    assert!(!path.contains("/../") && !path.contains("/./"));
    // Decoding is idempotent on what it produced, unless the first pass
    // decoded a '%' (then the second pass would decode again).
    if !path.contains('%') {
        assert_eq!(decode_path(path.as_bytes()).as_deref(), Ok(&*path));
    }
});
