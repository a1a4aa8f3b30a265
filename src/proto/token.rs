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

/// The [`TARGET`] bytes a path or query is mostly made of: all but `%`,
/// `.` and `?`, which need a look at their neighbours or end the path.
pub static TARGET_PLAIN: [bool; 256] =
    byte_table!(b => TARGET[b as usize] && !matches!(b, b'%' | b'.' | b'?'));

/// The bytes of `reg-name = *( unreserved / pct-encoded / sub-delims )`
/// (RFC 3986 §3.2.2) but `%`, which needs two hex digits after it and is
/// checked apart.
pub static REG_NAME_PLAIN: [bool; 256] = byte_table!(b => b.is_ascii_alphanumeric()
    || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')'
        | b'*' | b'+' | b',' | b';' | b'='));

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text` (RFC 9110 §5.6.4)
pub static QDTEXT: [bool; 256] = byte_table!(b => b == b'\t' || b == b' ' || b == 0x21
    || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b >= 0x80);

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` below 0x80 that is less than `n`
/// (`n` ≤ 0x80). A borrow may also flag a byte just above a flagged one,
/// so only the lowest flag is exact: it marks the first such byte.
const fn less_mask(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * n as u64) & !x & HIGHS
}

/// The high bit of each byte of `x` equal to `b` (the lowest flag exact,
/// as in [`less_mask`]).
const fn byte_mask(x: u64, b: u8) -> u64 {
    let y = x ^ (ONES * b as u64);
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// True when some byte of `x` below 0x80 is less than `n` (`n` ≤ 0x80).
/// May also flag a byte just above a flagged one, so a flagged word is
/// checked again byte by byte.
const fn has_less(x: u64, n: u8) -> bool {
    less_mask(x, n) != 0
}

/// True when some byte of `x` equals `b`.
const fn has_byte(x: u64, b: u8) -> bool {
    byte_mask(x, b) != 0
}

/// The first byte not allowed in a field value ([`FIELD_VALUE`]): a
/// control other than HTAB (CR and LF included), or DEL. Sixteen bytes
/// at a time, byte by byte only where a word looks suspicious.
#[inline]
pub fn find_non_field_value(s: &[u8]) -> Option<usize> {
    let mut base = 0;
    let mut pairs = s.chunks_exact(16);
    for pair in pairs.by_ref() {
        let (lo, hi) = pair.split_at(8);
        let (lo_flags, hi_flags) = (value_flags(lo), value_flags(hi));
        if lo_flags | hi_flags != 0 {
            if let Some(at) = value_fault(lo, lo_flags) {
                return Some(base + at);
            }
            if let Some(at) = value_fault(hi, hi_flags) {
                return Some(base + 8 + at);
            }
        }
        base += 16;
    }
    let mut rest = pairs.remainder();
    if rest.len() >= 8 {
        let (word, tail) = rest.split_at(8);
        if let Some(at) = value_fault(word, value_flags(word)) {
            return Some(base + at);
        }
        base += 8;
        rest = tail;
    }
    rest.iter()
        .position(|&b| !FIELD_VALUE[b as usize])
        .map(|i| base + i)
}

/// The flags of [`find_non_field_value`] for eight bytes: the lowest marks
/// the first control or DEL.
#[inline(always)]
fn value_flags(word: &[u8]) -> u64 {
    let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
    less_mask(x, 0x20) | byte_mask(x, 0x7f)
}

/// Where in a flagged word the first byte not allowed in a value is: the
/// lowest flag, unless it is an allowed HTAB.
#[inline(always)]
fn value_fault(word: &[u8], flags: u64) -> Option<usize> {
    if flags == 0 {
        return None;
    }
    let first = (flags.trailing_zeros() / 8) as usize;
    if word[first] != b'\t' {
        return Some(first);
    }
    word[first..]
        .iter()
        .position(|&b| !FIELD_VALUE[b as usize])
        .map(|i| first + i)
}

/// How many bytes at the start of `s` are in `table`: the index of the
/// first that is not, or `s.len()`. Four bytes are looked up per step and
/// their answers combined without branching in between: on a browser's
/// head the parser is about a tenth faster than with one byte per step.
#[inline(always)]
pub fn run_in(table: &[bool; 256], s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(&[a, b, c, d]) = s.get(i..i + 4) {
        let all = table[a as usize] & table[b as usize] & table[c as usize] & table[d as usize];
        if !all {
            break;
        }
        i += 4;
    }
    while let Some(&b) = s.get(i) {
        if !table[b as usize] {
            break;
        }
        i += 1;
    }
    i
}

/// True when every byte is visible ASCII, `0x21..=0x7e` (a request-target).
pub fn is_visible_ascii(s: &[u8]) -> bool {
    find_non_visible(s).is_none()
}

/// Where the first byte of `s` outside visible ASCII (`%x21-7E`) is, if
/// any: eight bytes at a time.
pub fn find_non_visible(s: &[u8]) -> Option<usize> {
    let mut base = 0;
    let mut words = s.chunks_exact(8);
    for word in words.by_ref() {
        let x = u64::from_le_bytes(word.try_into().expect("chunks of 8"));
        if x & HIGHS != 0 || has_less(x, 0x21) || has_byte(x, 0x7f) {
            if let Some(at) = word.iter().position(|b| !(0x21..=0x7e).contains(b)) {
                return Some(base + at);
            }
        }
        base += 8;
    }
    let rest = words.remainder();
    rest.iter()
        .position(|b| !(0x21..=0x7e).contains(b))
        .map(|i| base + i)
}

/// True when every byte of `s` is a tchar and there is at least one.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && run_in(&TCHAR, s) == s.len()
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
    fn run_in_stops_at_the_first_byte_outside_the_table() {
        let inputs: [&[u8]; 9] = [
            b"",
            b"Host",
            b"Host:",
            b"Content-Length: 5",
            b"abcd",
            b"abcd:",
            b"abc:defgh",
            b"abcdefgh ijk",
            b"\x80abc",
        ];
        for s in inputs {
            let want = s
                .iter()
                .position(|&b| !TCHAR[b as usize])
                .unwrap_or(s.len());
            assert_eq!(run_in(&TCHAR, s), want, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn tables_match_their_rules() {
        assert!(TCHAR[b'a' as usize] && TCHAR[b'~' as usize] && TCHAR[b'!' as usize]);
        assert!(!TCHAR[b':' as usize] && !TCHAR[b' ' as usize] && !TCHAR[b'"' as usize]);
        assert!(FIELD_VALUE[b'\t' as usize] && FIELD_VALUE[0x80] && FIELD_VALUE[b' ' as usize]);
        assert!(!FIELD_VALUE[0] && !FIELD_VALUE[b'\r' as usize] && !FIELD_VALUE[0x7f]);
        assert!(TARGET[b'/' as usize] && !TARGET[b'#' as usize] && !TARGET[b' ' as usize]);
        assert!(!TARGET[b'<' as usize] && !TARGET[0x80]);
        assert!(!REG_NAME_PLAIN[b'@' as usize] && !REG_NAME_PLAIN[b':' as usize]);
        assert!(!REG_NAME_PLAIN[b'%' as usize]);
        for b in 0..=255u8 {
            let special = matches!(b, b'%' | b'.' | b'?');
            assert_eq!(TARGET_PLAIN[b as usize], TARGET[b as usize] && !special);
        }
    }

    #[test]
    fn word_checks_agree_with_the_tables() {
        // Lengths that end in the byte loop, after a word, after a pair
        // of words, and after a pair, a word and some bytes.
        for len in [11, 16, 24, 27] {
            for b in 0..=255u8 {
                for pos in 0..len {
                    let mut s = vec![b'a'; len];
                    s[pos] = b;
                    let want = (!FIELD_VALUE[b as usize]).then_some(pos);
                    assert_eq!(find_non_field_value(&s), want, "{b:#x} at {pos} of {len}");
                    let visible = (0x21..=0x7e).contains(&b);
                    assert_eq!(is_visible_ascii(&s), visible, "{b:#x} at {pos} of {len}");
                    assert_eq!(find_non_visible(&s), (!visible).then_some(pos));
                }
            }
        }
    }

    /// Two chosen bytes anywhere in a pair of words and the word after it:
    /// the first disallowed one is found even when a borrow in the word
    /// arithmetic flags a later byte, or an allowed HTAB comes first.
    #[test]
    fn the_first_disallowed_byte_is_found_among_several() {
        let first_bytes = [b'\t', 0x00, 0x01, 0x0d, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff];
        for a in first_bytes {
            for b in 0..=255u8 {
                for i in 0..24 {
                    for j in i + 1..24 {
                        let mut s = [b'x'; 24];
                        s[i] = a;
                        s[j] = b;
                        let want = s.iter().position(|&c| !FIELD_VALUE[c as usize]);
                        assert_eq!(find_non_field_value(&s), want, "{a:#x}@{i} {b:#x}@{j}");
                    }
                }
            }
        }
    }

    #[test]
    fn lists_split_and_trim() {
        let items: Vec<&[u8]> = list_items(b" gzip ,, br;q=0.5\t,").collect();
        assert_eq!(items, vec![&b"gzip"[..], &b"br;q=0.5"[..]]);
        assert_eq!(trim_ows(b" \t x \t"), b"x");
    }
}
