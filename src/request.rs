//! What a handler sees of a request: its head, decoded path, path
//! parameters, query, peer, and the body as a stream.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::conn::body::Body;
use crate::proto::head::{FieldIndex, Fields, Method, RequestHead, Span, Version};
use crate::spare::{Reuse, Reused, Spares};
use crate::tick::Tick;

/// The path as decoded once by `proto::target::decode_path`: usually the
/// raw bytes themselves, else an owned copy.
#[derive(Debug, Clone)]
pub(crate) enum DecodedPath {
    Raw(usize, usize),
    Owned(String),
}

/// Path buffers longer than this are not kept for the next request.
const PATH_KEEP_BYTES: usize = 1024;

/// An HTTP request handed to a handler.
///
/// Its parts sit in a box that a later request on the same thread uses
/// again (`src/spare.rs`), so moving a request from the parser to a
/// handler moves one pointer: before, the head and the request were
/// copied whole seven times on their way to a handler.
#[derive(Debug)]
pub struct Request(Reused<Parts>);

#[derive(Debug)]
struct Parts {
    head: RequestHead,
    /// The decoded path, checked as UTF-8 once. Its buffer stays with the
    /// box, so filling it allocates nothing once it has grown.
    path: String,
    /// Where the path starts in the target when decoding left it as sent:
    /// a parameter can then be a view of the received bytes.
    raw_path: Option<usize>,
    query: Option<(usize, usize)>,
    params: crate::router::Params,
    peer: SocketAddr,
    body: Body,
    state: Option<crate::router::State>,
    /// When the last read before the head was taken returned: the head
    /// had arrived whole by then.
    arrived: Tick,
}

impl Reuse for Parts {
    fn spares() -> &'static std::thread::LocalKey<Spares<Parts>> {
        thread_local!(static SPARE: Spares<Parts> = const { Spares::new() });
        &SPARE
    }

    /// Drops what a request held (its body gives back a lent socket here).
    fn clear(&mut self) {
        self.body.clear();
        self.state = None;
        self.params.clear();
        if self.path.capacity() > PATH_KEEP_BYTES {
            self.path = String::new();
        }
        self.path.clear();
        self.raw_path = None;
        self.query = None;
        self.head.bytes = Bytes::new();
        self.head.fields.clear();
        self.head.index.clear();
        self.head.method = Method::Get;
        self.arrived = Tick::UNKNOWN;
    }
}

impl Request {
    /// A request from `peer` with nothing parsed yet: its head is filled in
    /// place by the parser, then the rest by the checks and the router.
    pub(crate) fn blank(peer: SocketAddr) -> Request {
        Request(Reused::new(
            |parts: &mut Parts| parts.peer = peer,
            || Parts {
                head: RequestHead {
                    bytes: Bytes::new(),
                    method: Method::Get,
                    target: Span::default(),
                    version: Version::Http11,
                    fields: Fields::new(),
                    index: FieldIndex::NONE,
                },
                path: String::new(),
                raw_path: None,
                query: None,
                params: Default::default(),
                peer,
                body: Body::empty(),
                state: None,
                arrived: Tick::UNKNOWN,
            },
        ))
    }

    /// The head, for the parser to fill in.
    pub(crate) fn head_mut(&mut self) -> &mut RequestHead {
        &mut self.0.head
    }

    /// The decoded path and the query's place, from the checks of the head.
    /// The box is blank (see `Parts::clear`): the path buffer is empty and
    /// there is no raw path yet.
    pub(crate) fn set_target(&mut self, path: DecodedPath, query: Option<(usize, usize)>) {
        let parts = &mut *self.0;
        match path {
            DecodedPath::Raw(start, end) => {
                // The checks admit only visible ASCII in a target.
                let raw = std::str::from_utf8(&parts.head.target()[start..end]).unwrap_or("/");
                parts.path.push_str(raw);
                parts.raw_path = Some(start);
            }
            DecodedPath::Owned(owned) => parts.path = owned,
        }
        parts.query = query;
    }

    /// The body the handler reads.
    pub(crate) fn set_body(&mut self, body: Body) {
        self.0.body = body;
    }

