//! barehttp: an HTTP/1.1 server written from the socket up.
//!
//! The protocol — parsing, framing, the chunked coding, keep-alive,
//! pipelining, content negotiation — is implemented here on bytes
//! ([`proto`]), driven by a connection layer that owns sockets, buffers and
//! timeouts, and exposed as a small library:
//!
//! ```no_run
//! use barehttp::{Config, Request, Response, Router, Server};
//!
//! let router = Router::new()
//!     .get("/", |_req: Request| async { "hello\n" })
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
pub mod proto;
mod request;
mod response;
mod router;
mod server;
pub mod trace;

pub use config::{Config, ConfigError};
pub use conn::body::Body;
pub use error::ProtoError;
pub use proto::head::{Method, Version};
pub use request::Request;
pub use response::{ChunkSender, ChunkStream, ClientGone, IntoResponse, Payload, Response};
pub use router::{BoxFuture, Handler, Reply, Router, SyncHandler, sync};
pub use server::{RunningServer, Server, ShutdownHandle, raise_fd_limit};
