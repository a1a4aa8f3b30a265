//! Small text helpers shared by the listing, the trace and the access log.

/// Lowercase hexadecimal digits by value.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// A JSON string literal for `s`: quotes and backslashes escaped, control
/// characters as `\u00XX`.
pub fn json_string(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    String::from_utf8(out).expect("escaping keeps UTF-8 whole")
}

/// Appends `s` as a JSON string literal to `out` (see [`json_string`]).
/// Bytes of multi-byte characters are all 0x80 or above, so they pass
/// through whole.
pub fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0..0x20 | 0x7f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(
            super::json_string("a\"b\\c\n\u{1}é"),
            "\"a\\\"b\\\\c\\u000a\\u0001é\""
        );
    }
}
