//! Property tests of the byte-level protocol code:
//!
//! - random valid request heads, rendered by a tiny encoder, parse back to
//!   what was encoded, whole and fed at every split point;
//! - the fast head parser agrees with a naive, line-splitting reference
//!   parser written here from RFC 9112 on valid, mutated and random input;
//! - random chunked bodies decode to their data and exact length, whole and
//!   fed in random pieces.

use barehttp::ProtoError;
use barehttp::Version;
use barehttp::proto::chunked::{ChunkedLimits, decode_all, decode_in_pieces};
use barehttp::proto::parse::{HeadLimits, MAX_LEADING_EMPTY_LINES, Status, parse_head};
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Limits large enough that they never decide anything here.
const LIMITS: HeadLimits = HeadLimits {
    max_target_bytes: 1 << 20,
    max_fields: 1000,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        // Nothing is written next to the tests: a failure prints its input.
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    }
}

/// `tchar` (RFC 9110 §5.6.2), spelled out rather than taken from the crate.
const TCHARS: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Bytes of an origin-form path and query other than `%XX` (RFC 3986).
const PATH_CHARS: &[u8] = b"azAZ09-._~!$&'()*+,;=:@/?";

const HEX: &[u8] = b"0123456789abcdefABCDEF";

fn is_tchar(b: u8) -> bool {
    TCHARS.contains(&b)
}

// ---------------------------------------------------------------------------
// A test-only encoder of valid request heads.

#[derive(Debug, Clone)]
struct FieldSpec {
    name: Vec<u8>,
    /// OWS written before the value.
    lead: Vec<u8>,
    /// The value: field-vchar, SP and HTAB, no whitespace at either end.
    value: Vec<u8>,
    /// OWS written after the value.
    trail: Vec<u8>,
}

#[derive(Debug, Clone)]
struct HeadSpec {
    leading_empty_lines: usize,
    method: Vec<u8>,
    target: Vec<u8>,
    version: Version,
    fields: Vec<FieldSpec>,
}

impl HeadSpec {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..self.leading_empty_lines {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(&self.method);
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.push(b' ');
        out.extend_from_slice(self.version.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
        for f in &self.fields {
            out.extend_from_slice(&f.name);
            out.push(b':');
            out.extend_from_slice(&f.lead);
            out.extend_from_slice(&f.value);
            out.extend_from_slice(&f.trail);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn token() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(select(TCHARS), 1..12)
}

fn method() -> impl Strategy<Value = Vec<u8>> {
    let known = select(vec![
        "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH",
    ])
    .prop_map(|m| m.as_bytes().to_vec());
    prop_oneof![known, token()]
}

fn target() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        6 => select(PATH_CHARS).prop_map(|c| vec![c]),
        1 => (select(HEX), select(HEX)).prop_map(|(h, l)| vec![b'%', h, l]),
    ];
    prop::collection::vec(piece, 0..30).prop_map(|pieces| {
        let mut t = vec![b'/'];
        t.extend(pieces.concat());
        t
    })
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::Http10), Just(Version::Http11)]
}

fn ows() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(select(&b" \t"[..]), 0..3)
}

/// A byte that may stand inside a field value.
fn value_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => 0x21u8..=0x7e,
        2 => 0x80u8..=0xff,
        1 => Just(b' '),
        1 => Just(b'\t'),
    ]
}

fn field_value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(value_byte(), 0..24).prop_map(|v| trim_ows(&v).to_vec())
}

fn field() -> impl Strategy<Value = FieldSpec> {
    (token(), ows(), field_value(), ows()).prop_map(|(name, lead, value, trail)| FieldSpec {
        name,
        lead,
        value,
        trail,
    })
}

