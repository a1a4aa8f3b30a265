//! Command-line flags as typed, each also read from a `BAREHTTP_*`
//! variable. Turned into a validated [`Config`] by [`Cli::into_config`].

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use barehttp::access_log::Format;
use barehttp::trace::Color;
use barehttp::{Config, ConfigError};

/// An HTTP/1.1 server written from the socket up: the exercise's routes,
/// a file server and upload sink.
#[derive(Debug, Parser)]
#[command(name = "barehttp", version, about)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "BAREHTTP_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(short, long, env = "BAREHTTP_PORT", default_value_t = 4221)]
    pub port: u16,
    /// Directory served and written by /files/ (without it /files/ is 404).
    #[arg(short, long, env = "BAREHTTP_DIRECTORY", value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Where the file tree is mounted (`/` serves a static site at the root;
    /// the fixed routes keep priority).
    #[arg(
        long,
        env = "BAREHTTP_FILES_AT",
        value_name = "PREFIX",
        default_value = "/files"
    )]
    pub files_at: String,
    /// Answer 404 for directories without index.html instead of listing them.
    #[arg(long, env = "BAREHTTP_NO_LISTING")]
    pub no_listing: bool,
    /// Create missing parent directories on upload (else 409).
    #[arg(long, env = "BAREHTTP_MKDIR")]
    pub mkdir: bool,
    /// Refuse every upload and delete with 405.
    #[arg(long, env = "BAREHTTP_READ_ONLY")]
    pub read_only: bool,
    /// Bytes of compressed file representations kept in memory.
    #[arg(long, env = "BAREHTTP_COMPRESS_CACHE_BYTES", value_name = "N", default_value_t = 64 << 20)]
    pub compress_cache_bytes: usize,
    /// Bytes of small files (up to 32 KiB each) kept in memory; 0 turns it off.
    #[arg(long, env = "BAREHTTP_FILE_CACHE_BYTES", value_name = "N", default_value_t = 16 << 20)]
    pub file_cache_bytes: usize,
    /// Worker threads [default: number of cores].
    #[arg(long, env = "BAREHTTP_THREADS", value_name = "N")]
    pub threads: Option<usize>,
    /// Connections held at once; one more is answered 503.
    #[arg(
        long,
        env = "BAREHTTP_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 16_384
    )]
    pub max_connections: usize,
    /// Largest request head in bytes, at most 65535 (431 past it).
    #[arg(long, env = "BAREHTTP_MAX_HEADER_BYTES", value_name = "N", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
    /// Most header fields in one request (431 past it).
    #[arg(
        long,
        env = "BAREHTTP_MAX_HEADERS",
        value_name = "N",
        default_value_t = 100
    )]
    pub max_headers: usize,
    /// Longest request-target in bytes (414 past it).
    #[arg(long, env = "BAREHTTP_MAX_TARGET_BYTES", value_name = "N", default_value_t = 8 * 1024)]
    pub max_target_bytes: usize,
    /// Largest request body in bytes, streamed (413 past it).
    #[arg(long, env = "BAREHTTP_MAX_BODY_BYTES", value_name = "N", default_value_t = 1 << 30)]
    pub max_body_bytes: u64,
    /// Largest body held in memory, as `POST /` does (413 past it).
    #[arg(long, env = "BAREHTTP_MAX_BUFFERED_BODY_BYTES", value_name = "N", default_value_t = 8 << 20)]
    pub max_buffered_body_bytes: usize,
    /// Answers to pipelined requests batched into one write at most.
    #[arg(
        long,
        env = "BAREHTTP_MAX_PIPELINED",
        value_name = "N",
        default_value_t = 64
    )]
    pub max_pipelined: usize,
    /// Bytes of chunk extensions allowed on one chunk (400 past it).
    #[arg(
        long,
        env = "BAREHTTP_MAX_CHUNK_EXTENSION_BYTES",
        value_name = "N",
        default_value_t = 1024
    )]
    pub max_chunk_extension_bytes: usize,
    /// Bytes allowed in a chunked body's trailer section (431 past it).
    #[arg(long, env = "BAREHTTP_MAX_TRAILER_BYTES", value_name = "N", default_value_t = 8 * 1024)]
    pub max_trailer_bytes: usize,
    /// Seconds allowed for a whole request head (408 past it).
    #[arg(
        long,
        env = "BAREHTTP_HEADER_TIMEOUT",
        value_name = "SECS",
        default_value_t = 10.0
    )]
    pub header_timeout: f64,
    /// Seconds an idle keep-alive connection is kept.
    #[arg(
        long,
        env = "BAREHTTP_KEEP_ALIVE_TIMEOUT",
        value_name = "SECS",
        default_value_t = 60.0
    )]
    pub keep_alive_timeout: f64,
    /// Seconds a request body may stall (408 past it).
    #[arg(
        long,
        env = "BAREHTTP_BODY_TIMEOUT",
        value_name = "SECS",
        default_value_t = 30.0
    )]
    pub body_timeout: f64,
    /// Seconds a write may make no progress before the client is dropped.
    #[arg(
        long,
        env = "BAREHTTP_WRITE_TIMEOUT",
        value_name = "SECS",
        default_value_t = 30.0
    )]
    pub write_timeout: f64,
    /// Print every byte received and sent, per connection, on stderr.
    #[arg(long, env = "BAREHTTP_TRACE")]
    pub trace: bool,
    /// Write the trace as JSON lines to this file.
    #[arg(long, env = "BAREHTTP_TRACE_FILE", value_name = "PATH")]
    pub trace_file: Option<PathBuf>,
    /// Body bytes shown per message in the trace.
    #[arg(
        long,
        env = "BAREHTTP_TRACE_BODY",
        value_name = "BYTES",
        default_value_t = 1024
    )]
    pub trace_body: usize,
    /// Colour the trace.
    #[arg(long, env = "BAREHTTP_COLOR", value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Access log format.
    #[arg(long, env = "BAREHTTP_LOG_FORMAT", value_enum, default_value_t = LogFormatArg::Combined)]
    pub log_format: LogFormatArg,
    /// Write the access log to this file instead of stdout.
    #[arg(long, env = "BAREHTTP_LOG_FILE", value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// No access log, and only warnings on stderr.
    #[arg(short, long, env = "BAREHTTP_QUIET")]
    pub quiet: bool,
    /// More diagnostics on stderr (-v: debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// `--color`
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorArg {
    /// When stderr is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--log-format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    /// Common Log Format.
    Common,
    /// Combined Log Format, then the duration in microseconds.
    Combined,
    /// One JSON object per line.
    Json,
}

