//! One connection from accept to close. It owns the socket and buffers and
//! moves through named states:
//!
//! ```text
//! Idle ──bytes──► ReadingHead ──head──► Checking ──► Handling (body lent to the handler)
//!   ▲                 │ error/timeout       │ error        │
//!   │                 ▼                     ▼              ▼
//!   └── keep-alive ◄─ Writing ◄─────────────┴──────── Finishing body (drain or close)
//! ```
//! Every error answers with its status and `Connection: close`, then the
//! connection lingers briefly so the answer is not lost to a reset.
//!
//! An `Idle` connection that stays silent for [`park::park_delay`] parks:
//! [`serve`] returns it and it waits in the worker's parked set without a
//! task or buffers until its client sends again.

pub(crate) mod body;
pub(crate) mod io;
pub(crate) mod park;

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use memchr::memchr;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use self::body::{Body, BodyReader, Home, Lent};
use self::io::{COALESCE_LIMIT, Io};
use self::park::Parked;
use crate::access_log;
use crate::config::Config;
use crate::error::ProtoError;
use crate::proto::encode::{ConnectionField, write_head};
use crate::proto::framing::{self, RequestBody, ResponseBody};
use crate::proto::head::{Method, RequestHead, Version};
use crate::proto::parse::{HeadLimits, Status, oversized_head_error, parse_head_into};
use crate::proto::target::{Form, check_host, decode_path, parse_target};
use crate::proto::token::list_items;
use crate::request::{DecodedPath, Request};
use crate::response::{IntoResponse, Payload, Response};
use crate::router::{BoxFuture, Dispatch, Reply, Router};
use crate::trace::TraceOut;

/// How long a closing connection keeps reading what the peer still sends.
const LINGER: Duration = Duration::from_secs(2);

/// Responses waiting in the write buffer are flushed past this size even
/// when more pipelined requests are already buffered.
const BATCH_LIMIT: usize = 64 * 1024;

/// A body rest this short can be sent whole while the server writes: the
/// kernels' socket buffers hold it without a read.
const BUFFERED_BODY_BYTES: u64 = 64 * 1024;

/// What every connection of a server shares.
pub(crate) struct Shared {
    pub config: Config,
    pub router: Router,
    pub trace: Option<Arc<TraceOut>>,
    pub log: Option<Arc<access_log::Sink>>,
}

impl Shared {
    /// Opens the trace and log destinations the configuration names.
    pub fn new(config: Config, router: Router) -> std::io::Result<Shared> {
        let json = match &config.trace_file {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
            None => None,
        };
        let trace = (config.trace || json.is_some()).then(|| {
            Arc::new(TraceOut::new(
                config.trace,
                json,
                config.trace_body_bytes,
                config.color,
            ))
        });
        let log = if config.access_log {
            Some(Arc::new(access_log::Sink::open(
                config.log_format,
                config.log_file.as_deref(),
            )?))
        } else {
            None
        };
        Ok(Shared {
            config,
            router,
            trace,
            log,
        })
    }
}

/// What routing a request gave. The response travels by value: boxing it
/// would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Routed<'a> {
    /// The response (and whether the handler panicked).
    Answered(Response, bool),
    /// The handler's future, and what to do to its response.
    Pending(BoxFuture, Finish<'a>),
}

/// The router's stages still to apply to a handler's response.
struct Finish<'a> {
    context: &'a crate::router::Context,
    coding: Option<crate::coding::Choice>,
}

impl Finish<'_> {
    fn apply(self, response: Response) -> Response {
        crate::coding::apply_stages(self.context, self.coding, response)
    }
}

/// The 500 for a handler that panicked; the connection then closes.
fn handler_panicked(peer: SocketAddr) -> (Response, bool) {
    log::error!("{peer}: handler panicked");
    (Response::error(500, "the handler failed"), true)
}

/// Whether the connection goes on after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    KeepAlive,
    Close,
}