fn head_spec() -> impl Strategy<Value = HeadSpec> {
    (
        0..=MAX_LEADING_EMPTY_LINES,
        method(),
        target(),
        version(),
        prop::collection::vec(field(), 0..10),
    )
        .prop_map(
            |(leading_empty_lines, method, target, version, fields)| HeadSpec {
                leading_empty_lines,
                method,
                target,
                version,
                fields,
            },
        )
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t');
    let end = s.iter().rposition(|&b| b != b' ' && b != b'\t');
    match (start, end) {
        (Some(start), Some(end)) => &s[start..=end],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------
// What a parse found, in a form both parsers can produce.

#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    method: String,
    target: Vec<u8>,
    version: Version,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What the crate's parser says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Partial,
    Reject,
    Complete(usize, Head),
}

/// Runs the crate's parser and checks that its spans stay inside the head.
fn fast(buf: &[u8]) -> Outcome {
    match parse_head(buf, &LIMITS) {
        Ok(Status::Partial) => Outcome::Partial,
        Err(_) => Outcome::Reject,
        Ok(Status::Complete(n, head)) => {
            assert!(n <= buf.len(), "consumed {n} of {} bytes", buf.len());
            let spans = std::iter::once(head.target)
                .chain(head.fields.iter().flat_map(|f| [f.name, f.value]));
            for span in spans {
                assert!(
                    span.start <= span.end && span.end as usize <= n,
                    "span {span:?} outside the {n}-byte head"
                );
            }
            Outcome::Complete(
                n,
                Head {
                    method: head.method.as_str().to_owned(),
                    target: head.target.of(buf).to_vec(),
                    version: head.version,
                    fields: head
                        .fields
                        .iter()
                        .map(|f| (f.name.of(buf).to_vec(), f.value.of(buf).to_vec()))
                        .collect(),
                },
            )
        }
    }
}

// ---------------------------------------------------------------------------
// The naive reference parser: split into CRLF lines, check each line.

/// What the naive parser says. It is exact about unfinished input: it tells
/// a prefix that some continuation turns into a valid head (`Partial`) from
/// one that no continuation can save (`Unviable`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Naive {
    /// Every line so far is valid and the unfinished one can still be.
    Partial,
    /// The finished lines are valid but the unfinished one cannot become so.
    Unviable,
    /// A finished line breaks the grammar.
    Reject,
    Complete(usize, Head),
}

/// RFC 9112 §2.1/§2.2, read plainly:
///
/// - every line ends in CRLF; a LF without CR before it, or a CR anywhere
///   else, is an error (a CR that is the very last byte may still get its LF);
/// - up to `MAX_LEADING_EMPTY_LINES` empty lines before the request line are
///   skipped, one more is an error;
/// - `request-line = token SP target SP HTTP/d.d`, target bytes 0x21-0x7E,
///   `HTTP/1.0` is 1.0, `HTTP/1.x` is 1.1, any other version an error;
/// - `field-line = token ":" OWS value OWS`, value bytes HTAB/SP/VCHAR/obs-text;
/// - an empty line ends the head.
fn naive(buf: &[u8]) -> Naive {
    let mut pos = 0;
    let mut empty_lines = 0;
    let mut request_line = None;
    let mut fields = Vec::new();
    loop {
        let rest = &buf[pos..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return if viable_tail(rest, request_line.is_none(), empty_lines) {
                Naive::Partial
            } else {
                Naive::Unviable
            };
        };
        if lf == 0 || rest[lf - 1] != b'\r' {
            return Naive::Reject;
        }
        let line = &rest[..lf - 1];
        if line.contains(&b'\r') {
            return Naive::Reject;
        }
        pos += lf + 1;
        match request_line.take() {
            None if line.is_empty() => {
                empty_lines += 1;
                if empty_lines > MAX_LEADING_EMPTY_LINES {
                    return Naive::Reject;
                }
            }
            None => match naive_request_line(line) {
                Some(parsed) => request_line = Some(parsed),
                None => return Naive::Reject,
            },
            Some((method, target, version)) if line.is_empty() => {
                return Naive::Complete(
                    pos,
                    Head {
                        method,
                        target,
                        version,
                        fields,
                    },
                );
            }
            Some(parsed) => match naive_field_line(line) {
                Some(field) => {
                    fields.push(field);
                    request_line = Some(parsed);
                }
                None => return Naive::Reject,
            },
        }
    }
}

/// Whether an unfinished last line (no LF yet) can still become valid.
fn viable_tail(tail: &[u8], before_request_line: bool, empty_lines: usize) -> bool {
    if let Some(content) = tail.strip_suffix(b"\r") {
        // Complete but for its LF: judge it as a whole line.
        if content.contains(&b'\r') {
            return false;
        }
        return match (before_request_line, content.is_empty()) {
            (true, true) => empty_lines < MAX_LEADING_EMPTY_LINES,
            (true, false) => naive_request_line(content).is_some(),
            (false, true) => true,
            (false, false) => naive_field_line(content).is_some(),
        };
    }
    if tail.contains(&b'\r') {
        return false;
    }
    if before_request_line {
        request_line_prefix(tail)
    } else {
        field_line_prefix(tail)
    }
}

