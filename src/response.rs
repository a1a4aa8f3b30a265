//! What a handler returns: a status, fields and a payload. The framing of
//! that payload on the wire is decided by `proto::framing`, never here.

use std::borrow::Cow;
use std::fs::File;

use bytes::Bytes;

use crate::error::ProtoError;
use crate::spare::{Reuse, Reused, Spares};

/// The content of a response, before framing.
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Payload {
    /// No content.
    #[default]
    Empty,
    /// Bytes held in memory.
    Bytes(Bytes),
    /// `len` bytes of an open file from `offset`, sent with `sendfile`.
    File {
        /// The open file.
        file: File,
        /// Where the bytes start.
        offset: u64,
        /// How many bytes to send.
        len: u64,
    },
    /// Several ranges of one file, each after its own framing bytes, then
    /// a closing part: a `multipart/byteranges` body.
    Ranges {
        /// The open file.
        file: File,
        /// For each part: the bytes before it, its offset and its length.
        parts: Vec<(Bytes, u64, u64)>,
        /// The bytes after the last part.
        closing: Bytes,
    },
    /// Chunks produced while the response is being sent, of unknown total
    /// length: sent with the chunked coding (or until close to HTTP/1.0).
    Stream(ChunkStream),
}

/// The receiving end of a streamed body; see [`Response::stream`].
#[derive(Debug)]
pub struct ChunkStream(tokio::sync::mpsc::Receiver<Bytes>);

impl ChunkStream {
    /// The next chunk, `None` once the sender is gone.
    pub async fn next(&mut self) -> Option<Bytes> {
        self.0.recv().await
    }

    /// A chunk that is already waiting, without waiting for one.
    pub fn ready(&mut self) -> Option<Bytes> {
        self.0.try_recv().ok()
    }
}

/// The sending end of a streamed body. Dropping it ends the body.
#[derive(Debug, Clone)]
pub struct ChunkSender(tokio::sync::mpsc::Sender<Bytes>);

impl ChunkSender {
    /// Sends one chunk; waits while the client is slow (at most a few
    /// chunks are buffered). An error means the client is gone.
    pub async fn send(&self, chunk: impl Into<Bytes>) -> Result<(), ClientGone> {
        let chunk = chunk.into();
        if chunk.is_empty() {
            return Ok(());
        }
        self.0.send(chunk).await.map_err(|_| ClientGone)
    }
}

/// The client of a streamed response went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientGone;

impl std::fmt::Display for ClientGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client went away")
    }
}

impl std::error::Error for ClientGone {}

impl Payload {
    /// The length in bytes, if known before sending.
    pub fn known_len(&self) -> Option<u64> {
        match self {
            Payload::Stream(_) => None,
            other => Some(other.len()),
        }
    }

    /// The length in bytes (0 for a stream, whose length is not known).
    pub fn len(&self) -> u64 {
        match self {
            Payload::Stream(_) => 0,
            Payload::Empty => 0,
            Payload::Bytes(b) => b.len() as u64,
            Payload::File { len, .. } => *len,
            Payload::Ranges { parts, closing, .. } => {
                parts
                    .iter()
                    .map(|(head, _, len)| head.len() as u64 + len)
                    .sum::<u64>()
                    + closing.len() as u64
            }
        }
    }

    /// True when there is no content.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An HTTP response under construction.
///
/// ```
/// use barehttp::Response;
/// let r = Response::text("hi").with_status(201).header("X-Id", "7");
/// assert_eq!(r.status(), 201);
/// assert_eq!(r.header_value("x-id"), Some(&b"7"[..]));
/// ```
///
/// Its parts sit in a box that a later response on the same thread uses
/// again (`src/spare.rs`), so returning a response from a handler
/// through the router's stages moves one pointer.
#[derive(Debug)]
pub struct Response(Reused<Parts>);

#[derive(Debug)]
struct Parts {
    status: u16,
    fields: crate::inline::InlineVec<(Cow<'static, str>, Bytes), 4>,
    payload: Payload,
    close: bool,
}

impl Reuse for Parts {
    fn spares() -> &'static std::thread::LocalKey<Spares<Parts>> {
        thread_local!(static SPARE: Spares<Parts> = const { Spares::new() });
        &SPARE
    }

