//! The validated configuration a server runs on: address, file root, limits
//! and timeouts, each with the reason for its default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::proto::chunked::ChunkedLimits;

/// Everything a [`Server`](crate::Server) needs to know. Build it with
/// `Config::default()` and adjust the fields; [`Config::validate`] checks it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Root of `/files/`; `None` turns the file routes off (404).
    pub root: Option<PathBuf>,
    /// Worker threads, each with its own runtime and listener.
    pub threads: usize,
    /// Connections held at once across all workers; one more gets 503.
    pub max_connections: usize,
    /// Largest request head, request line and fields included (431).
    pub max_header_bytes: usize,
    /// Most header fields in one request (431).
    pub max_headers: usize,
    /// Longest request-target (414).
    pub max_target_bytes: usize,
    /// Largest request body, streamed (413).
    pub max_body_bytes: u64,
    /// Largest body a handler may hold in memory at once, such as the one
    /// `POST /` echoes (413).
    pub max_buffered_body_bytes: usize,
    /// Body bytes a handler left unread that are read and discarded to keep
    /// the connection; past this the connection is closed instead.
    pub max_drain_bytes: u64,
    /// Answers to pipelined requests held for one batched write; the
    /// write goes out when this many are waiting (or 64 KiB, or no complete
    /// request is left to read). Requests beyond are not read until then,
    /// so a client cannot queue unbounded work.
    pub max_pipelined: usize,
    /// Limits on chunk extensions and trailers.
    pub chunked: ChunkedLimits,
    /// Time allowed for a whole request head once it starts (408).
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection is kept.
    pub keep_alive_timeout: Duration,
    /// Time a body may stall between two reads (408).
    pub body_timeout: Duration,
    /// Time a write may make no progress before the client is cut off.
    pub write_timeout: Duration,
    /// Time in-flight requests get to finish after a shutdown is asked for.
    pub shutdown_timeout: Duration,
    /// Print one access log line per request on stdout.
    pub access_log: bool,
    /// Where the file tree is mounted: `/files` by default, `/` to serve a
    /// static site at the root (the fixed routes keep priority).
    pub files_at: String,
    /// Show listings of directories without `index.html`.
    pub listing: bool,
    /// Create missing parent directories on upload.
    pub mkdir: bool,
    /// Refuse every write (POST, PUT, DELETE under the files) with 405.
    pub read_only: bool,
    /// Bytes of compressed file representations cached per worker.
    pub compress_cache_bytes: usize,
    /// Bytes of small files kept in memory, shared out among the workers;
    /// each hit still checks the file is unchanged. 0 turns it off.
    pub file_cache_bytes: usize,
    /// Print every byte received and sent on stderr.
    pub trace: bool,
    /// Write the same trace events as JSON lines to this file.
    pub trace_file: Option<PathBuf>,
    /// Body bytes shown per message in the text trace.
    pub trace_body_bytes: usize,
    /// When to colour the text trace.
    pub color: crate::trace::Color,
    /// Access log line format.
    pub log_format: crate::access_log::Format,
    /// Access log destination; stdout when `None`.
    pub log_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4221),
            root: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            // Enough for 10 000 idle keep-alive clients with room to spare.
            max_connections: 16_384,
            // nginx allows 8 KiB a line; 16 KiB for the whole head is generous.
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_target_bytes: 8 * 1024,
            // Uploads stream to disk, so a large default costs no memory.
            max_body_bytes: 1 << 30,
            max_buffered_body_bytes: 8 << 20,
            max_drain_bytes: 1 << 20,
            max_pipelined: 64,
            chunked: ChunkedLimits::default(),
            header_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            access_log: false,
            files_at: "/files".to_string(),
            listing: true,
            mkdir: false,
            read_only: false,
            compress_cache_bytes: 64 << 20,
            file_cache_bytes: 16 << 20,
            trace: false,
            trace_file: None,
            trace_body_bytes: crate::trace::DEFAULT_BODY_BYTES,
            color: crate::trace::Color::Auto,
            log_format: crate::access_log::Format::Combined,
            log_file: None,
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks the values and makes the root canonical.
    pub fn validate(mut self) -> Result<Config, ConfigError> {
        let positive = [
            ("threads", self.threads),
            ("max-connections", self.max_connections),
            ("max-header-bytes", self.max_header_bytes),
            ("max-headers", self.max_headers),
            ("max-target-bytes", self.max_target_bytes),
            ("max-pipelined", self.max_pipelined),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ConfigError(format!("--{name} must be at least 1")));
            }
        }
        if self.max_header_bytes > crate::proto::parse::MAX_HEAD_BYTES {
            return Err(ConfigError(format!(
                "--max-header-bytes must be at most {}",
                crate::proto::parse::MAX_HEAD_BYTES
            )));
        }
        let timeouts = [
            ("header-timeout", self.header_timeout),
            ("keep-alive-timeout", self.keep_alive_timeout),
            ("body-timeout", self.body_timeout),
            ("write-timeout", self.write_timeout),
        ];
        for (name, value) in timeouts {
            if value.is_zero() {
                return Err(ConfigError(format!("--{name} must be more than 0")));
            }
        }
        let mount = self.files_at.trim_end_matches('/');
        if !self.files_at.starts_with('/') || mount.contains(['{', '}', '?', '#']) {
            return Err(ConfigError(format!(
                "--files-at {:?} must be a path starting with '/'",
                self.files_at
            )));
        }
        self.files_at = mount.to_string();
        if let Some(root) = &self.root {
            let canonical = root
                .canonicalize()
                .map_err(|e| ConfigError(format!("directory {}: {e}", root.display())))?;
            if !canonical.is_dir() {
                return Err(ConfigError(format!(
                    "{} is not a directory",
                    root.display()
                )));
            }
            self.root = Some(canonical);
        }
        Ok(self)
    }
}
