//! The parsed request head: method, target, version and field lines, kept as
//! spans into the bytes that arrived so nothing is copied.

use bytes::Bytes;

/// A byte range inside a request head. Offsets are 16 bits, since a head
/// is at most [`MAX_HEAD_BYTES`](super::parse::MAX_HEAD_BYTES) long: a
/// field is then 8 bytes, and 16 of them fit inline in a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u16,
    /// Offset one past the last byte.
    pub end: u16,
}

impl Span {
    /// The span from `start` to `end`, both within a head.
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(end <= super::parse::MAX_HEAD_BYTES);
        Span {
            start: start as u16,
            end: end as u16,
        }
    }

    /// The bytes this span covers in `buf`.
    pub fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }
}

/// The protocol version of a request. `HTTP/1.x` with x ≥ 2 is served as 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/1.0: close by default, no chunked responses.
    Http10,
    /// HTTP/1.1.
    Http11,
}

impl Version {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A request method. The standard ones are variants; any other token is kept
/// as `Other` so a router can still serve it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// OPTIONS
    Options,
    /// CONNECT
    Connect,
    /// TRACE
    Trace,
    /// PATCH
    Patch,
    /// Any other token (methods are case-sensitive).
    Other(Box<str>),
}

impl Method {
    /// The method for a token; the caller has checked it is one.
    #[inline]
    pub fn from_token(token: &[u8]) -> Method {
        // Most requests are GETs: that one is compared where it is parsed.
        if token == b"GET" {
            return Method::Get;
        }
        Method::from_other_token(token)
    }

    fn from_other_token(token: &[u8]) -> Method {
        match token {
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            // A token is ASCII, so this never loses anything.
            other => Method::Other(String::from_utf8_lossy(other).into()),
        }
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            Method::Other(s) => s,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field line: name and value (OWS trimmed), as spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Field {
    /// The field name as sent (case kept).
    pub name: Span,
    /// The value without leading and trailing whitespace.
    pub value: Span,
}

impl crate::inline::Blank for Field {
    const BLANK: Field = Field {
        name: Span { start: 0, end: 0 },
        value: Span { start: 0, end: 0 },
    };
}

/// A parsed head whose spans point into `bytes`.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The head exactly as received, leading empty lines included.
    pub bytes: Bytes,
    /// The method.
    pub method: Method,
    /// The request-target, undecoded.
    pub target: Span,
    /// The version.
    pub version: Version,
    /// The field lines in the order received, duplicates kept.
    pub fields: Fields,
    /// Where the fields the server looks up are, so that looking one up
    /// does not compare every field name.
    pub(crate) index: FieldIndex,
}

/// Field names the server itself looks up, indexed by [`FieldIndex`];
/// lowercase, and ordered by length so that a name is compared with one or
/// two of them.
const KNOWN: [&[u8]; 13] = [
    b"host",
    b"range",
    b"expect",
    b"if-range",
    b"if-match",
    b"connection",
    b"content-type",
    b"if-none-match",
    b"content-length",
    b"accept-encoding",
    b"transfer-encoding",
    b"if-modified-since",
    b"if-unmodified-since",
];

/// The entry of [`KNOWN`] a name of this length could be: the first of
/// two for the lengths that have two.
#[inline(always)]
fn known_by_length(len: usize) -> Option<usize> {
    Some(match len {
        4 => 0,
        5 => 1,
        6 => 2,
        8 => 3,
        10 => 5,
        12 => 6,
        13 => 7,
        14 => 8,
        15 => 9,
        17 => 10,
        19 => 12,
        _ => return None,
    })
}

/// Which entry of [`KNOWN`] a field name from a parsed head is, whatever
/// its case.
fn known_field(name: &[u8]) -> Option<usize> {
    let i = known_by_length(name.len())?;
    if folded_eq(name, KNOWN[i]) {
        Some(i)
    } else if matches!(i, 3 | 10) && folded_eq(name, KNOWN[i + 1]) {
        Some(i + 1)
    } else {
        None
    }
}

/// Which entry of [`KNOWN`] a name being looked up is. Only the lowercase
/// spelling counts, which for a literal folds to a constant; any other
/// spelling is not indexed, and its lookup compares every field name.
#[inline(always)]
fn known_lookup(name: &[u8]) -> Option<usize> {
    let i = known_by_length(name.len())?;
    if name == KNOWN[i] {
        Some(i)
    } else if matches!(i, 3 | 10) && name == KNOWN[i + 1] {
        Some(i + 1)
    } else {
        None
    }
}

/// `name` equals the lowercase `known` (of the same length) but for case,
/// eight bytes at a time. Setting bit 5 lowercases a letter and maps no
/// other tchar onto a letter or `-`, and a parsed field name is all tchars.
fn folded_eq(name: &[u8], known: &[u8]) -> bool {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8"));
    let len = name.len();
    if len < 8 {
        return name.iter().zip(known).all(|(&a, &b)| a | 0x20 == b);
    }
    // Whole words, then the last eight bytes (overlapping the one before).
    let mut at = 0;
    while at + 8 < len {
        if word(name, at) | FOLD != word(known, at) | FOLD {
            return false;
        }
        at += 8;
    }
    word(name, len - 8) | FOLD == word(known, len - 8) | FOLD
}

/// Where the fields of [`KNOWN`] are in a head, found in one pass after
/// parsing. Until built (the default) nothing is indexed and every lookup
/// compares every field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FieldIndex {
    built: bool,
    /// Bit `i`: a field named `KNOWN[i]` is present.
    present: u16,
    /// Bit `i`: more than one is.
    repeated: u16,
    /// The position of the first field named `KNOWN[i]`, if present (a
    /// head of at most 64 KiB has fewer than 16 384 field lines).
    first: [u16; KNOWN.len()],
}

