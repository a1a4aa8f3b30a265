//! The request body as a handler sees it: a stream of chunks read straight
//! from the connection, bounded by the body limit and the body timeout.
//!
//! While a handler holds the body, the connection's socket and buffers live
//! inside it; when the body is dropped they go back to the connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::time::Instant;

use super::io::{BODY_READ_MAX, Io};
use crate::error::ProtoError;
use crate::proto::chunked::{Chunk, ChunkedDecoder, ChunkedLimits};
use crate::proto::framing::RequestBody;

/// Where a body reader is.
#[derive(Debug)]
enum Kind {
    Length(u64),
    Chunked(ChunkedDecoder),
    Done,
    Failed(ProtoError),
}

/// Reads one body's framing from a connection.
#[derive(Debug)]
pub(crate) struct BodyReader {
    kind: Kind,
    received: u64,
    max: u64,
    timeout: Duration,
    /// `Expect: 100-continue` was asked and not yet answered.
    pub continue_pending: bool,
    /// Hand out the bytes as received, chunk framing included.
    raw: bool,
    /// Room asked for by the next read: doubled, up to
    /// [`BODY_READ_MAX`], each time a read fills it. A slow client keeps
    /// a small buffer; a fast upload is read in few large pieces.
    read_size: usize,
}

/// Room for a body's first read: small, so that thousands of clients
/// sending bodies slowly hold little memory.
const BODY_READ_FIRST: usize = 4 * 1024;

impl BodyReader {
    pub fn new(
        framing: RequestBody,
        max: u64,
        timeout: Duration,
        chunked: ChunkedLimits,
    ) -> BodyReader {
        let kind = match framing {
            RequestBody::None | RequestBody::Length(0) => Kind::Done,
            RequestBody::Length(n) => Kind::Length(n),
            RequestBody::Chunked => Kind::Chunked(ChunkedDecoder::new(chunked)),
        };
        BodyReader {
            kind,
            received: 0,
            max,
            timeout,
            continue_pending: false,
            raw: false,
            read_size: BODY_READ_FIRST,
        }
    }

    /// True once the whole body has been read.
    pub fn is_done(&self) -> bool {
        matches!(self.kind, Kind::Done)
    }

    /// True when the body broke (bad framing, too large, stalled, cut off).
    pub fn failed(&self) -> Option<ProtoError> {
        match self.kind {
            Kind::Failed(e) => Some(e),
            _ => None,
        }
    }

    fn fail(&mut self, e: ProtoError) -> Result<Option<Bytes>, ProtoError> {
        self.kind = Kind::Failed(e);
        Err(e)
    }

