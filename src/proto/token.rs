//! Byte classes from RFC 9110, RFC 9112 and RFC 3986, as tables built at
//! compile time: one lookup per byte on the hot path.

/// Builds a 256-entry table from a predicate usable in `const` context.
macro_rules! byte_table {
    ($b:ident => $pred:expr) => {{
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            let $b = i as u8;
            table[i] = $pred;
            i += 1;
        }
        table
    }};
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
///          "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA` (RFC 9110 §5.6.2)
pub static TCHAR: [bool; 256] = byte_table!(b => b.is_ascii_alphanumeric()
    || matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~'));

/// Bytes allowed inside a field value once the surrounding OWS is trimmed:
/// `field-vchar = VCHAR / obs-text`, plus SP and HTAB between them
/// (RFC 9110 §5.5). CR, LF, NUL and the other controls are not.
pub static FIELD_VALUE: [bool; 256] = byte_table!(b => b == b'\t' || (b >= 0x20 && b != 0x7f));

/// Bytes of an origin-form path or query before percent-decoding:
/// `pchar = unreserved / pct-encoded / sub-delims / ":" / "@"`, plus `/` and
/// `?` (RFC 3986 §3.3, §3.4). `%` is checked for two hex digits separately.
pub static TARGET: [bool; 256] = byte_table!(b => b.is_ascii_alphanumeric()
    || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')'
        | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@' | b'/' | b'?' | b'%'));

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986 §3.2.2).
pub static REG_NAME: [bool; 256] = byte_table!(b => b.is_ascii_alphanumeric()
    || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')'
        | b'*' | b'+' | b',' | b';' | b'=' | b'%'));

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text` (RFC 9110 §5.6.4)
pub static QDTEXT: [bool; 256] = byte_table!(b => b == b'\t' || b == b' ' || b == 0x21
    || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b >= 0x80);

/// True when every byte of `s` is a tchar and there is at least one.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| TCHAR[b as usize])
}

/// Trims optional whitespace (`OWS = *( SP / HTAB )`) from both ends.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Splits a `#rule` list on commas, trims OWS, and skips empty elements as
/// RFC 9110 §5.6.1 asks of recipients.
pub fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|item| !item.is_empty())
}

/// The value of one hex digit, if it is one.
pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_match_their_rules() {
        assert!(TCHAR[b'a' as usize] && TCHAR[b'~' as usize] && TCHAR[b'!' as usize]);
        assert!(!TCHAR[b':' as usize] && !TCHAR[b' ' as usize] && !TCHAR[b'"' as usize]);
        assert!(FIELD_VALUE[b'\t' as usize] && FIELD_VALUE[0x80] && FIELD_VALUE[b' ' as usize]);
        assert!(!FIELD_VALUE[0] && !FIELD_VALUE[b'\r' as usize] && !FIELD_VALUE[0x7f]);
        assert!(TARGET[b'/' as usize] && !TARGET[b'#' as usize] && !TARGET[b' ' as usize]);
        assert!(!TARGET[b'<' as usize] && !TARGET[0x80]);
        assert!(!REG_NAME[b'@' as usize] && !REG_NAME[b':' as usize]);
    }

    #[test]
    fn lists_split_and_trim() {
        let items: Vec<&[u8]> = list_items(b" gzip ,, br;q=0.5\t,").collect();
        assert_eq!(items, vec![&b"gzip"[..], &b"br;q=0.5"[..]]);
        assert_eq!(trim_ows(b" \t x \t"), b"x");
    }
}