impl FieldIndex {
    /// Nothing indexed.
    pub(crate) const NONE: FieldIndex = FieldIndex {
        built: false,
        present: 0,
        repeated: 0,
        first: [0; KNOWN.len()],
    };

    /// The index of `fields`, parsed from `bytes`.
    #[cfg(test)]
    pub(crate) fn of(bytes: &[u8], fields: &[Field]) -> FieldIndex {
        let mut index = FieldIndex::NONE;
        index.build(bytes, fields);
        index
    }

    /// Indexes `fields`, parsed from `bytes`, in place (`first` is read
    /// only where `present` says, so it is not cleared).
    pub(crate) fn build(&mut self, bytes: &[u8], fields: &[Field]) {
        let (mut present, mut repeated) = (0u16, 0u16);
        for (at, field) in fields.iter().enumerate() {
            let Some(i) = known_field(field.name.of(bytes)) else {
                continue;
            };
            let bit = 1 << i;
            if present & bit == 0 {
                present |= bit;
                self.first[i] = at as u16;
            } else {
                repeated |= bit;
            }
        }
        self.present = present;
        self.repeated = repeated;
        self.built = true;
    }

    /// Forgets what was indexed.
    pub(crate) fn clear(&mut self) {
        self.built = false;
    }

    /// The fields that may be called `name`: all of them unless it is
    /// indexed, else none, the one, or those from the first on.
    #[inline(always)]
    fn candidates<'a>(&self, fields: &'a [Field], name: &str) -> &'a [Field] {
        let i = match known_lookup(name.as_bytes()) {
            Some(i) if self.built => i,
            _ => return fields,
        };
        let bit = 1 << i;
        let first = self.first[i] as usize;
        if self.present & bit == 0 {
            &[]
        } else if self.repeated & bit == 0 {
            &fields[first..first + 1]
        } else {
            &fields[first..]
        }
    }
}

/// The field lines of a head: the first 16 inline, so a typical request
/// needs no allocation for them.
pub type Fields = crate::inline::InlineVec<Field, 16>;

impl RequestHead {
    /// The raw request-target.
    pub fn target(&self) -> &[u8] {
        self.target.of(&self.bytes)
    }