/// Whether `tail` begins some valid request line.
fn request_line_prefix(tail: &[u8]) -> bool {
    let parts: Vec<&[u8]> = tail.split(|&b| b == b' ').collect();
    let method_ok = |m: &[u8]| !m.is_empty() && m.iter().all(|&b| is_tchar(b));
    let target_ok = |t: &[u8]| t.iter().all(|&b| (0x21..=0x7e).contains(&b));
    match parts[..] {
        [method] => method.iter().all(|&b| is_tchar(b)),
        [method, target] => method_ok(method) && target_ok(target),
        [method, target, version] => {
            let version_ok = version.len() <= 8
                && version.iter().zip(b"HTTP/1.").all(|(a, b)| a == b)
                && (version.len() < 8 || version[7].is_ascii_digit());
            method_ok(method) && !target.is_empty() && target_ok(target) && version_ok
        }
        _ => false,
    }
}

/// Whether `tail` begins some valid field line (or the empty line).
fn field_line_prefix(tail: &[u8]) -> bool {
    match tail.iter().position(|&b| b == b':') {
        None => tail.iter().all(|&b| is_tchar(b)),
        Some(colon) => {
            colon > 0
                && tail[..colon].iter().all(|&b| is_tchar(b))
                && tail[colon + 1..].iter().all(|&b| is_value_byte(b))
        }
    }
}

fn is_value_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// The fast parser may reject an unviable prefix at once or wait for the
/// line to end; everywhere else the two must say the same.
fn agrees(fast: &Outcome, naive: &Naive) -> bool {
    match (naive, fast) {
        (Naive::Complete(n, h), Outcome::Complete(m, g)) => n == m && h == g,
        (Naive::Partial, Outcome::Partial) | (Naive::Reject, Outcome::Reject) => true,
        (Naive::Unviable, Outcome::Partial | Outcome::Reject) => true,
        _ => false,
    }
}

fn naive_request_line(line: &[u8]) -> Option<(String, Vec<u8>, Version)> {
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [method, target, version] = parts[..] else {
        return None;
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    if target.is_empty() || !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return None;
    }
    let version = match version {
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            Version::Http11
        }
        _ => return None,
    };
    Some((
        String::from_utf8(method.to_vec()).expect("a token is ASCII"),
        target.to_vec(),
        version,
    ))
}

fn naive_field_line(line: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let value = trim_ows(&line[colon + 1..]);
    if !value.iter().all(|&b| is_value_byte(b)) {
        return None;
    }
    Some((name.to_vec(), value.to_vec()))
}

// ---------------------------------------------------------------------------
// Inputs for the differential test.

/// Bytes that matter to the grammar, favoured over uniformly random ones.
const SPECIAL: &[u8] = b"\r\n\0 \t:/.H1%aZ\x7f\x80\xff";

fn biased_byte() -> impl Strategy<Value = u8> {
    prop_oneof![3 => select(SPECIAL), 1 => any::<u8>()]
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(Index, u8),
    InsertCrlf(Index),
    Delete(Index),
    Replace(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), biased_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::InsertCrlf),
        any::<Index>().prop_map(Mutation::Delete),
        (any::<Index>(), biased_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
    ]
}

fn mutate(mut buf: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Insert(i, b) => buf.insert(i.index(buf.len() + 1), *b),
            Mutation::InsertCrlf(i) => {
                let at = i.index(buf.len() + 1);
                buf.splice(at..at, *b"\r\n");
            }
            Mutation::Delete(i) if !buf.is_empty() => {
                buf.remove(i.index(buf.len()));
            }
            Mutation::Replace(i, b) if !buf.is_empty() => {
                let at = i.index(buf.len());
                buf[at] = *b;
            }
            Mutation::Delete(_) | Mutation::Replace(..) => {}
        }
    }
    buf
}

/// Pieces of request heads, glued together at random.
const PIECES: &[&[u8]] = &[
    b"GET",
    b"POST",
    b" ",
    b"/",
    b"/a?b",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/1.9",
    b"HTTP/2.0",
    b"http/1.1",
    b"\r\n",
    b"\r",
    b"\n",
    b":",
    b"Host",
    b"x",
    b"\t",
    b"\0",
    b"\xe9",
];