/// Splits a complete head off the read buffer, if there is one, as a
/// request from `peer` whose head the parser filled in place.
fn take_head(
    io: &mut Io,
    config: &Config,
    peer: SocketAddr,
) -> Result<Option<Request>, ProtoError> {
    let limits = HeadLimits {
        max_target_bytes: config.max_target_bytes,
        max_fields: config.max_headers,
    };
    let mut req = Request::blank(peer);
    let head = req.head_mut();
    let Status::Complete(len, (method, target, version)) =
        parse_head_into(&io.rbuf, &limits, &mut head.fields)?
    else {
        return Ok(None);
    };
    if len > config.max_header_bytes {
        return Err(ProtoError::HeadTooLarge);
    }
    head.bytes = io.rbuf.split_to(len).freeze();
    head.index.build(&head.bytes, &head.fields);
    head.method = method;
    head.target = target;
    head.version = version;
    req.set_arrived(io.arrived);
    Ok(Some(req))
}

/// What the checks of a head found, for building the request.
struct Checked {
    framing: RequestBody,
    path: DecodedPath,
    query: Option<(usize, usize)>,
    asterisk: bool,
    expect_continue: bool,
}

/// How a connection task begins.
pub(crate) enum Start {
    /// Just accepted.
    Accepted(TcpStream, SocketAddr),
    /// Woken from the parked set by its client.
    Resumed(Parked),
}

/// Serves a connection until it closes, or until it has been idle long
/// enough to park: then it is returned, to wait without a task.
pub(crate) async fn serve(
    start: Start,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) -> Option<Parked> {
    let (io, peer, served) = match start {
        Start::Accepted(stream, peer) => {
            let trace = shared.trace.as_ref().map(|t| Box::new(t.connection(peer)));
            (Io::new(stream, shared.config.write_timeout, trace), peer, 0)
        }
        Start::Resumed(parked) => {
            let stream = TcpStream::from_std(parked.stream).ok()?;
            let mut io = Io::new(stream, shared.config.write_timeout, parked.trace);
            io.resumed(parked.served > 0);
            (io, parked.peer, parked.served)
        }
    };
    let mut conn = Connection {
        io: Some(io),
        home: None,
        peer,
        shared,
        shutdown,
        served,
        batched: 0,
        host: HostSeen::default(),
    };
    conn.run().await
}

/// What waiting for the next head ended with.
enum Next {
    Head(Request),
    Closed,
    /// Idle past the parking delay; the idle deadline comes along.
    Park(Instant),
}

struct Connection {
    /// `None` only while a handler holds the body (and with it the socket).
    io: Option<Io>,
    /// Where a lent body returns the socket; made on the first body.
    home: Option<Home>,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    served: u64,
    /// Responses waiting in the write buffer.
    batched: usize,
    /// The last `Host` value found valid on this connection.
    host: HostSeen,
}

impl Connection {
    async fn run(&mut self) -> Option<Parked> {
        loop {
            let next = match self.buffered_head() {
                Ok(Some(req)) => Ok(Next::Head(req)),
                Ok(None) => self.read_head().await,
                Err(e) => Err(e),
            };
            let req = match next {
                Ok(Next::Head(req)) => req,
                Ok(Next::Closed) => return None,
                Ok(Next::Park(deadline)) => return self.park(deadline),
                Err(e) => {
                    // Boxed, here and below: rare, and as large as the
                    // rest of the connection's future.
                    Box::pin(self.reject(e, None)).await;
                    return None;
                }
            };
            self.served += 1;
            if self.respond(req).await == Flow::Close {
                return None;
            }
        }
    }

    /// Gives up the task: the socket leaves the runtime, the buffers go.
    /// (A parked set that has shut down closes what it is given.)
    fn park(&mut self, deadline: Instant) -> Option<Parked> {
        let io = self.io.take()?;
        let (stream, trace) = io.into_parts().ok()?;
        Some(Parked {
            stream,
            peer: self.peer,
            served: self.served,
            trace,
            deadline,
        })
    }

