//! The request-head parser: bytes in, `Complete(consumed, head)` or `Partial`
//! out. It never touches a socket and never consumes a byte past the empty
//! line that ends the head.

use memchr::memchr;

use super::head::{Field, Fields, Method, Span, Version};
use super::token::{TCHAR, find_non_field_value, find_non_visible, is_token, run_in};
use crate::error::ProtoError;

/// At most this many empty lines may precede a request line
/// (RFC 9112 §2.2 says SHOULD ignore "at least one").
pub const MAX_LEADING_EMPTY_LINES: usize = 8;

/// The longest head the parser reads: spans are 16-bit offsets. Past it
/// an unfinished head is an error (431, or 414 while still in the
/// request line).
pub const MAX_HEAD_BYTES: usize = u16::MAX as usize;

/// Limits the parser enforces itself; the total head size is the caller's,
/// since only it knows how much has arrived.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Longest request-target accepted (414 past it).
    pub max_target_bytes: usize,
    /// Most field lines accepted (431 past it).
    pub max_fields: usize,
}

/// A head without its bytes: spans are offsets into the parsed buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedHead {
    /// The method.
    pub method: Method,
    /// The request-target.
    pub target: Span,
    /// The version.
    pub version: Version,
    /// The field lines.
    pub fields: Fields,
}

/// The result of feeding bytes to the parser.
#[derive(Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole head: how many bytes it took, and its value.
    Complete(usize, T),
    /// Not an error: more bytes are needed.
    Partial,
}

/// Parses one request head from the start of `buf`.
///
/// `request-line CRLF *( field-line CRLF ) CRLF` (RFC 9112 §2.1), strictly:
/// single SPs in the request line, CRLF line ends only, tchar field names
/// directly followed by `:`, values of field-vchar with OWS trimmed.
pub fn parse_head(buf: &[u8], limits: &HeadLimits) -> Result<Status<ParsedHead>, ProtoError> {
    let mut fields = Fields::new();
    Ok(match parse_head_into(buf, limits, &mut fields)? {
        Status::Complete(len, (method, target, version)) => Status::Complete(
            len,
            ParsedHead {
                method,
                target,
                version,
                fields,
            },
        ),
        Status::Partial => Status::Partial,
    })
}

/// [`parse_head`] with the field lines pushed onto `fields` (empty at the
/// start), which can then be the caller's own: a server parses straight
/// into the head it keeps, and no copy of the fields is made.
pub fn parse_head_into(
    buf: &[u8],
    limits: &HeadLimits,
    fields: &mut Fields,
) -> Result<Status<(Method, Span, Version)>, ProtoError> {
    if buf.len() > MAX_HEAD_BYTES {
        return match parse_bounded(&buf[..MAX_HEAD_BYTES], limits, fields)? {
            Status::Partial => Err(oversized_head_error(&buf[..MAX_HEAD_BYTES])),
            complete => Ok(complete),
        };
    }
    parse_bounded(buf, limits, fields)
}

/// [`parse_head_into`] on a buffer of at most [`MAX_HEAD_BYTES`].
fn parse_bounded(
    buf: &[u8],
    limits: &HeadLimits,
    fields: &mut Fields,
) -> Result<Status<(Method, Span, Version)>, ProtoError> {
    let Some(mut pos) = skip_empty_lines(buf)? else {
        return Ok(Status::Partial);
    };
    let (method, target, version) = match plain_request_line(buf, pos, limits) {
        Some((line, end)) => {
            pos = end;
            line
        }
        None => {
            let Some(first_end) = line_end(buf, pos)? else {
                return Ok(Status::Partial);
            };
            let line = request_line(buf, pos, first_end, limits)?;
            pos = first_end + 2;
            line
        }
    };

    loop {
        match buf.get(pos) {
            None => return Ok(Status::Partial),
            Some(b'\r') => {
                return match buf.get(pos + 1) {
                    None => Ok(Status::Partial),
                    Some(b'\n') => Ok(Status::Complete(pos + 2, (method, target, version))),
                    Some(_) => Err(ProtoError::BareCr),
                };
            }
            Some(b'\n') => return Err(ProtoError::BareLf),
            Some(_) => {}
        }
        if fields.len() == limits.max_fields {
            return Err(ProtoError::TooManyFields);
        }
        let Some(next) = field_line(buf, pos, fields)? else {
            return Ok(Status::Partial);
        };
        pos = next;
    }
}

