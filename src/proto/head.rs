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
    pub fn from_token(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
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

    /// The values of every field called `name` (compared case-insensitively).
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of the field `name`.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        self.fields()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// True when a list-valued field (`Connection`, say) has `token` among
    /// its elements, compared case-insensitively — never a substring match.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name).any(|v| {
            crate::proto::token::list_items(v).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}