    /// The next piece of body, `None` at its end.
    pub async fn next(&mut self, io: &mut Io) -> Result<Option<Bytes>, ProtoError> {
        loop {
            if !io.rbuf.is_empty() {
                if let Some(step) = self.take_buffered(&mut io.rbuf) {
                    return step;
                }
            }
            match self.kind {
                Kind::Done => return Ok(None),
                Kind::Failed(e) => return Err(e),
                _ => {}
            }
            if self.continue_pending {
                self.continue_pending = false;
                io.wbuf.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            match io
                .read_body(Instant::now() + self.timeout, self.read_size)
                .await
            {
                Ok(0) => return self.fail(ProtoError::IncompleteBody),
                // All it asked for: the body comes faster than it is read.
                Ok(n) if n == self.read_size => {
                    self.read_size = (self.read_size * 2).min(BODY_READ_MAX);
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return self.fail(ProtoError::BodyTimeout);
                }
                Err(_) => return self.fail(ProtoError::IncompleteBody),
            }
        }
    }

    /// Takes body bytes already in the buffer; `None` when more are needed.
    fn take_buffered(&mut self, rbuf: &mut BytesMut) -> Option<Result<Option<Bytes>, ProtoError>> {
        let data = match &mut self.kind {
            Kind::Done => return Some(Ok(None)),
            Kind::Failed(e) => return Some(Err(*e)),
            Kind::Length(remaining) => {
                let n = (*remaining).min(rbuf.len() as u64);
                *remaining -= n;
                if *remaining == 0 {
                    self.kind = Kind::Done;
                }
                rbuf.split_to(n as usize).freeze()
            }
            Kind::Chunked(decoder) => match decoder.decode(rbuf) {
                Err(e) => return Some(self.fail(e)),
                // A chunk's size comes before its data: one that takes the
                // body over the limit is refused when it is announced.
                Ok(Chunk::NeedMore)
                    if self.received.saturating_add(decoder.announced()) > self.max =>
                {
                    return Some(self.fail(ProtoError::BodyTooLarge));
                }
                Ok(Chunk::NeedMore) if self.raw => return Some(Ok(Some(rbuf.split().freeze()))),
                Ok(Chunk::NeedMore) => {
                    rbuf.clear();
                    return None;
                }
                Ok(Chunk::Done(n)) => {
                    let framing = rbuf.split_to(n).freeze();
                    self.kind = Kind::Done;
                    return Some(Ok(self.raw.then_some(framing)));
                }
                Ok(Chunk::Data { start, end }) => {
                    let mut piece = rbuf.split_to(end);
                    self.received += (end - start) as u64;
                    if self.received.saturating_add(decoder.announced()) > self.max {
                        return Some(self.fail(ProtoError::BodyTooLarge));
                    }
                    if !self.raw {
                        piece.advance(start);
                    }
                    return Some(Ok(Some(piece.freeze())));
                }
            },
        };
        self.received += data.len() as u64;
        if self.received > self.max {
            return Some(self.fail(ProtoError::BodyTooLarge));
        }
        Some(Ok(Some(data)))
    }

    /// Discards the body bytes already received, without waiting. True
    /// when they ended the body.
    pub fn discard_buffered(&mut self, io: &mut Io) -> bool {
        while !io.rbuf.is_empty() {
            match self.take_buffered(&mut io.rbuf) {
                Some(Ok(Some(_))) => {}
                Some(Ok(None)) | Some(Err(_)) | None => break,
            }
        }
        self.is_done()
    }

    /// The declared length of the rest of the body, if there is one.
    pub fn declared_rest(&self) -> Option<u64> {
        match self.kind {
            Kind::Length(remaining) => Some(remaining),
            _ => None,
        }
    }

    /// Whether the rest of the body, if it came, could be drained within
    /// `limit` bytes: the client is not waiting for `100 Continue`, and a
    /// declared length does not already say it is longer.
    pub fn drainable(&self, limit: u64) -> bool {
        match self.kind {
            _ if self.continue_pending => false,
            Kind::Length(remaining) => remaining <= limit,
            Kind::Chunked(_) | Kind::Done => true,
            Kind::Failed(_) => false,
        }
    }

    /// Reads and discards the rest of the body, up to `limit` bytes. True
    /// when the body ended cleanly, so the connection can carry on.
    pub async fn drain(&mut self, io: &mut Io, limit: u64) -> bool {
        if self.continue_pending {
            // The client waits for our word before sending the body.
            return false;
        }
        let mut drained = 0u64;
        loop {
            match self.next(io).await {
                Ok(None) => return true,
                Ok(Some(piece)) => {
                    drained += piece.len() as u64;
                    if drained > limit {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }
}

/// What a body holds while a handler has it, and returns when dropped.
#[derive(Debug)]
pub(crate) struct Lent {
    pub io: Io,
    pub reader: BodyReader,
}

/// The connection's slot that a dropped body returns its [`Lent`] parts to.
pub(crate) type Home = Arc<Mutex<Option<Box<Lent>>>>;

/// A request body, read as a stream of chunks.
///
/// Reading enforces `max_body_bytes` (413) and the body timeout (408); a
/// broken body ends the connection after the response. `Expect:
/// 100-continue` is answered the first time the body is read, so a handler
/// that refuses a request without reading its body never invites it.
#[derive(Debug, Default)]
pub struct Body {
    /// Boxed, so a request without a body carries only a null pointer.
    lent: Option<Box<Lent>>,
    home: Option<Home>,
    declared: Option<u64>,
}

impl Body {
    /// A body with nothing in it.
    pub fn empty() -> Body {
        Body::default()
    }

    /// Makes this body empty, giving a lent socket back first; a body that
    /// holds nothing is emptied without running its drop.
    #[inline]
    pub(crate) fn clear(&mut self) {
        if self.lent.is_some() || self.home.is_some() {
            *self = Body::empty();
        }
        self.declared = None;
    }

    pub(crate) fn lend(lent: Lent, home: Home, declared: Option<u64>) -> Body {
        Body {
            lent: Some(Box::new(lent)),
            home: Some(home),
            declared,
        }
    }

    /// The length the client declared with `Content-Length`, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.declared
    }

    /// The next chunk of the body, or `None` once it has all been read.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ProtoError> {
        match &mut self.lent {
            Some(lent) => lent.reader.next(&mut lent.io).await,
            None => Ok(None),
        }
    }

    /// The next piece of the body exactly as received: for a chunked body
    /// the chunk framing, extensions and trailers are included. Use either
    /// this or [`Body::chunk`] on one body, not both.
    pub async fn raw_chunk(&mut self) -> Result<Option<Bytes>, ProtoError> {
        match &mut self.lent {
            Some(lent) => {
                lent.reader.raw = true;
                lent.reader.next(&mut lent.io).await
            }
            None => Ok(None),
        }
    }

    /// Streams the body into the file at `path`, atomically: it is written
    /// to a temporary file in the same directory, `fsync`ed and renamed over
    /// `path` only once complete. Returns true when the file is new.
    pub async fn save(
        &mut self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<bool, crate::files::FileError> {
        let path = path.as_ref();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        let name =
            path.file_name()
                .and_then(|n| n.to_str())
                .ok_or(crate::files::FileError::Conflict(
                    "a UTF-8 file name is needed",
                ))?;
        let root = crate::files::FileRoot::open(dir).map_err(crate::files::FileError::Io)?;
        root.upload(name, self, crate::files::UploadOptions::default())
            .await
    }

    /// The whole body in memory; 413 if it is longer than `limit` bytes.
    /// A body refused for its size is not read on: the connection closes
    /// after the answer, as it does for a body over `max_body_bytes`.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Bytes, ProtoError> {
        if self.declared.is_some_and(|n| n > limit as u64) {
            return Err(self.refuse(ProtoError::BodyTooLargeToBuffer));
        }
        let Some(first) = self.chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.chunk().await? else {
            return self.within(first, limit);
        };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(piece) = self.chunk().await? {
            if all.len() + piece.len() > limit {
                return Err(self.refuse(ProtoError::BodyTooLargeToBuffer));
            }
            all.extend_from_slice(&piece);
        }
        self.within(all.freeze(), limit)
    }

    fn within(&mut self, body: Bytes, limit: usize) -> Result<Bytes, ProtoError> {
        if body.len() > limit {
            Err(self.refuse(ProtoError::BodyTooLargeToBuffer))
        } else {
            Ok(body)
        }
    }

    /// Gives up on the rest of the body for `e`: nothing more is read and
    /// the connection closes after the answer.
    pub(crate) fn refuse(&mut self, e: ProtoError) -> ProtoError {
        if let Some(lent) = &mut self.lent {
            let _ = lent.reader.fail(e);
        }
        e
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if self.lent.is_none() {
            return;
        }
        if let (Some(lent), Some(home)) = (self.lent.take(), self.home.take()) {
            *home.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(lent);
        }
    }
}
