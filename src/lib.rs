//! barehttp: an HTTP/1.1 server written from the socket up.
//!
//! The protocol — parsing, framing, the chunked coding, keep-alive,
//! pipelining, content negotiation — is implemented here on bytes
//! ([`proto`]), driven by a connection layer that owns sockets, buffers and
//! timeouts, and exposed as a small library. The `barehttp` tool's own
//! routes ([`app`]) are written on this same public API.
//!
//! # A server in a few lines
//!
//! ```no_run
//! use barehttp::{Config, Request, Response, Router, Server, sync};
//!
//! let router = Router::new()
//!     .get("/", sync(|_req: Request| "hello\n"))
//!     .post("/upload", |mut req: Request| async move {
//!         match req.body_mut().read_to_end(1 << 20).await {
//!             Ok(body) => Response::text(format!("{} bytes\n", body.len())),
//!             Err(e) => Response::error(e.status(), e.reason()),
//!         }
//!     });
//! let server = Server::bind(Config::default(), router)?;
//! server.run()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Guide
//!
//! - **Routing.** [`Router`] maps a method and a path pattern to a handler.
//!   `{name}` matches one segment, a last `{*rest}` the rest of the path.
//!   The first route whose pattern matches decides; a path with no handler
//!   for the method answers 405 with `Allow`, an unknown path 404, a method
//!   no route knows 501. HEAD is served by GET handlers (without the body),
//!   OPTIONS and `OPTIONS *` are answered from the routes. [`Router::nest`]
//!   mounts one router under a prefix; [`Router::any`] takes every method.
//! - **Handlers** are `async` closures or functions taking a [`Request`] and
//!   returning anything [`IntoResponse`]. A handler that never awaits can be
//!   wrapped in [`sync`], which spares the allocation of a future.
//! - **Requests** give the method, target, decoded path and parameters
//!   ([`Request::param`]), query pairs, headers (case-insensitive,
//!   repeated ones kept), the peer address and the [`Body`], a stream of
//!   chunks with limits enforced: [`Body::chunk`], [`Body::read_to_end`],
//!   [`Body::save`] (atomically into a file). `Expect: 100-continue` is
//!   answered the first time the body is read.
//! - **Responses** are built with [`Response::text`], [`Response::bytes`],
//!   [`Response::json`], [`Response::file_at`] (sent with `sendfile`),
//!   [`Response::stream`] (chunks produced while sending),
//!   [`Response::redirect`] and [`Response::error`]. How the body is framed
//!   — `Content-Length`, chunked, or until close for HTTP/1.0 — is decided
//!   by [`proto::framing`], never by the handler.
//! - **State and stages.** [`Router::with_state`] shares a value with the
//!   handlers ([`Request::state`]); [`Router::compress`] and
//!   [`Router::default_header`] post-process that router's responses.
//! - **Running.** [`Server::bind`] (or [`Server::from_listener`]) with a
//!   [`Config`] of limits and timeouts; [`Server::run`] blocks, and
//!   [`Server::spawn`] runs in the background. A [`ShutdownHandle`] stops
//!   accepting and lets in-flight requests finish.
//! - **Files.** [`files::FileService`] is the tool's whole file server
//!   (ranges, validators, codings, listings, atomic uploads) to mount in
//!   your own router.
//! - **Seeing the wire.** With [`Config::trace`] every byte received and
//!   sent is printed per connection ([`trace`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access_log;
pub mod app;
pub mod coding;
mod config;
mod conn;
mod error;
pub mod files;
mod inline;
pub mod output;
pub mod proto;
mod request;
mod response;
mod router;
mod server;
mod spare;
mod text;
mod tick;
pub mod trace;

pub use config::{Config, ConfigError};
pub use conn::body::Body;
pub use error::ProtoError;
pub use proto::head::{Method, Version};
pub use request::Request;
pub use response::{ChunkSender, ChunkStream, ClientGone, IntoResponse, Payload, Response};
pub use router::{BoxFuture, Handler, Reply, Router, SyncHandler, sync};
pub use server::{RunningServer, Server, ShutdownHandle, raise_fd_limit};