    /// A whole head already in the read buffer (pipelined, or read along
    /// with the previous one), taken without waiting or building a future.
    fn buffered_head(&mut self) -> Result<Option<Request>, ProtoError> {
        let config = &self.shared.config;
        let io = self
            .io
            .as_mut()
            .expect("the connection holds its io between requests");
        if io.rbuf.is_empty() {
            return Ok(None);
        }
        take_head(io, config, self.peer)
    }

    /// Idle → ReadingHead: waits for a whole head, after
    /// [`Connection::buffered_head`] found none. `Closed` when the peer
    /// closed, the idle timeout passed or the server is shutting down.
    async fn read_head(&mut self) -> Result<Next, ProtoError> {
        let config = &self.shared.config;
        let io = self
            .io
            .as_mut()
            .expect("the connection holds its io between requests");
        let idle = if self.served == 0 {
            config.header_timeout
        } else {
            config.keep_alive_timeout
        };
        // The header timeout runs from the first byte: a slow drip cannot
        // extend it. Clocks are read only when the connection must wait, so
        // pipelined requests already buffered cost no clock reads.
        let mut started: Option<Instant> = None;
        // The caller has already tried what is buffered.
        let mut scanned = io.rbuf.len();
        loop {
            // Parse again only when a line has ended since the last try.
            if memchr(b'\n', &io.rbuf[scanned..]).is_some() {
                if let Some(req) = take_head(io, config, self.peer)? {
                    return Ok(Next::Head(req));
                }
            }
            scanned = io.rbuf.len();
            if io.rbuf.len() > config.max_header_bytes {
                return Err(oversized_head_error(&io.rbuf));
            }
            if started.is_none() && !io.rbuf.is_empty() {
                started = Some(Instant::now());
            }
            let read = match started {
                Some(t) => io.read_more(t + config.header_timeout).await,
                None => {
                    if shutting_down(&self.shutdown) {
                        io.closing("server shutting down");
                        return Ok(Next::Closed);
                    }
                    if io.flush().await.is_err() {
                        return Ok(Next::Closed);
                    }
                    // No wait on the shutdown signal here: subscribing to it
                    // for every request cost more than the rest of the
                    // wait. A shutdown reaches an idle connection when it
                    // parks, within its parking delay (or at an idle deadline
                    // sooner than that), and a parking connection closes.
                    let now = Instant::now();
                    let deadline = now + idle;
                    match io.wait_idle(now, deadline).await {
                        Ok(Some(n)) => Ok(n),
                        Ok(None) => return Ok(Next::Park(deadline)),
                        Err(e) => Err(e),
                    }
                }
            };
            match read {
                Ok(0) if io.rbuf.iter().all(|b| b.is_ascii_whitespace()) => {
                    return Ok(Next::Closed);
                }
                Ok(0) => return Err(ProtoError::IncompleteHead),
                // The header timeout starts above, once what arrived is
                // found not to be a whole head: a complete one costs no
                // clock read.
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut && started.is_some() => {
                    return Err(ProtoError::HeaderTimeout);
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    io.closing("idle timeout");
                    return Ok(Next::Closed);
                }
                Err(_) => return Ok(Next::Closed),
            }
        }
    }