/// When the caller's head-size limit is hit before a head completes: 414 if
/// the request line itself never ended, else 431.
pub fn oversized_head_error(buf: &[u8]) -> ProtoError {
    match memchr(b'\n', buf) {
        None => ProtoError::TargetTooLong,
        Some(_) => ProtoError::HeadTooLarge,
    }
}

/// Skips the empty lines RFC 9112 §2.2 lets precede a request line; returns
/// where the request line starts, or `None` if the buffer ends first.
fn skip_empty_lines(buf: &[u8]) -> Result<Option<usize>, ProtoError> {
    let mut pos = 0;
    for _ in 0..=MAX_LEADING_EMPTY_LINES {
        match &buf[pos..] {
            [] | [b'\r'] => return Ok(None),
            [b'\r', b'\n', ..] => pos += 2,
            [b'\n', ..] => return Err(ProtoError::BareLf),
            _ => return Ok(Some(pos)),
        }
    }
    Err(ProtoError::TooManyEmptyLines)
}

/// Finds the CR of the CRLF ending the line that starts at `pos`.
/// A LF without CR before it is an error, and so is a CR inside the line.
fn line_end(buf: &[u8], pos: usize) -> Result<Option<usize>, ProtoError> {
    let Some(nl) = memchr(b'\n', &buf[pos..]) else {
        // A CR may only stand last, waiting for its LF.
        return match memchr(b'\r', &buf[pos..]) {
            Some(cr) if pos + cr + 1 < buf.len() => Err(ProtoError::BareCr),
            _ => Ok(None),
        };
    };
    let end = pos + nl;
    if nl == 0 || buf[end - 1] != b'\r' {
        return Err(ProtoError::BareLf);
    }
    // A CR inside the line fails the checks of whatever part it is in,
    // each of which reports it as a bare CR.
    Ok(Some(end - 1))
}

/// A well-formed request line starting at `start`, with where the line after
/// it starts; `None` for anything else, partial or faulty, which
/// [`line_end`] and [`request_line`] then look at. Its scans stop at the
/// first byte that cannot be in the method or the target, so the CRLF
/// after the version is the line's first LF, as `line_end` would find.
#[inline(always)]
fn plain_request_line(
    buf: &[u8],
    start: usize,
    limits: &HeadLimits,
) -> Option<((Method, Span, Version), usize)> {
    let line = &buf[start..];
    let (sp1, sp2) = spaces(line)?;
    if sp2 > limits.max_target_bytes {
        return None;
    }
    let version = match line.get(sp1 + sp2 + 2..sp1 + sp2 + 12)? {
        [v @ .., b'\r', b'\n'] => version(v).ok()?,
        _ => return None,
    };
    Some((parts(buf, start, sp1, sp2, version), start + sp1 + sp2 + 12))
}

/// Where the method and the target of a request line end: the method at
/// its first byte that is not a tchar and the target at its first that is
/// not visible ASCII, each of which must be the SP. One pass finds and
/// checks each; `None` when either is not a SP.
#[inline(always)]
fn spaces(line: &[u8]) -> Option<(usize, usize)> {
    // The most common method is recognised whole, without the scan.
    let sp1 = if line.starts_with(b"GET ") {
        3
    } else {
        run_in(&TCHAR, line)
    };
    if sp1 == 0 || line.get(sp1) != Some(&b' ') {
        return None;
    }
    let rest = &line[sp1 + 1..];
    let sp2 = find_non_visible(rest)?;
    if sp2 == 0 || rest[sp2] != b' ' {
        return None;
    }
    Some((sp1, sp2))
}

/// The method, target and version of the request line at `start`, whose
/// SPs [`spaces`] found.
#[inline(always)]
fn parts(
    buf: &[u8],
    start: usize,
    sp1: usize,
    sp2: usize,
    version: Version,
) -> (Method, Span, Version) {
    let target_start = start + sp1 + 1;
    (
        Method::from_token(&buf[start..start + sp1]),
        Span::new(target_start, target_start + sp2),
        version,
    )
}