    pub(crate) fn set_arrived(&mut self, arrived: Tick) {
        self.0.arrived = arrived;
    }

    /// When the last read before the head was taken returned, on this
    /// thread's clock ([`Tick::UNKNOWN`] for a request that was not read).
    pub(crate) fn arrived(&self) -> Tick {
        self.0.arrived
    }

    pub(crate) fn set_state(&mut self, state: Option<crate::router::State>) {
        self.0.state = state;
    }

    /// The state shared by the router ([`Router::with_state`](crate::Router::with_state)),
    /// if it is of type `T`.
    pub fn state<T: std::any::Any + Send + Sync>(&self) -> Option<&T> {
        self.0.state.as_deref()?.downcast_ref()
    }

    /// The query's `name=value` pairs, percent-decoded (`+` as a space);
    /// bytes that do not form UTF-8 are replaced.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let decode = |s: &str| {
            let bytes = s.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'+' => out.push(b' '),
                    b'%' if i + 2 < bytes.len() => {
                        let hex = |b: u8| crate::proto::token::hex_value(b);
                        match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                            (Some(h), Some(l)) => {
                                out.push(h << 4 | l);
                                i += 2;
                            }
                            _ => out.push(b'%'),
                        }
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        };
        self.query()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(pair), String::new()),
            })
            .collect()
    }

    /// The first query value of `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Records the path parameters of the route that matched; a route
    /// without any is not walked a second time.
    pub(crate) fn capture_params(&mut self, pattern: &[crate::router::Segment]) {
        if !crate::router::has_params(pattern) {
            return;
        }
        let parts = &mut *self.0;
        crate::router::capture_params(pattern, &parts.path, &mut parts.params);
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.0.head.method
    }

    /// The version the client spoke.
    pub fn version(&self) -> Version {
        self.0.head.version
    }

    /// The request-target exactly as sent.
    pub fn target(&self) -> &str {
        // The parser admits only visible ASCII in a target.
        std::str::from_utf8(self.0.head.target()).unwrap_or("")
    }

    /// The path, percent-decoded and with dot-segments removed.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// The query string without `?`, still encoded.
    pub fn query(&self) -> Option<&str> {
        let (start, end) = self.0.query?;
        std::str::from_utf8(&self.0.head.target()[start..end]).ok()
    }

    /// The value of the path parameter `name`, decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        let (_, (start, end)) = self
            .0
            .params
            .iter()
            .find(|(n, _)| n.as_deref() == Some(name))?;
        self.path().get(*start..*end)
    }

    /// The value of the path parameter `name`, decoded, as shared bytes:
    /// a view of the received head when nothing needed decoding.
    pub fn param_bytes(&self, name: &str) -> Option<bytes::Bytes> {
        let (_, (start, end)) = self
            .0
            .params
            .iter()
            .find(|(n, _)| n.as_deref() == Some(name))?;
        let param = self.0.path.get(*start..*end)?;
        match self.0.raw_path {
            Some(path_start) => {
                let offset = self.0.head.target.start as usize + path_start;
                Some(self.0.head.bytes.slice(offset + start..offset + end))
            }
            None => Some(bytes::Bytes::copy_from_slice(param.as_bytes())),
        }
    }

    /// The first value of the header field `name` (case-insensitive), if it
    /// is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0
            .head
            .value(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of the header field `name`, as bytes.
    #[inline]
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0.head.values(name)
    }

    /// The first value of `name` as shared bytes (a view of the head).
    pub fn header_bytes(&self, name: &str) -> Option<bytes::Bytes> {
        let value = self.0.head.value(name)?;
        Some(self.0.head.bytes.slice_ref(value))
    }

    /// Every header field as (name, value), in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0.head.fields()
    }

    /// The raw head as received.
    pub fn head(&self) -> &RequestHead {
        &self.0.head
    }

    /// The address of the client.
    pub fn peer_addr(&self) -> SocketAddr {
        self.0.peer
    }

    /// The body.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.0.body
    }

    /// Takes the body, leaving an empty one.
    pub fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.0.body)
    }
}