fn differential_input() -> impl Strategy<Value = Vec<u8>> {
    let suffix = prop::collection::vec(biased_byte(), 0..8);
    prop_oneof![
        // Valid heads, perhaps followed by the start of a body.
        (head_spec(), suffix).prop_map(|(spec, suffix)| [spec.encode(), suffix].concat()),
        // Valid heads with a few bytes inserted, deleted or replaced.
        (
            0..=MAX_LEADING_EMPTY_LINES + 2,
            head_spec(),
            prop::collection::vec(mutation(), 1..5)
        )
            .prop_map(|(empty, spec, mutations)| {
                let spec = HeadSpec {
                    leading_empty_lines: empty,
                    ..spec
                };
                mutate(spec.encode(), &mutations)
            }),
        // Pieces of heads in random order.
        prop::collection::vec(select(PIECES), 0..30).prop_map(|p| p.concat()),
        // Bytes at random.
        prop::collection::vec(biased_byte(), 0..80),
    ]
}

// ---------------------------------------------------------------------------
// Chunked bodies.

#[derive(Debug, Clone)]
struct ChunkSpec {
    data: Vec<u8>,
    leading_zeros: usize,
    upper: bool,
    ext: Vec<u8>,
}

#[derive(Debug, Clone)]
struct BodySpec {
    chunks: Vec<ChunkSpec>,
    last_zeros: usize,
    last_ext: Vec<u8>,
    trailers: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
}

impl BodySpec {
    fn data(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|c| c.data.clone()).collect()
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in &self.chunks {
            let size = if c.upper {
                format!("{:X}", c.data.len())
            } else {
                format!("{:x}", c.data.len())
            };
            out.extend(std::iter::repeat_n(b'0', c.leading_zeros));
            out.extend_from_slice(size.as_bytes());
            out.extend_from_slice(&c.ext);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&c.data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend(std::iter::repeat_n(b'0', 1 + self.last_zeros));
        out.extend_from_slice(&self.last_ext);
        out.extend_from_slice(b"\r\n");
        for (name, lead, value) in &self.trailers {
            out.extend_from_slice(name);
            out.push(b':');
            out.extend_from_slice(lead);
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// `BWS`: a little optional whitespace.
fn bws() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(select(&b" \t"[..]), 0..2)
}

/// `quoted-string` (RFC 9110 §5.6.4) with qdtext and quoted-pairs.
fn quoted_string() -> impl Strategy<Value = Vec<u8>> {
    let qdtext = prop_oneof![
        Just(b'\t'),
        Just(b' '),
        Just(0x21u8),
        0x23u8..=0x5b,
        0x5du8..=0x7e,
        0x80u8..=0xff,
    ];
    let quoted_pair = prop_oneof![Just(b'\t'), Just(b' '), 0x21u8..=0x7e, 0x80u8..=0xff];
    let piece = prop_oneof![
        4 => qdtext.prop_map(|b| vec![b]),
        1 => quoted_pair.prop_map(|b| vec![b'\\', b]),
    ];
    prop::collection::vec(piece, 0..8)
        .prop_map(|pieces| [&b"\""[..], &pieces.concat(), b"\""].concat())
}

/// `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`
fn chunk_ext() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![token(), quoted_string()];
    let one = (
        bws(),
        bws(),
        token(),
        prop::option::of((bws(), bws(), value)),
    )
        .prop_map(|(b1, b2, name, value)| {
            let mut out = [b1, vec![b';'], b2, name].concat();
            if let Some((b3, b4, v)) = value {
                out.extend([b3, vec![b'='], b4, v].concat());
            }
            out
        });
    prop::collection::vec(one, 0..3).prop_map(|exts| exts.concat())
}

fn chunk() -> impl Strategy<Value = ChunkSpec> {
    let data = prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 1..40),
        1 => prop::collection::vec(any::<u8>(), 40..600),
    ];
    (data, 0..3usize, any::<bool>(), chunk_ext()).prop_map(|(data, leading_zeros, upper, ext)| {
        ChunkSpec {
            data,
            leading_zeros,
            upper,
            ext,
        }
    })
}

fn body_spec() -> impl Strategy<Value = BodySpec> {
    let trailer = (token(), ows(), field_value());
    (
        prop::collection::vec(chunk(), 0..8),
        0..3usize,
        chunk_ext(),
        prop::collection::vec(trailer, 0..3),
    )
        .prop_map(|(chunks, last_zeros, last_ext, trailers)| BodySpec {
            chunks,
            last_zeros,
            last_ext,
            trailers,
        })
}