/// `request-line = method SP request-target SP HTTP-version` (RFC 9112 §3)
/// on the line from `start` to `end`, its CR. A line whose SPs [`spaces`]
/// does not find takes the slow path, which names the fault.
fn request_line(
    buf: &[u8],
    start: usize,
    end: usize,
    limits: &HeadLimits,
) -> Result<(Method, Span, Version), ProtoError> {
    let line = &buf[start..end];
    let Some((sp1, sp2)) = spaces(line) else {
        return Err(request_line_fault(line, limits));
    };
    if sp2 > limits.max_target_bytes {
        return Err(ProtoError::TargetTooLong);
    }
    let v = &line[sp1 + sp2 + 2..];
    let version = version(v).map_err(|e| bare_cr_or(v, e))?;
    Ok(parts(buf, start, sp1, sp2, version))
}

/// What is wrong with a request line whose method or target did not end
/// in a SP, checked in the order a reader would: the first SP, the method
/// before it, then the second SP and the target between.
fn request_line_fault(line: &[u8], limits: &HeadLimits) -> ProtoError {
    let Some(sp1) = memchr(b' ', line) else {
        return bare_cr_or(line, ProtoError::BadRequestLine);
    };
    let method = &line[..sp1];
    if method.is_empty() {
        return ProtoError::BadRequestLine;
    }
    if !is_token(method) {
        return bare_cr_or(method, ProtoError::BadMethod);
    }
    let rest = &line[sp1 + 1..];
    let Some(sp2) = memchr(b' ', rest) else {
        return bare_cr_or(rest, ProtoError::BadRequestLine);
    };
    let target = &rest[..sp2];
    if target.is_empty() {
        return ProtoError::BadRequestLine;
    }
    if target.len() > limits.max_target_bytes {
        return ProtoError::TargetTooLong;
    }
    bare_cr_or(target, ProtoError::BadTarget)
}

/// `err`, unless the bytes hold a CR: then the real fault is a bare CR.
fn bare_cr_or(part: &[u8], err: ProtoError) -> ProtoError {
    if memchr(b'\r', part).is_some() {
        ProtoError::BareCr
    } else {
        err
    }
}

/// `HTTP-version = "HTTP" "/" DIGIT "." DIGIT` (RFC 9112 §2.3), case-sensitive.
fn version(v: &[u8]) -> Result<Version, ProtoError> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Ok(Version::Http10),
                (b'1', _) => Ok(Version::Http11),
                _ => Err(ProtoError::UnsupportedVersion),
            }
        }
        _ => Err(ProtoError::BadVersion),
    }
}

/// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5), read in
/// one pass: the name against the tchar table, then the value eight bytes
/// at a time up to the CR that must end it. Adds the field to `fields`
/// and returns where the next line starts, or `None` if the line is not
/// complete yet. (Pushing here rather than returning the field keeps it in
/// registers: returned in an `Option` tuple it went through memory.)
#[inline(always)]
fn field_line(buf: &[u8], start: usize, fields: &mut Fields) -> Result<Option<usize>, ProtoError> {
    let line = &buf[start..];
    let colon = run_in(&TCHAR, line);
    if colon == line.len() {
        return Ok(None);
    }
    match line[colon] {
        b':' if colon > 0 => {}
        b' ' | b'\t' if colon == 0 => return Err(ProtoError::ObsFold),
        _ => return name_fault(line, colon),
    }
    let mut v = colon + 1;
    while v < line.len() && matches!(line[v], b' ' | b'\t') {
        v += 1;
    }
    let Some(ctl) = find_non_field_value(&line[v..]) else {
        return Ok(None);
    };
    let end = v + ctl;
    match line[end] {
        b'\r' => match line.get(end + 1) {
            None => Ok(None),
            Some(b'\n') => {
                let mut value_end = end;
                while value_end > v && matches!(line[value_end - 1], b' ' | b'\t') {
                    value_end -= 1;
                }
                fields.push(Field {
                    name: Span::new(start, start + colon),
                    value: Span::new(start + v, start + value_end),
                });
                Ok(Some(start + end + 2))
            }
            Some(_) => Err(ProtoError::BareCr),
        },
        b'\n' => Err(ProtoError::BareLf),
        _ => Err(ProtoError::BadFieldValue),
    }
}

