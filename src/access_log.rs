//! The access log: one line per response, in Common, Combined or JSON
//! format, to stdout or a file. Lines are gathered per worker thread and
//! written when the connection would wait anyway, so logging takes no lock
//! and no system call per request. Every logged value is escaped, so a
//! request cannot forge a log line.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::proto::date::clf_now;
use crate::proto::head::RequestHead;

/// Lines are written out once this much is gathered, even mid-batch.
const FLUSH_AT: usize = 8 * 1024;

/// An access log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `peer - - [time] "request line" status bytes`
    Common,
    /// Common, then `"referer" "user-agent" duration-µs`.
    Combined,
    /// One JSON object per line.
    Json,
}

/// Where log lines go.
#[derive(Debug)]
pub struct Sink {
    format: Format,
    file: Option<File>,
}

impl Sink {
    /// Opens the destination: `path` for appending, or stdout.
    pub fn open(format: Format, path: Option<&Path>) -> std::io::Result<Sink> {
        let file = match path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Sink { format, file })
    }

    fn write(&self, bytes: &[u8]) {
        let _ = match self.file.as_ref() {
            Some(mut file) => file.write_all(bytes),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
        };
    }
}

thread_local! {
    static PENDING: RefCell<(Vec<u8>, Option<Arc<Sink>>)> = const { RefCell::new((Vec::new(), None)) };
}

/// What is logged of a request: views of its head, taken before the
/// handler consumes it (no copy).
#[derive(Debug)]
pub struct Entry {
    method: bytes::Bytes,
    target: bytes::Bytes,
    version: &'static str,
    referer: Option<bytes::Bytes>,
    user_agent: Option<bytes::Bytes>,
}

impl Entry {
    /// The loggable parts of a request head.
    pub fn of(head: &RequestHead) -> Entry {
        let field = |name| head.value(name).map(|v| head.bytes.slice_ref(v));
        Entry {
            method: bytes::Bytes::copy_from_slice(head.method.as_str().as_bytes()),
            target: head.bytes.slice_ref(head.target()),
            version: head.version.as_str(),
            referer: field("referer"),
            user_agent: field("user-agent"),
        }
    }

    /// A request rejected before its head could be read.
    pub fn unreadable() -> Entry {
        Entry {
            method: bytes::Bytes::from_static(b"-"),
            target: bytes::Bytes::from_static(b"-"),
            version: "-",
            referer: None,
            user_agent: None,
        }
    }
}

/// A value for a JSON log line (bytes that are not UTF-8 replaced).
fn json(value: &[u8]) -> String {
    crate::text::json_string(&String::from_utf8_lossy(value))
}

/// Escapes a value for a log line: `"` and `\` with a backslash, control
/// characters and bytes outside ASCII as `\xNN`.
pub fn escape(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Records one response in `sink`'s format.
pub fn record(
    sink: &Arc<Sink>,
    peer: SocketAddr,
    entry: &Entry,
    status: u16,
    bytes: u64,
    took: Duration,
) {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        let (buf, current) = &mut *pending;
        if current.as_ref().is_some_and(|c| !Arc::ptr_eq(c, sink)) {
            flush_into(buf, current.as_deref());
        }
        *current = Some(sink.clone());
        let micros = took.as_micros();
        let (method, target, version) = (escape(&entry.method), escape(&entry.target), entry.version);
        let or_dash = |v: &Option<bytes::Bytes>| v.as_deref().map_or_else(|| "-".to_string(), escape);
        let line = match sink.format {
            Format::Common => format!(
                "{} - - [{}] \"{method} {target} {version}\" {status} {bytes}\n",
                peer.ip(),
                clf_now()
            ),
            Format::Combined => format!(
                "{} - - [{}] \"{method} {target} {version}\" {status} {bytes} \"{}\" \"{}\" {micros}\n",
                peer.ip(),
                clf_now(),
                or_dash(&entry.referer),
                or_dash(&entry.user_agent)
            ),
            Format::Json => format!(
                "{{\"time\":\"{}\",\"peer\":\"{peer}\",\"method\":{},\"target\":{},\"version\":\"{version}\",\"status\":{status},\"bytes\":{bytes},\"duration_us\":{micros},\"referer\":{},\"user_agent\":{}}}\n",
                clf_now(),
                json(&entry.method),
                json(&entry.target),
                entry.referer.as_deref().map_or_else(|| "null".to_string(), json),
                entry.user_agent.as_deref().map_or_else(|| "null".to_string(), json),
            ),
        };
        buf.extend_from_slice(line.as_bytes());
        if buf.len() >= FLUSH_AT {
            flush_into(buf, current.as_deref());
        }
    });
}

/// Writes out this thread's gathered lines.
pub fn flush() {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        let (buf, current) = &mut *pending;
        flush_into(buf, current.as_deref());
    });
}

fn flush_into(buf: &mut Vec<u8>, sink: Option<&Sink>) {
    if let (false, Some(sink)) = (buf.is_empty(), sink) {
        sink.write(buf);
    }
    buf.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_prevents_forged_lines() {
        assert_eq!(
            escape(b"curl\"\n127.0.0.1 - - [x] \"GET /admin\""),
            "curl\\\"\\x0a127.0.0.1 - - [x] \\\"GET /admin\\\""
        );
        assert_eq!(escape(b"a\\b\x1b\xff"), "a\\\\b\\x1b\\xff");
    }
}