    fn clear(&mut self) {
        self.fields.clear();
        self.payload = Payload::Empty;
        self.close = false;
    }
}

impl crate::inline::Blank for (Cow<'static, str>, Bytes) {
    const BLANK: Self = (Cow::Borrowed(""), Bytes::new());
}

impl Response {
    /// An empty response with this status.
    pub fn new(status: u16) -> Response {
        Response(Reused::new(
            |parts: &mut Parts| parts.status = status,
            || Parts {
                status,
                fields: Default::default(),
                payload: Payload::Empty,
                close: false,
            },
        ))
    }

    /// `200 OK` with no content.
    pub fn ok() -> Response {
        Response::new(200)
    }

    /// `200 OK` with a `text/plain` body.
    pub fn text(body: impl Into<Bytes>) -> Response {
        Response::bytes("text/plain", body)
    }

    /// `200 OK` with a body of the given content type.
    pub fn bytes(content_type: &'static str, body: impl Into<Bytes>) -> Response {
        Response::ok()
            .content_type(content_type)
            .with_payload(Payload::Bytes(body.into()))
    }

    /// `200 OK` sending `len` bytes of an open file.
    pub fn file(content_type: &'static str, file: File, len: u64) -> Response {
        Response::ok()
            .content_type(content_type)
            .with_payload(Payload::File {
                file,
                offset: 0,
                len,
            })
    }

    /// `200 OK` with a JSON body (the caller provides the JSON text).
    pub fn json(body: impl Into<Bytes>) -> Response {
        Response::bytes("application/json", body)
    }

    /// A redirect (301, 302, 303, 307 or 308) to `location`.
    pub fn redirect(status: u16, location: impl Into<Bytes>) -> Response {
        Response::new(status).header("Location", location)
    }

    /// `200 OK` with the file at `path`, its type from the extension.
    pub fn file_at(path: impl AsRef<std::path::Path>) -> std::io::Result<Response> {
        let path = path.as_ref();
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let content_type = crate::files::mime::content_type(&path.to_string_lossy());
        Ok(Response::ok()
            .header("Content-Type", content_type)
            .with_payload(Payload::File {
                file,
                offset: 0,
                len: meta.len(),
            }))
    }

    /// `200 OK` whose body is produced while it is sent: send chunks on the
    /// returned sender (from a spawned task) and drop it to end the body.
    /// Each chunk is written as soon as it is received, together with any
    /// chunks already waiting behind it; none is held back for more.
    ///
    /// ```no_run
    /// use barehttp::{Request, Response};
    /// async fn ticks(_req: Request) -> Response {
    ///     let (response, tx) = Response::stream("text/plain");
    ///     tokio::spawn(async move {
    ///         for i in 0..3 {
    ///             if tx.send(format!("tick {i}\n")).await.is_err() {
    ///                 break;
    ///             }
    ///         }
    ///     });
    ///     response
    /// }
    /// ```
    pub fn stream(content_type: &'static str) -> (Response, ChunkSender) {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let response = Response::ok()
            .header("Content-Type", content_type)
            .with_payload(Payload::Stream(ChunkStream(rx)));
        (response, ChunkSender(tx))
    }

    /// An error status with its reason as a one-line text body.
    pub fn error(status: u16, reason: &str) -> Response {
        let mut body = String::with_capacity(reason.len() + 1);
        body.push_str(reason);
        body.push('\n');
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .with_payload(Payload::Bytes(body.into()))
    }

    /// Sets the status.
    pub fn with_status(mut self, status: u16) -> Response {
        self.0.status = status;
        self
    }

    /// Replaces the payload.
    pub fn with_payload(mut self, payload: Payload) -> Response {
        self.0.payload = payload;
        self
    }