    /// Checking → Handling → Finishing → Writing, for one request.
    async fn respond(&mut self, mut req: Request) -> Flow {
        let head = req.head();
        let checked = match check_request(head, &self.shared.config, &mut self.host) {
            Ok(checked) => checked,
            Err(e) => {
                Box::pin(self.reject(e, Some(req.head()))).await;
                return Flow::Close;
            }
        };
        let started = self.shared.log.is_some().then(Instant::now);
        let version = head.version;
        let is_head = head.method == Method::Head;
        let mut keep_alive = wants_keep_alive(head);
        let client_closes = !keep_alive;
        let log_entry = self
            .shared
            .log
            .is_some()
            .then(|| access_log::Entry::of(head));

        let lent = self.lend_body(&checked, version, &mut req);
        // Only a handler that has to wait is awaited: building and moving
        // futures for the common answered-at-once case cost a fifth of the
        // time of pipelined requests in memcpy.
        let (mut response, panicked) = match self.route(req, checked) {
            Routed::Answered(response, panicked) => (response, panicked),
            Routed::Pending(fut, finish) => match CatchUnwind(fut).await {
                Ok(response) => (finish.apply(response), false),
                Err(()) => handler_panicked(self.peer),
            },
        };
        if panicked {
            keep_alive = false;
        }
        // What is left of a body the handler did not read to its end.
        let mut unread = None;
        if lent {
            match self.reclaim_body() {
                Some((reclaimed, leftover)) => {
                    self.io = Some(reclaimed);
                    match leftover {
                        Leftover::None => {}
                        Leftover::Broken => keep_alive = false,
                        Leftover::Unread(reader) => unread = Some(reader),
                    }
                }
                // The handler kept the body alive elsewhere: nothing to answer with.
                None => return Flow::Close,
            }
        }
        // Borrowed where it stays: moving the connection's io out and back
        // for every request stalled on its copies.
        let io = self
            .io
            .as_mut()
            .expect("the connection holds its io, reclaimed above if lent");
        let max_drain = self.shared.config.max_drain_bytes;
        // The rest of an unread body is drained for the connection to go
        // on, after the response, which the client then gets at once even
        // if it never sends the body. Only a long response to a long body
        // is sent after the drain instead: the two sides could otherwise
        // both stall writing. A body that cannot be drained closes the
        // connection.
        let mut drain_after = None;
        // Set while the body has not ended: the client may still be
        // sending it, so closing lingers.
        let mut body_pending = unread.is_some();
        let mut drain_failed = false;
        if let Some(mut reader) = unread {
            let short_response = response
                .payload()
                .known_len()
                .is_some_and(|n| n <= COALESCE_LIMIT as u64);
            let short_body = reader
                .declared_rest()
                .is_some_and(|n| n <= BUFFERED_BODY_BYTES);
            if !reader.drainable(max_drain) {
                keep_alive = false;
            } else if short_response || short_body {
                drain_after = Some(reader);
            } else {
                body_pending = !reader.drain(io, max_drain).await;
                drain_failed = body_pending;
                keep_alive &= !drain_failed;
            }
        }
        // Checked only now: a shutdown may have begun while the handler ran.
        let close = !keep_alive || response.wants_close() || shutting_down(&self.shutdown);
        // The hot path awaits only a flush; the rest of writing is done
        // in place, so no large future is built per response.
        let (mut written, rest) = start_response(io, &mut response, is_head, version, close);
        if let Some(rest) = rest {
            // Boxed: a large body, a file or a stream amortises the
            // allocation, and unboxed it would make room in every
            // connection's future.
            written.failed = Box::pin(send_rest(io, rest)).await.is_err();
        }
        if flush_due(&written, io) {
            written.failed = io.flush().await.is_err();
        }
        // Answers to pipelined requests are batched into one write, but
        // never more than `max_pipelined` of them.
        self.batched = if io.wbuf.is_empty() {
            0
        } else {
            self.batched + 1
        };
        if self.batched >= self.shared.config.max_pipelined && !written.failed {
            written.failed = io.flush().await.is_err();
            self.batched = 0;
        }
        if let (Some(sink), Some(entry)) = (&self.shared.log, &log_entry) {
            let took = started.map(|t| t.elapsed()).unwrap_or_default();
            access_log::record(
                sink,
                self.peer,
                entry,
                response.status(),
                written.sent,
                took,
            );
        }
        // Drained once the answer is out and logged: the log's time is the
        // answer's, not the body's.
        if let Some(mut reader) = drain_after.filter(|_| !written.closes && !written.failed) {
            // Reading more flushes the response first.
            body_pending = !reader.drain(io, max_drain).await;
            drain_failed = body_pending;
            written.closes |= drain_failed;
        }
        if written.closes || written.failed {
            if !written.failed {
                io.closing(if drain_failed {
                    "the unread request body could not be drained"
                } else {
                    "server closed after the response (Connection: close)"
                });
                // A client that asked to close and whose request was read
                // whole needs no lingering; anything else gets it.
                let linger = if client_closes && io.rbuf.is_empty() && !body_pending {
                    Duration::ZERO
                } else {
                    LINGER
                };
                if let Some(io) = self.io.take() {
                    io.close_gracefully(linger).await;
                }
            }
            return Flow::Close;
        }
        Flow::KeepAlive
    }