/// Why a field name stopped at a byte that is neither a tchar nor `:`.
fn name_fault(line: &[u8], at: usize) -> Result<Option<usize>, ProtoError> {
    let Some(nl) = memchr(b'\n', line) else {
        return match memchr(b'\r', line) {
            Some(cr) if cr + 1 < line.len() => Err(ProtoError::BareCr),
            _ => Ok(None),
        };
    };
    if nl == 0 || line[nl - 1] != b'\r' {
        return Err(ProtoError::BareLf);
    }
    let content = &line[..nl - 1];
    if memchr(b'\r', content).is_some() {
        return Err(ProtoError::BareCr);
    }
    if memchr(b':', &content[at..]).is_some() {
        Err(ProtoError::BadFieldName)
    } else {
        Err(ProtoError::MissingColon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_target_bytes: 64,
        max_fields: 4,
    };

    fn parse(buf: &[u8]) -> Result<Status<ParsedHead>, ProtoError> {
        parse_head(buf, &LIMITS)
    }

    fn complete(buf: &[u8]) -> (usize, ParsedHead) {
        match parse(buf) {
            Ok(Status::Complete(n, h)) => (n, h),
            other => panic!(
                "expected a head from {:?}, got {other:?}",
                String::from_utf8_lossy(buf)
            ),
        }
    }

    #[test]
    fn plain_request_lines_agree_with_the_careful_path() {
        // What the fast path accepts, the line-by-line path accepts with the
        // same method, target, version and end, for lines with each byte in
        // turn replaced by each of these, whole and cut after that byte.
        let lines: [&[u8]; 4] = [
            b"GET / HTTP/1.1\r\n",
            b"POST /a/b?c=d HTTP/1.0\r\nHost: x\r\n",
            b"OPTIONS * HTTP/1.1\r\n\r\n",
            b"M-SEARCH /x.y HTTP/1.9\r\n",
        ];
        let bytes = [
            b' ', b'\t', b'\r', b'\n', 0, b'a', b'/', b'.', b'1', b'9', b'H', 0x7f, 0x80,
        ];
        let narrow = HeadLimits {
            max_target_bytes: 4,
            max_fields: 4,
        };
        let (mut accepted, mut declined) = (0, 0);
        for line in lines {
            for at in 0..line.len() {
                for &b in &bytes {
                    let mut changed = line.to_vec();
                    changed[at] = b;
                    for buf in [&changed[..], &changed[..=at], line] {
                        for limits in [&LIMITS, &narrow] {
                            let Some((fast, end)) = plain_request_line(buf, 0, limits) else {
                                declined += 1;
                                continue;
                            };
                            accepted += 1;
                            let first_end = line_end(buf, 0).unwrap().unwrap();
                            let careful = request_line(buf, 0, first_end, limits).unwrap();
                            assert_eq!(
                                (fast, end),
                                (careful, first_end + 2),
                                "{:?}",
                                String::from_utf8_lossy(buf)
                            );
                        }
                    }
                }
            }
        }
        assert!(accepted > 1000 && declined > 1000, "{accepted} {declined}");
    }

    #[test]
    fn heads_end_within_64_kib() {
        let limits = HeadLimits {
            max_target_bytes: 1 << 20,
            max_fields: 10_000,
        };
        // A head that ends in time is parsed, whatever follows it.
        let mut buf = b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n".to_vec();
        let head_len = buf.len();
        buf.resize(head_len + 100_000, b'x');
        match parse_head(&buf, &limits) {
            Ok(Status::Complete(n, head)) => assert_eq!((n, head.fields.len()), (head_len, 1)),
            other => panic!("{other:?}"),
        }
        // One that does not is too large, not partial.
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        while buf.len() <= MAX_HEAD_BYTES {
            buf.extend_from_slice(b"X-Filler: 0123456789abcdef0123456789abcdef\r\n");
        }
        assert_eq!(parse_head(&buf, &limits), Err(ProtoError::HeadTooLarge));
        let mut line = b"GET /".to_vec();
        line.resize(MAX_HEAD_BYTES + 10, b'a');
        assert_eq!(parse_head(&line, &limits), Err(ProtoError::TargetTooLong));
        // The last field before the limit keeps exact offsets.
        let mut buf = b"GET / HTTP/1.1\r\nA: ".to_vec();
        buf.resize(MAX_HEAD_BYTES - 5, b'v');
        buf.extend_from_slice(b"\r\n\r\n");
        assert_eq!(buf.len(), MAX_HEAD_BYTES - 1);
        match parse_head(&buf, &limits) {
            Ok(Status::Complete(n, head)) => {
                assert_eq!(n, buf.len());
                assert_eq!(head.fields[0].value.end as usize, MAX_HEAD_BYTES - 5);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_a_simple_request() {
        let buf = b"GET /echo/abc HTTP/1.1\r\nHost: x\r\nUser-Agent:  curl/8 \t\r\n\r\nNEXT";
        let (n, head) = complete(buf);
        assert_eq!(n, buf.len() - 4);
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.target.of(buf), b"/echo/abc");
        assert_eq!(head.version, Version::Http11);
        let fields: Vec<_> = head
            .fields
            .iter()
            .map(|f| (f.name.of(buf), f.value.of(buf)))
            .collect();
        assert_eq!(
            fields,
            vec![(&b"Host"[..], &b"x"[..]), (b"User-Agent", b"curl/8")]
        );
    }

    #[test]
    fn every_prefix_is_partial() {
        let buf = b"\r\nPOST /x HTTP/1.0\r\nA: b\r\nEmpty:\r\n\r\n";
        for cut in 0..buf.len() {
            assert_eq!(parse(&buf[..cut]), Ok(Status::Partial), "cut at {cut}");
        }
        let (n, head) = complete(buf);
        assert_eq!(n, buf.len());
        assert_eq!(head.version, Version::Http10);
        assert_eq!(head.fields[1].value.of(buf), b"");
    }

    #[test]
    fn rejects_malformed_heads() {
        let cases: &[(&[u8], ProtoError)] = &[
            (b"GET / HTTP/1.1\nHost: a\r\n\r\n", ProtoError::BareLf),
            (b"GET / HTTP/1.1\r\nHost: a\n\r\n", ProtoError::BareLf),
            (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", ProtoError::BareCr),
            (b"GET  / HTTP/1.1\r\n\r\n", ProtoError::BadRequestLine),
            (b"GET / HTTP/1.1 \r\n\r\n", ProtoError::BadVersion),
            (b"GET / http/1.1\r\n\r\n", ProtoError::BadVersion),
            (b"GET / HTTP/2.0\r\n\r\n", ProtoError::UnsupportedVersion),
            (b"GET / HTTP/0.9\r\n\r\n", ProtoError::UnsupportedVersion),
            (b"GET /\r\n\r\n", ProtoError::BadRequestLine),
            (b"G(T / HTTP/1.1\r\n\r\n", ProtoError::BadMethod),
            (b" GET / HTTP/1.1\r\n\r\n", ProtoError::BadRequestLine),
            (b"GET /\x7f HTTP/1.1\r\n\r\n", ProtoError::BadTarget),
            (
                b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                ProtoError::BadFieldName,
            ),
            (b"GET / HTTP/1.1\r\n: a\r\n\r\n", ProtoError::BadFieldName),
            (
                b"GET / HTTP/1.1\r\nHost a\r\n\r\n",
                ProtoError::MissingColon,
            ),
            (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", ProtoError::ObsFold),
            (b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", ProtoError::ObsFold),
            (
                b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
                ProtoError::BadFieldValue,
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\x0cc\r\n\r\n",
                ProtoError::BadFieldValue,
            ),
            (
                b"GET / HTTP/1.1\r\nA:1\r\nB:1\r\nC:1\r\nD:1\r\nE:1\r\n\r\n",
                ProtoError::TooManyFields,
            ),
            (
                b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                ProtoError::TooManyEmptyLines,
            ),
            (b"\nGET / HTTP/1.1\r\n\r\n", ProtoError::BareLf),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64));
        assert_eq!(parse(long.as_bytes()), Err(ProtoError::TargetTooLong));
    }

    #[test]
    fn keeps_obs_text_and_duplicates() {
        let buf = b"GET / HTTP/1.1\r\nX: \xe9t\xe9\r\nx: 2\r\n\r\n";
        let (_, head) = complete(buf);
        assert_eq!(head.fields.len(), 2);
        assert_eq!(head.fields[0].value.of(buf), b"\xe9t\xe9");
        assert_eq!(Method::from_token(b"PROPFIND").as_str(), "PROPFIND");
    }

    #[test]
    fn oversized_head_reports_the_right_limit() {
        assert_eq!(
            oversized_head_error(b"GET /aaaaaaaa"),
            ProtoError::TargetTooLong
        );
        assert_eq!(
            oversized_head_error(b"GET / HTTP/1.1\r\nA: aaaa"),
            ProtoError::HeadTooLarge
        );
    }
}
