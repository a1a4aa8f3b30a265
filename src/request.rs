//! What a handler sees of a request: its head, decoded path, path
//! parameters, query, peer, and the body as a stream.

use std::net::SocketAddr;

use crate::conn::body::Body;
use crate::proto::head::{Method, RequestHead, Version};

/// The path as decoded once by `proto::target::decode_path`: usually the
/// raw bytes themselves, else an owned copy.
#[derive(Debug, Clone)]
pub(crate) enum DecodedPath {
    Raw(usize, usize),
    Owned(String),
}

/// The decoded path of `head`.
fn decoded<'a>(head: &'a RequestHead, path: &'a DecodedPath) -> &'a str {
    match path {
        DecodedPath::Raw(start, end) => {
            std::str::from_utf8(&head.target()[*start..*end]).unwrap_or("/")
        }
        DecodedPath::Owned(s) => s,
    }
}

/// An HTTP request handed to a handler.
#[derive(Debug)]
pub struct Request {
    head: RequestHead,
    path: DecodedPath,
    query: Option<(usize, usize)>,
    params: crate::router::Params,
    peer: SocketAddr,
    body: Body,
    state: Option<crate::router::State>,
}

impl Request {
    pub(crate) fn new(
        head: RequestHead,
        path: DecodedPath,
        query: Option<(usize, usize)>,
        peer: SocketAddr,
        body: Body,
    ) -> Request {
        Request {
            head,
            path,
            query,
            params: Default::default(),
            peer,
            body,
            state: None,
        }
    }

    pub(crate) fn set_state(&mut self, state: Option<crate::router::State>) {
        self.state = state;
    }

    /// The state shared by the router ([`Router::with_state`](crate::Router::with_state)),
    /// if it is of type `T`.
    pub fn state<T: std::any::Any + Send + Sync>(&self) -> Option<&T> {
        self.state.as_deref()?.downcast_ref()
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

    /// Records the path parameters of the route that matched.
    pub(crate) fn capture_params(&mut self, pattern: &[crate::router::Segment]) {
        let path = decoded(&self.head, &self.path);
        crate::router::capture_params(pattern, path, &mut self.params);
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The version the client spoke.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The request-target exactly as sent.
    pub fn target(&self) -> &str {
        // The parser admits only visible ASCII in a target.
        std::str::from_utf8(self.head.target()).unwrap_or("")
    }

    /// The path, percent-decoded and with dot-segments removed.
    pub fn path(&self) -> &str {
        decoded(&self.head, &self.path)
    }

    /// The query string without `?`, still encoded.
    pub fn query(&self) -> Option<&str> {
        let (start, end) = self.query?;
        std::str::from_utf8(&self.head.target()[start..end]).ok()
    }

    /// The value of the path parameter `name`, decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        let (_, (start, end)) = self
            .params
            .iter()
            .find(|(n, _)| n.as_deref() == Some(name))?;
        self.path().get(*start..*end)
    }

    /// The value of the path parameter `name`, decoded, as shared bytes:
    /// a view of the received head when nothing needed decoding.
    pub fn param_bytes(&self, name: &str) -> Option<bytes::Bytes> {
        let (_, (start, end)) = self
            .params
            .iter()
            .find(|(n, _)| n.as_deref() == Some(name))?;
        match &self.path {
            DecodedPath::Raw(path_start, _) => {
                let offset = self.head.target.start as usize + path_start;
                Some(self.head.bytes.slice(offset + start..offset + end))
            }
            DecodedPath::Owned(s) => Some(bytes::Bytes::copy_from_slice(
                s.get(*start..*end)?.as_bytes(),
            )),
        }
    }

    /// The first value of the header field `name` (case-insensitive), if it
    /// is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .value(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of the header field `name`, as bytes.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.head.values(name)
    }

    /// The first value of `name` as shared bytes (a view of the head).
    pub fn header_bytes(&self, name: &str) -> Option<bytes::Bytes> {
        let value = self.head.value(name)?;
        Some(self.head.bytes.slice_ref(value))
    }

    /// Every header field as (name, value), in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.head.fields()
    }

    /// The raw head as received.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }

    /// The address of the client.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The body.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }

    /// Takes the body, leaving an empty one.
    pub fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.body)
    }
}