    /// Hands the socket to the request's body when there is a body to read;
    /// true when it did (the connection then has no io until it reclaims it).
    fn lend_body(&mut self, checked: &Checked, version: Version, req: &mut Request) -> bool {
        let declared = match checked.framing {
            RequestBody::None | RequestBody::Length(0) => return false,
            RequestBody::Length(n) => Some(n),
            RequestBody::Chunked => None,
        };
        let io = self
            .io
            .take()
            .expect("the connection holds its io between requests");
        let config = &self.shared.config;
        let mut reader = BodyReader::new(
            checked.framing,
            config.max_body_bytes,
            config.body_timeout,
            config.chunked,
        );
        reader.continue_pending = checked.expect_continue && version == Version::Http11;
        let home = self.home.get_or_insert_with(Home::default).clone();
        req.set_body(Body::lend(Lent { io, reader }, home, declared));
        true
    }

    /// Takes the socket back from a dropped body, with what the handler
    /// left of the body after the bytes already received are discarded.
    fn reclaim_body(&mut self) -> Option<(Io, Leftover)> {
        let home = self.home.as_ref()?;
        let lent = home.lock().unwrap_or_else(|p| p.into_inner()).take()?;
        let Lent { mut io, mut reader } = *lent;
        if let Some(e) = reader.failed() {
            log::warn!("{}: {e}", self.peer);
            return Some((io, Leftover::Broken));
        }
        let leftover = if reader.discard_buffered(&mut io) {
            Leftover::None
        } else if reader.failed().is_some() {
            Leftover::Broken
        } else {
            Leftover::Unread(Box::new(reader))
        };
        Some((io, leftover))
    }

    /// Routes the request and calls its handler; a panic becomes a 500.
    /// A handler that answers at once is done here, without a future.
    fn route(&self, mut req: Request, checked: Checked) -> Routed<'_> {
        let router = &self.shared.router;
        req.set_target(checked.path, checked.query);
        if checked.asterisk {
            return Routed::Answered(Response::ok().header("Allow", router.allow_all()), false);
        }
        let response = match router.find(req.method(), req.path()) {
            Dispatch::Handler(handler, pattern, context) => {
                req.capture_params(pattern);
                req.set_state(context.state.clone());
                let coding = context.compress.then(|| {
                    crate::coding::choose(
                        req.header_values("accept-encoding"),
                        crate::coding::Coding::available(),
                    )
                });
                let finish = Finish { context, coding };
                return match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(req))) {
                    Ok(Reply::Ready(response)) => Routed::Answered(finish.apply(response), false),
                    Ok(Reply::Pending(fut)) => Routed::Pending(fut, finish),
                    Err(_) => {
                        let (response, panicked) = handler_panicked(self.peer);
                        Routed::Answered(response, panicked)
                    }
                };
            }
            Dispatch::NotFound => Response::error(404, "not found"),
            Dispatch::MethodNotAllowed(allow) => {
                Response::error(405, "method not allowed on this path").header("Allow", allow)
            }
            Dispatch::Options(allow) => Response::ok().header("Allow", allow),
            Dispatch::NotImplemented => ProtoError::MethodNotImplemented.into_response(),
        };
        Routed::Answered(response, false)
    }

    /// Answers a broken request with its status and closes.
    async fn reject(&mut self, e: ProtoError, head: Option<&RequestHead>) {
        log::warn!("{}: rejected: {e}", self.peer);
        let Some(mut io) = self.io.take() else { return };
        if let Some(trace) = io.trace() {
            trace.note(&format!("rejected with {}: {}", e.status(), e.reason()));
            trace.closing("request rejected");
        }
        let head_request = head.is_some_and(|h| h.method == Method::Head);
        let mut response = e.into_response();
        let written =
            write_response(&mut io, &mut response, head_request, Version::Http11, true).await;
        if let Some(sink) = &self.shared.log {
            let entry = head.map_or_else(access_log::Entry::unreadable, access_log::Entry::of);
            access_log::record(
                sink,
                self.peer,
                &entry,
                e.status(),
                written.sent,
                Duration::ZERO,
            );
        }
        if !written.failed {
            io.close_gracefully(LINGER).await;
        }
    }
}

