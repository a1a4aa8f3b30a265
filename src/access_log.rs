//! The access log: one line per response, in Common, Combined or JSON
//! format, to stdout or a file. Lines are gathered per worker thread and
//! written when the thread would wait anyway, so logging takes no lock
//! and no system call per request. Every logged value is escaped, so a
//! request cannot forge a log line.

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::proto::date::push_clf_now;
use crate::proto::head::{Method, RequestHead};
use crate::text::{HEX, push_json_string};

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

    /// Writes out `lines` and empties it. Lines for stdout go to its own
    /// thread ([`crate::output`]), so a reader that stops reading drops
    /// lines instead of stalling the server.
    fn write(&self, lines: &mut Vec<u8>) {
        match self.file.as_ref() {
            Some(mut file) => {
                let _ = file.write_all(lines);
                lines.clear();
            }
            None => {
                let batch = std::mem::replace(lines, Vec::with_capacity(FLUSH_AT + 512));
                crate::output::stdout().write(batch);
            }
        }
    }
}

thread_local! {
    static PENDING: RefCell<(Vec<u8>, Option<Arc<Sink>>)> = const { RefCell::new((Vec::new(), None)) };
}

/// What is logged of a request: views of its head, taken before the
/// handler consumes it (no copy).
#[derive(Debug)]
pub struct Entry {
    method: Option<Method>,
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
            method: Some(head.method.clone()),
            target: head.bytes.slice_ref(head.target()),
            version: head.version.as_str(),
            referer: field("referer"),
            user_agent: field("user-agent"),
        }
    }

    /// A request rejected before its head could be read.
    pub fn unreadable() -> Entry {
        Entry {
            method: None,
            target: bytes::Bytes::from_static(b"-"),
            version: "-",
            referer: None,
            user_agent: None,
        }
    }

    fn method(&self) -> &[u8] {
        self.method.as_ref().map_or(b"-", |m| m.as_str().as_bytes())
    }
}

/// Appends `value` escaped for a log line: `"` and `\` with a backslash,
/// control characters and bytes outside ASCII as `\xNN`.
fn push_escaped(out: &mut Vec<u8>, value: &[u8]) {
    let plain = |b: u8| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\';
    let mut rest = value;
    while !rest.is_empty() {
        let run = rest.iter().position(|&b| !plain(b)).unwrap_or(rest.len());
        out.extend_from_slice(&rest[..run]);
        let Some(&b) = rest.get(run) else { break };
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            _ => {
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            }
        }
        rest = &rest[run + 1..];
    }
}

/// `value` escaped for a log line, as [`record`] writes it.
pub fn escape(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    push_escaped(&mut out, value);
    String::from_utf8(out).expect("escaped bytes are ASCII")
}

/// Appends `value` escaped, or `-` when absent.
fn push_escaped_or_dash(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => push_escaped(out, v),
        None => out.push(b'-'),
    }
}

/// Appends `value` as a JSON string (bytes that are not UTF-8 replaced),
/// or `null` when absent.
fn push_json(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => push_json_string(out, &String::from_utf8_lossy(v)),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends the line for one response in `format`.
fn push_line(
    out: &mut Vec<u8>,
    format: Format,
    peer: SocketAddr,
    entry: &Entry,
    status: u16,
    bytes: u64,
    took: Duration,
) {
    let micros = took.as_micros();
    let version = entry.version;
    if format == Format::Json {
        out.extend_from_slice(b"{\"time\":\"");
        push_clf_now(out);
        let _ = write!(out, "\",\"peer\":\"{peer}\",\"method\":");
        push_json(out, Some(entry.method()));
        out.extend_from_slice(b",\"target\":");
        push_json(out, Some(&entry.target));
        let _ = write!(
            out,
            ",\"version\":\"{version}\",\"status\":{status},\"bytes\":{bytes},\"duration_us\":{micros},\"referer\":"
        );
        push_json(out, entry.referer.as_deref());
        out.extend_from_slice(b",\"user_agent\":");
        push_json(out, entry.user_agent.as_deref());
        out.extend_from_slice(b"}\n");
        return;
    }
    let _ = write!(out, "{} - - [", peer.ip());
    push_clf_now(out);
    out.extend_from_slice(b"] \"");
    push_escaped(out, entry.method());
    out.push(b' ');
    push_escaped(out, &entry.target);
    let _ = write!(out, " {version}\" {status} {bytes}");
    if format == Format::Combined {
        out.extend_from_slice(b" \"");
        push_escaped_or_dash(out, entry.referer.as_deref());
        out.extend_from_slice(b"\" \"");
        push_escaped_or_dash(out, entry.user_agent.as_deref());
        let _ = write!(out, "\" {micros}");
    }
    out.push(b'\n');
}

/// Records one response in `sink`'s format. The line is gathered in this
/// thread's buffer, written out when the buffer fills, when the thread
/// has nothing left to do ([`flush`] from the runtime's park hook), and
/// each second.
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
        match current {
            Some(c) if Arc::ptr_eq(c, sink) => {}
            _ => {
                flush_into(buf, current.as_deref());
                *current = Some(sink.clone());
            }
        }
        push_line(buf, sink.format, peer, entry, status, bytes, took);
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
        assert_eq!(escape(b"plain/path?q=1"), "plain/path?q=1");
        assert_eq!(escape(b""), "");
    }
}