    /// Every field line as (name, value), in order.
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields
            .iter()
            .map(|f| (f.name.of(&self.bytes), f.value.of(&self.bytes)))
    }

    /// The field lines that may be called `name`.
    #[inline(always)]
    fn candidates(&self, name: &str) -> &[Field] {
        self.index.candidates(&self.fields, name)
    }

    /// The values of every field called `name` (compared case-insensitively).
    #[inline(always)]
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.candidates(name)
            .iter()
            .filter(move |f| f.name.of(&self.bytes).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| f.value.of(&self.bytes))
    }

    /// The first value of the field `name`.
    #[inline(always)]
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        self.candidates(name)
            .iter()
            .find(|f| f.name.of(&self.bytes).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| f.value.of(&self.bytes))
    }

    /// False when no field can be called `name`; for an indexed name that
    /// is one check of the index.
    #[inline(always)]
    pub(crate) fn may_have(&self, name: &str) -> bool {
        !self.candidates(name).is_empty()
    }

    /// True when a list-valued field (`Connection`, say) has `token` among
    /// its elements, compared case-insensitively — never a substring match.
    #[inline(always)]
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        // A field indexed as absent is known without entering the loop.
        if !self.may_have(name) {
            return false;
        }
        self.values(name).any(|v| {
            crate::proto::token::list_items(v).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::parse::{HeadLimits, Status, parse_head};

    fn parsed(fields: &[(&str, &str)]) -> RequestHead {
        let mut raw = String::from("GET / HTTP/1.1\r\n");
        for (name, value) in fields {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str("\r\n");
        let limits = HeadLimits {
            max_target_bytes: 64,
            max_fields: 64,
        };
        let Ok(Status::Complete(_, h)) = parse_head(raw.as_bytes(), &limits) else {
            panic!("{raw}");
        };
        RequestHead {
            index: FieldIndex::of(raw.as_bytes(), &h.fields),
            bytes: Bytes::from(raw),
            method: h.method,
            target: h.target,
            version: h.version,
            fields: h.fields,
        }
    }

    /// Every lookup through the index finds what comparing every field name
    /// finds: known names absent, once, repeated, in any case, and names of
    /// the same length as a known one.
    #[test]
    fn indexed_lookups_agree_with_a_scan() {
        let heads = [
            vec![],
            vec![("Host", "a")],
            vec![("HOST", "a"), ("x-other", "1"), ("host", "b")],
            vec![
                ("User-Agent", "u"),
                ("Connection", "close"),
                ("Accept", "*/*"),
            ],
            vec![
                ("If-Match", "\"a\""),
                ("If-Range", "\"b\""),
                ("if-range", "\"c\""),
            ],
            vec![("Transfer-Encoding", "chunked"), ("If-Modified-Since", "x")],
            vec![
                ("if-modified-since", "y"),
                ("TRANSFER-encoding", "gzip"),
                ("Content-Length", "3"),
            ],
            vec![
                ("Hosz", "1"),
                ("Rangf", "2"),
                ("expecu", "3"),
                ("If-None-Matcg", "4"),
            ],
            vec![
                ("If-Unmodified-Since", "a"),
                ("Accept-Encoding", "br"),
                ("Content-Encoding", "gzip"),
            ],
            vec![
                ("Content-Type", "t"),
                ("content-type", "u"),
                ("Expect", "100-continue"),
            ],
        ];
        let mut names: Vec<String> = KNOWN
            .iter()
            .map(|n| String::from_utf8(n.to_vec()).unwrap())
            .collect();
        names.extend(names.clone().iter().map(|n| n.to_uppercase()));
        names
            .extend(["x-other", "user-agent", "accept", "hosz", "if-none-matcg"].map(String::from));
        for fields in heads {
            let head = parsed(&fields);
            for name in &names {
                let scanned: Vec<&[u8]> = head
                    .fields()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                    .map(|(_, v)| v)
                    .collect();
                let found: Vec<&[u8]> = head.values(name).collect();
                assert_eq!(found, scanned, "{name} in {fields:?}");
                assert_eq!(head.value(name), scanned.first().copied(), "{name}");
                // And the index is what answered: a lowercase known name
                // is looked for in none of the fields, or only the one.
                if known_lookup(name.as_bytes()).is_some() && scanned.len() < 2 {
                    let candidates = head.candidates(name).len();
                    assert_eq!(candidates, scanned.len(), "{name} in {fields:?}");
                }
            }
        }
    }

    #[test]
    fn a_known_name_is_recognised_in_any_case_and_nothing_else_is() {
        for (i, known) in KNOWN.iter().enumerate() {
            let upper = known.to_ascii_uppercase();
            assert_eq!(known_field(known), Some(i));
            assert_eq!(known_field(&upper), Some(i));
            assert_eq!(known_lookup(known), Some(i));
            assert_eq!(
                known_lookup(&upper),
                None,
                "only lowercase lookups are indexed"
            );
            // One byte off anywhere, within the tchars: not that name.
            for at in 0..known.len() {
                for b in [b'!', b'_', b'z', b'0', b'-', b'~'] {
                    let mut other = known.to_vec();
                    if other[at] == b {
                        continue;
                    }
                    other[at] = b;
                    assert_ne!(
                        known_field(&other),
                        Some(i),
                        "{}",
                        String::from_utf8_lossy(&other)
                    );
                }
            }
        }
    }
}