/// What a handler left of its request's body.
enum Leftover {
    /// Nothing: it was read or discarded to its end.
    None,
    /// A body that broke: the connection cannot go on.
    Broken,
    /// The rest, still to come from the client (boxed: rare, and the
    /// connection's future would otherwise hold room for it).
    Unread(Box<BodyReader>),
}

/// What writing a response did.
struct Written {
    sent: u64,
    closes: bool,
    failed: bool,
}

/// Writing: the head from the framing decision, then the payload, flushed
/// unless more pipelined requests wait to be answered in the same write.
async fn write_response(
    io: &mut Io,
    response: &mut Response,
    is_head: bool,
    version: Version,
    close: bool,
) -> Written {
    let (mut written, rest) = start_response(io, response, is_head, version, close);
    if let Some(rest) = rest {
        written.failed = send_rest(io, rest).await.is_err();
    }
    if flush_due(&written, io) {
        written.failed = io.flush().await.is_err();
    }
    written
}

/// Whether a written response must go out now: the connection closes, the
/// batch is large, or no further pipelined request is waiting.
fn flush_due(written: &Written, io: &Io) -> bool {
    !written.failed && (written.closes || io.wbuf.len() > BATCH_LIMIT || io.rbuf.is_empty())
}

/// What of a payload could not be put in the write buffer.
enum Rest {
    Payload(Payload),
    Stream(crate::response::ChunkStream, bool),
}

/// The part of writing that needs no waiting: the head, and the body too
/// when it is small enough to copy behind it. Returns what is left to send.
fn start_response(
    io: &mut Io,
    response: &mut Response,
    is_head: bool,
    version: Version,
    close: bool,
) -> (Written, Option<Rest>) {
    let payload = response.take_payload();
    let framing = framing::response_body(is_head, response.status(), version, payload.known_len());
    let closes = close || framing.closes();
    let connection = if closes {
        ConnectionField::Close
    } else if version == Version::Http10 {
        ConnectionField::KeepAlive
    } else {
        ConnectionField::Omit
    };
    let send = matches!(
        framing,
        ResponseBody::Length { send: true, .. }
            | ResponseBody::CloseDelimited { send: true }
            | ResponseBody::Chunked
    );
    io.prepare_write();
    let sent = if send { payload.len() } else { 0 };
    if let Some(trace) = io.trace() {
        trace.expect_body(match payload {
            Payload::Stream(_) if send => u64::MAX,
            _ => sent,
        });
    }
    write_head(
        &mut io.wbuf,
        response.status(),
        framing,
        connection,
        response.fields(),
    );
    let mut written = Written {
        sent,
        closes,
        failed: false,
    };
    let rest = match payload {
        _ if !send => None,
        Payload::Empty => None,
        Payload::Bytes(b) if b.len() <= COALESCE_LIMIT => {
            io.wbuf.extend_from_slice(&b);
            None
        }
        Payload::File { file, offset, len } if len <= COALESCE_LIMIT as u64 => {
            written.failed = io.append_file(&file, offset, len as usize).is_err();
            None
        }
        Payload::Stream(stream) => Some(Rest::Stream(stream, framing == ResponseBody::Chunked)),
        other => Some(Rest::Payload(other)),
    };
    (written, rest)
}