fn seconds(name: &str, value: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| ConfigError(format!("--{name} must be a positive number of seconds")))
}

impl Cli {
    /// The validated configuration these flags describe.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let addr = resolve(&self.host, self.port)?;
        let mut config = Config::default();
        config.addr = addr;
        config.root = self.directory;
        config.files_at = self.files_at;
        config.listing = !self.no_listing;
        config.mkdir = self.mkdir;
        config.read_only = self.read_only;
        config.compress_cache_bytes = self.compress_cache_bytes;
        config.file_cache_bytes = self.file_cache_bytes;
        if let Some(threads) = self.threads {
            config.threads = threads;
        }
        config.max_connections = self.max_connections;
        config.max_header_bytes = self.max_header_bytes;
        config.max_headers = self.max_headers;
        config.max_target_bytes = self.max_target_bytes;
        config.max_body_bytes = self.max_body_bytes;
        config.max_buffered_body_bytes = self.max_buffered_body_bytes;
        config.max_pipelined = self.max_pipelined;
        config.chunked.max_extension_bytes = self.max_chunk_extension_bytes;
        config.chunked.max_trailer_bytes = self.max_trailer_bytes;
        config.header_timeout = seconds("header-timeout", self.header_timeout)?;
        config.keep_alive_timeout = seconds("keep-alive-timeout", self.keep_alive_timeout)?;
        config.body_timeout = seconds("body-timeout", self.body_timeout)?;
        config.write_timeout = seconds("write-timeout", self.write_timeout)?;
        config.access_log = !self.quiet;
        config.trace = self.trace;
        config.trace_file = self.trace_file;
        config.trace_body_bytes = self.trace_body;
        config.color = match self.color {
            ColorArg::Auto => Color::Auto,
            ColorArg::Always => Color::Always,
            ColorArg::Never => Color::Never,
        };
        config.log_format = match self.log_format {
            LogFormatArg::Common => Format::Common,
            LogFormatArg::Combined => Format::Combined,
            LogFormatArg::Json => Format::Json,
        };
        config.log_file = self.log_file;
        config.validate()
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, ConfigError> {
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            ConfigError(format!(
                "--host {host:?} is not an address this machine can listen on"
            ))
        })
}
