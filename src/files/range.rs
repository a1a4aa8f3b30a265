//! Byte ranges (RFC 9110 §14): parsing `Range: bytes=…`, and the parts of
//! a `multipart/byteranges` body.

use bytes::Bytes;

/// Most ranges served in one response; a request for more is answered
/// with the whole representation, as RFC 9110 §14.2 allows.
pub const MAX_RANGES: usize = 16;

/// What a `Range` field asks of a representation of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// No usable `Range`: serve the whole representation with 200.
    Whole,
    /// Serve these inclusive `(first, last)` ranges with 206.
    Parts(Vec<(u64, u64)>),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Interprets a `Range` value. A malformed field or another unit is
/// ignored (whole); a well-formed one whose ranges all miss is 416.
pub fn parse(value: &[u8], len: u64) -> Ranges {
    let value = crate::proto::token::trim_ows(value);
    let Some(specs) = value.strip_prefix(b"bytes=") else {
        return Ranges::Whole;
    };
    let mut parts = Vec::new();
    let mut any = false;
    for spec in specs.split(|&b| b == b',') {
        let spec = crate::proto::token::trim_ows(spec);
        if spec.is_empty() {
            continue;
        }
        any = true;
        let Some(dash) = spec.iter().position(|&b| b == b'-') else {
            return Ranges::Whole;
        };
        let (first, last) = (&spec[..dash], &spec[dash + 1..]);
        let range = match (number(first), number(last)) {
            // suffix-range: the last n bytes
            (None, Some(n)) if first.is_empty() => {
                (n > 0 && len > 0).then(|| (len.saturating_sub(n), len - 1))
            }
            // first- : to the end
            (Some(f), None) if last.is_empty() => (f < len).then(|| (f, len - 1)),
            (Some(f), Some(l)) if f <= l => (f < len).then(|| (f, l.min(len - 1))),
            _ => return Ranges::Whole,
        };
        parts.extend(range);
    }
    if !any {
        return Ranges::Whole;
    }
    if parts.is_empty() {
        return Ranges::Unsatisfiable;
    }
    if parts.len() > MAX_RANGES {
        return Ranges::Whole;
    }
    // Ranges that together ask for more bytes than the representation has
    // (only overlapping ones can) would make the answer larger than the
    // whole, up to `MAX_RANGES` times: the whole is sent instead, as RFC
    // 9110 §14.2 allows for overlapping ranges.
    let asked: u64 = parts.iter().map(|&(first, last)| last - first + 1).sum();
    if asked > len {
        return Ranges::Whole;
    }
    Ranges::Parts(parts)
}

fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// `bytes first-last/len`
pub fn content_range(first: u64, last: u64, len: u64) -> String {
    format!("bytes {first}-{last}/{len}")
}

/// The framing around each part of a `multipart/byteranges` body: the
/// headers before each part, and the closing delimiter.
pub fn multipart_frames(
    boundary: &str,
    content_type: &str,
    parts: &[(u64, u64)],
    len: u64,
) -> (Vec<Bytes>, Bytes) {
    let heads = parts
        .iter()
        .enumerate()
        .map(|(i, &(first, last))| {
            let lead = if i == 0 { "" } else { "\r\n" };
            Bytes::from(format!(
                "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
                content_range(first, last, len)
            ))
        })
        .collect();
    (heads, Bytes::from(format!("\r\n--{boundary}--\r\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_range_forms() {
        use Ranges::*;
        assert_eq!(parse(b"bytes=0-4", 10), Parts(vec![(0, 4)]));
        assert_eq!(parse(b"bytes=5-", 10), Parts(vec![(5, 9)]));
        assert_eq!(parse(b"bytes=-3", 10), Parts(vec![(7, 9)]));
        assert_eq!(parse(b"bytes=-30", 10), Parts(vec![(0, 9)]));
        assert_eq!(parse(b"bytes=8-100", 10), Parts(vec![(8, 9)]));
        assert_eq!(
            parse(b"bytes=0-0, 2-3 ,-1", 10),
            Parts(vec![(0, 0), (2, 3), (9, 9)])
        );
        assert_eq!(parse(b"bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse(b"bytes=20-30, 40-", 10), Unsatisfiable);
        assert_eq!(parse(b"bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse(b"bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse(b"bytes=5-1", 10), Whole);
        assert_eq!(parse(b"bytes=a-b", 10), Whole);
        assert_eq!(parse(b"items=0-1", 10), Whole);
        assert_eq!(parse(b"bytes=", 10), Whole);
        assert_eq!(parse(b"bytes=1", 10), Whole);
        let many: String = (0..20).map(|i| format!("{i}-{i},")).collect();
        assert_eq!(parse(format!("bytes={many}").as_bytes(), 100), Whole);
        // Overlaps are served while the parts add up to no more than the
        // whole, and answered with the whole once they would exceed it.
        assert_eq!(parse(b"bytes=0-4,3-7", 10), Parts(vec![(0, 4), (3, 7)]));
        assert_eq!(parse(b"bytes=0-5,3-9", 10), Whole);
        assert_eq!(parse(b"bytes=0-,0-", 10), Whole);
        assert_eq!(parse(b"bytes=-10,0-0", 10), Whole);
        assert_eq!(parse(b"bytes=0-0,0-0,0-0", 10), Parts(vec![(0, 0); 3]));
    }

    #[test]
    fn multipart_framing() {
        let (heads, end) = multipart_frames("B", "text/plain", &[(0, 1), (5, 6)], 10);
        assert_eq!(
            &heads[0][..],
            b"--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n"
        );
        assert!(heads[1].starts_with(b"\r\n--B\r\n"));
        assert_eq!(&end[..], b"\r\n--B--\r\n");
    }
}