/// The part of writing that may wait: large bodies, files and streams.
async fn send_rest(io: &mut Io, rest: Rest) -> std::io::Result<()> {
    match rest {
        Rest::Stream(stream, chunked) => send_stream(io, stream, chunked).await,
        Rest::Payload(Payload::Bytes(b)) => io.write_all(&b).await,
        Rest::Payload(Payload::File { file, offset, len }) => {
            io.send_file(&file, offset, len).await
        }
        Rest::Payload(Payload::Ranges {
            file,
            parts,
            closing,
        }) => send_ranges(io, &file, &parts, &closing).await,
        Rest::Payload(Payload::Empty | Payload::Stream(_)) => Ok(()),
    }
}

/// The parts of a `multipart/byteranges` body, each straight from the file.
async fn send_ranges(
    io: &mut Io,
    file: &std::fs::File,
    parts: &[(bytes::Bytes, u64, u64)],
    closing: &[u8],
) -> std::io::Result<()> {
    for (head, offset, len) in parts {
        io.wbuf.extend_from_slice(head);
        io.send_file(file, *offset, *len).await?;
    }
    io.wbuf.extend_from_slice(closing);
    Ok(())
}

/// A streamed body: each chunk is written as it comes, chunk-coded or raw,
/// together with the chunks already waiting behind it (up to
/// [`COALESCE_LIMIT`] bytes in one write). Nothing waits for more chunks,
/// so a slow producer's chunks each leave at once, and a fast one's leave
/// a few to a write instead of one.
async fn send_stream(
    io: &mut Io,
    mut stream: crate::response::ChunkStream,
    chunked: bool,
) -> std::io::Result<()> {
    let put = |io: &mut Io, chunk: &[u8]| {
        if chunked {
            crate::proto::encode::write_chunk(&mut io.wbuf, chunk);
        } else {
            io.wbuf.extend_from_slice(chunk);
        }
    };
    io.flush().await?;
    while let Some(chunk) = stream.next().await {
        put(io, &chunk);
        while io.wbuf.len() < COALESCE_LIMIT {
            match stream.ready() {
                Some(chunk) => put(io, &chunk),
                None => break,
            }
        }
        io.flush().await?;
    }
    if chunked {
        io.wbuf.extend_from_slice(crate::proto::encode::LAST_CHUNK);
    }
    Ok(())
}

/// Whether the server's shutdown has begun. Checked for every response, so
/// the lock `borrow` takes is taken only once the one-time signal has been
/// sent: `has_changed` is a plain atomic load, and a connection's receiver
/// never marks the signal seen.
fn shutting_down(shutdown: &watch::Receiver<bool>) -> bool {
    matches!(shutdown.has_changed(), Ok(true)) && *shutdown.borrow()
}

/// HTTP/1.1 keeps the connection unless told `close`; HTTP/1.0 closes
/// unless told `keep-alive` (RFC 9112 §9.3).
#[inline]
fn wants_keep_alive(head: &RequestHead) -> bool {
    if !head.may_have("connection") {
        return head.version == Version::Http11;
    }
    connection_keeps_alive(head)
}

/// [`wants_keep_alive`] for a head with a `Connection` field.
fn connection_keeps_alive(head: &RequestHead) -> bool {
    let (mut close, mut keep_alive) = (false, false);
    for value in head.values("connection") {
        for option in list_items(value) {
            close |= option.eq_ignore_ascii_case(b"close");
            keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
        }
    }
    !close && (head.version == Version::Http11 || keep_alive)
}