    /// Adds a field. Framing and connection fields (`Content-Length`,
    /// `Transfer-Encoding`, `Connection`) belong to the server and are not
    /// accepted; neither is a name that is not a token or a value with CR,
    /// LF or NUL. Such a field turns the response into a 500 that says so,
    /// rather than sending something malformed.
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Bytes>,
    ) -> Response {
        let name = name.into();
        let value = value.into();
        let reserved = ["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r));
        let valid = crate::proto::token::is_token(name.as_bytes())
            && value
                .iter()
                .all(|&b| crate::proto::token::FIELD_VALUE[b as usize]);
        if reserved || !valid {
            log::error!("handler set an invalid or reserved field {name:?}");
            return Response::error(500, "handler set an invalid response field");
        }
        self.0.fields.push((name, value));
        self
    }

    /// Adds `Content-Type`, checking only the value: the name is ours.
    fn content_type(self, value: &'static str) -> Response {
        if !value
            .bytes()
            .all(|b| crate::proto::token::FIELD_VALUE[b as usize])
        {
            return self.header("Content-Type", value);
        }
        self.field("Content-Type", Bytes::from_static(value.as_bytes()))
    }

    /// [`Response::push_field`] for a response being built by value.
    pub(crate) fn field(mut self, name: &'static str, value: Bytes) -> Response {
        self.push_field(name, value);
        self
    }

    /// Adds a field the server rendered itself (a kept file's `ETag`,
    /// `Last-Modified`, type), skipping the checks of
    /// [`Response::header`] and the move of the whole response.
    pub(crate) fn push_field(&mut self, name: &'static str, value: Bytes) {
        debug_assert!(
            crate::proto::token::is_token(name.as_bytes())
                && value
                    .iter()
                    .all(|&b| crate::proto::token::FIELD_VALUE[b as usize])
        );
        self.0.fields.push((Cow::Borrowed(name), value));
    }

    /// Asks for the connection to close after this response.
    pub fn close(mut self) -> Response {
        self.0.close = true;
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// The first value of the field `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&[u8]> {
        self.0
            .fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    }

    /// Every field, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.fields.iter().map(|(n, v)| (&n[..], &v[..]))
    }

    /// The payload.
    pub fn payload(&self) -> &Payload {
        &self.0.payload
    }

    /// True when the handler asked to close the connection.
    pub fn wants_close(&self) -> bool {
        self.0.close
    }

    /// Takes the payload out, leaving it empty.
    pub fn take_payload(&mut self) -> Payload {
        std::mem::take(&mut self.0.payload)
    }
}

/// Anything a handler may return.
pub trait IntoResponse {
    /// Converts into a response.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

impl IntoResponse for ProtoError {
    fn into_response(self) -> Response {
        Response::error(self.status(), self.reason())
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(t) => t.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_a_handler_sets_are_checked() {
        let ok = Response::bytes("text/plain; charset=utf-8", "x").header("X-A", "b\tc");
        assert_eq!(ok.status(), 200);
        assert_eq!(
            ok.header_value("content-type"),
            Some(&b"text/plain; charset=utf-8"[..])
        );
        assert_eq!(ok.header_value("x-a"), Some(&b"b\tc"[..]));
        let broken = [
            Response::bytes("text/plain\r\nX-Injected: 1", "x"),
            Response::file("a\0b", std::fs::File::open("/dev/null").unwrap(), 0),
            Response::ok().header("X-A", "b\r\nc"),
            Response::ok().header("X A", "b"),
            Response::ok().header("Content-Length", "1"),
            Response::ok().header("transfer-encoding", "chunked"),
            Response::ok().header("Connection", "close"),
        ];
        for response in broken {
            assert_eq!(response.status(), 500);
            // None of the refused fields is kept, under any name.
            assert!(
                response
                    .fields()
                    .all(|(name, value)| name == "Content-Type"
                        && value == b"text/plain; charset=utf-8"),
                "{:?}",
                response.fields().collect::<Vec<_>>()
            );
        }
    }
}