/// Feeds `input` to one decoder in pieces ending at `cuts` (ascending) and
/// at the end, as a connection sees successive reads.
fn decode_pieces(input: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, Option<usize>), ProtoError> {
    decode_in_pieces(input, cuts, ChunkedLimits::default())
}

fn cut_points(len: usize, picks: &[Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = picks.iter().map(|i| i.index(len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// Bytes that matter to the chunked grammar.
const CHUNK_SPECIAL: &[u8] = b"0123456789aF;= \t\"\\\r\nxX:\0\xff";

// ---------------------------------------------------------------------------
// The properties.

proptest! {
    #![proptest_config(config())]

    /// a. Encoded heads parse back to what was encoded, and every proper
    /// prefix of one is `Partial`.
    #[test]
    fn encoded_heads_parse_back(spec in head_spec()) {
        let buf = spec.encode();
        for cut in 0..buf.len() {
            prop_assert_eq!(
                parse_head(&buf[..cut], &LIMITS),
                Ok(Status::Partial),
                "prefix of {} bytes of {:?}",
                cut,
                String::from_utf8_lossy(&buf)
            );
        }
        let want = Head {
            method: String::from_utf8(spec.method.clone()).unwrap(),
            target: spec.target.clone(),
            version: spec.version,
            fields: spec
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.value.clone()))
                .collect(),
        };
        prop_assert_eq!(fast(&buf), Outcome::Complete(buf.len(), want.clone()));
        // Bytes after the head are never consumed.
        let mut longer = buf.clone();
        longer.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        prop_assert_eq!(fast(&longer), Outcome::Complete(buf.len(), want));
    }

    /// b. The fast parser and the naive one agree on every prefix of valid,
    /// mutated and random input: the same head, or both reject a broken
    /// line, or both wait for more of a line that can still be valid (the
    /// fast one may reject a line that cannot, before it ends).
    #[test]
    fn parser_agrees_with_the_naive_reference(buf in differential_input()) {
        for cut in 0..=buf.len() {
            let input = &buf[..cut];
            let (fast, naive) = (fast(input), naive(input));
            prop_assert!(
                agrees(&fast, &naive),
                "fast {:?} but naive {:?} on {:?}",
                fast,
                naive,
                String::from_utf8_lossy(input)
            );
        }
    }

    /// c. Encoded chunked bodies decode to their data and their exact length,
    /// whole and in random pieces, whatever follows them.
    #[test]
    fn chunked_bodies_decode_whole_and_in_pieces(
        spec in body_spec(),
        suffix in prop::collection::vec(any::<u8>(), 0..8),
        picks in prop::collection::vec(any::<Index>(), 0..6),
    ) {
        let encoded = spec.encode();
        let input = [encoded.clone(), suffix].concat();
        let want = (spec.data(), Some(encoded.len()));
        prop_assert_eq!(decode_all(&input, ChunkedLimits::default()), Ok(want.clone()));
        let cuts = cut_points(input.len(), &picks);
        prop_assert_eq!(decode_pieces(&input, &cuts), Ok(want.clone()));
        // One byte at a time.
        let every: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(decode_pieces(&input, &every), Ok(want));
        // Every proper prefix of the body is unfinished, never an error.
        for cut in 0..encoded.len() {
            let (data, done) = decode_all(&encoded[..cut], ChunkedLimits::default())
                .map_err(|e| TestCaseError::fail(format!("prefix {cut}: {e:?}")))?;
            prop_assert_eq!(done, None);
            prop_assert!(spec.data().starts_with(&data));
        }
    }

    /// c'. On arbitrary (mostly malformed) bytes, decoding whole and in
    /// pieces gives the same result, error kind included.
    #[test]
    fn chunked_decoding_does_not_depend_on_splits(
        input in prop::collection::vec(
            prop_oneof![3 => select(CHUNK_SPECIAL), 1 => any::<u8>()],
            0..80,
        ),
        picks in prop::collection::vec(any::<Index>(), 0..6),
    ) {
        let whole = decode_all(&input, ChunkedLimits::default());
        let cuts = cut_points(input.len(), &picks);
        prop_assert_eq!(decode_pieces(&input, &cuts), whole.clone());
        let every: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(decode_pieces(&input, &every), whole);
    }
}