/// The checks a head must pass before anything routes it: method, target,
/// `Host`, framing, body size and `Expect`.
fn check_request(
    head: &RequestHead,
    config: &Config,
    seen: &mut HostSeen,
) -> Result<Checked, ProtoError> {
    if head.method == Method::Connect {
        return Err(ProtoError::ConnectNotSupported);
    }
    let raw = head.target();
    let target = parse_target(raw)?;
    let mut hosts = head.values("host");
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err(ProtoError::DuplicateHost),
        (Some(host), None) => seen.check(host)?,
        (None, _) if head.version == Version::Http11 => return Err(ProtoError::MissingHost),
        (None, _) => {}
    }
    let asterisk = target.form == Form::Asterisk;
    if asterisk && head.method != Method::Options {
        return Err(ProtoError::BadTarget);
    }
    let framing = framing::request_body(head)?;
    if let RequestBody::Length(n) = framing {
        if n > config.max_body_bytes {
            return Err(ProtoError::BodyTooLarge);
        }
    }
    let expect_continue = match head.value("expect") {
        None => false,
        // RFC 9110 §10.1.1: ignore 100-continue from HTTP/1.0 clients.
        Some(_) if head.version == Version::Http10 => false,
        Some(v) if v.eq_ignore_ascii_case(b"100-continue") => framing != RequestBody::None,
        Some(_) => return Err(ProtoError::UnsupportedExpectation),
    };
    let (start, end) = target.path;
    let path = if asterisk {
        DecodedPath::Owned("*".into())
    } else if start == end {
        DecodedPath::Owned("/".into())
    } else if target.plain {
        // Checked by `parse_target`: visible ASCII with no escape and no
        // segment starting with a dot, which decoding would leave as it is.
        DecodedPath::Raw(start, end)
    } else {
        match decode_path(&raw[start..end])? {
            std::borrow::Cow::Borrowed(_) => DecodedPath::Raw(start, end),
            std::borrow::Cow::Owned(s) => DecodedPath::Owned(s),
        }
    };
    Ok(Checked {
        framing,
        path,
        query: target.query,
        asterisk,
        expect_continue,
    })
}

/// The last `Host` value a connection found valid. A client sends the same
/// one on every request of a connection, so its check (about 130
/// instructions for `127.0.0.1:4221`, a twentieth of a pipelined `GET /`)
/// is made once; a value that differs in any byte is checked in full.
/// Values longer than the memo always are.
/// (It starts as the empty value, which is valid.)
struct HostSeen {
    len: u8,
    bytes: [u8; HostSeen::MAX],
}

impl Default for HostSeen {
    fn default() -> HostSeen {
        HostSeen {
            len: 0,
            bytes: [0; HostSeen::MAX],
        }
    }
}

impl HostSeen {
    const MAX: usize = 48;

    fn check(&mut self, host: &[u8]) -> Result<(), ProtoError> {
        if host.len() == usize::from(self.len) && host == &self.bytes[..host.len()] {
            return Ok(());
        }
        check_host(host)?;
        if host.len() <= Self::MAX {
            self.bytes[..host.len()].copy_from_slice(host);
            self.len = host.len() as u8;
        }
        Ok(())
    }
}

/// Polls a handler's future and turns a panic into an error value, so one
/// failing handler answers 500 on its own connection and nothing else
/// notices.
struct CatchUnwind(BoxFuture);

impl Future for CatchUnwind {
    type Output = Result<Response, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(response)) => Poll::Ready(Ok(response)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

/// Answers a connection over the cap with 503 and `Retry-After`, then closes:
/// a client is told to come back rather than left hanging.
pub(crate) async fn refuse_busy(stream: TcpStream) {
    let mut io = Io::new(stream, Duration::from_secs(5), None);
    let mut response = Response::error(
        503,
        "server is at its connection limit (--max-connections); retry shortly",
    )
    .header("Retry-After", "1");
    let written = write_response(&mut io, &mut response, false, Version::Http11, true).await;
    if !written.failed {
        io.close_gracefully(Duration::from_millis(500)).await;
    }
}
