//! The wire trace: every byte a connection receives and sends, in order,
//! segment by segment as the socket delivered or took them, with the
//! connection's open and close. Text for a terminal, JSON lines for tools.
//!
//! ```text
//! #1 127.0.0.1:51234 open +0.000 ms
//! #1 127.0.0.1:51234 << 37 bytes +0.210 ms
//!    GET /echo/hi HTTP/1.1\r\n
//!    Host: x\r\n
//!    \r\n
//! ```
//!
//! Costs nothing when off: the connection holds `None` and every hook is
//! one branch.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::text::json_string;

/// Body bytes shown of one message (head bytes are always shown in full).
pub const DEFAULT_BODY_BYTES: usize = 1024;

/// Bytes of a binary body shown as hex.
const HEX_BYTES: usize = 64;

/// When to colour the text trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    /// When stderr is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Where trace events go; shared by every connection of a server.
#[derive(Debug)]
pub struct TraceOut {
    text: bool,
    color: bool,
    json: Option<File>,
    body_bytes: usize,
    next_id: AtomicU64,
}

impl TraceOut {
    /// Text on stderr when `text`, JSON lines into `json` when given.
    pub fn new(text: bool, json: Option<File>, body_bytes: usize, color: Color) -> TraceOut {
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        TraceOut {
            text,
            color,
            json,
            body_bytes,
            next_id: AtomicU64::new(1),
        }
    }

    /// Starts the trace of a new connection.
    pub fn connection(self: &Arc<Self>, peer: SocketAddr) -> Trace {
        let trace = Trace {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            peer,
            opened: Instant::now(),
            out: self.clone(),
            recv: Flow::default(),
            send: Flow::default(),
            bytes_in: 0,
            bytes_out: 0,
            close_reason: "connection ended",
        };
        trace.event("open", 0, &[], None);
        trace
    }
}

/// Which part of a message bytes belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Body(u64),
    Chunked,
    UntilClose,
}

/// Tells head from body in one direction, to show heads whole and bodies
/// only up to the limit. Display only: framing is never decided here.
#[derive(Debug)]
struct Flow {
    phase: Phase,
    head: Vec<u8>,
    shown: usize,
    tail: u32,
    window: u64,
    /// For sent responses: the body length of each response queued.
    expected: VecDeque<u64>,
}

impl Default for Flow {
    fn default() -> Self {
        Flow {
            phase: Phase::Head,
            head: Vec::new(),
            shown: 0,
            tail: 0,
            window: 0,
            expected: VecDeque::new(),
        }
    }
}

impl Flow {
    /// Splits a segment into head and body pieces.
    fn split(&mut self, data: &[u8], sending: bool) -> Vec<(bool, std::ops::Range<usize>)> {
        let mut pieces = Vec::new();
        let mut pos = 0;
        while pos < data.len() {
            match self.phase {
                Phase::Head => {
                    let start = pos;
                    while pos < data.len() {
                        self.tail = self.tail << 8 | u32::from(data[pos]);
                        pos += 1;
                        if self.tail == 0x0d0a_0d0a {
                            break;
                        }
                    }
                    if self.head.len() < 64 * 1024 {
                        self.head.extend_from_slice(&data[start..pos]);
                    }
                    pieces.push((true, start..pos));
                    if self.tail == 0x0d0a_0d0a {
                        self.tail = 0;
                        self.shown = 0;
                        self.phase = if sending {
                            self.sent_body()
                        } else {
                            self.received_body()
                        };
                        self.window = 0x0d0a;
                        self.head.clear();
                    }
                }
                Phase::Body(left) => {
                    let n = (left.min((data.len() - pos) as u64)) as usize;
                    pieces.push((false, pos..pos + n));
                    pos += n;
                    self.phase = if left == n as u64 {
                        Phase::Head
                    } else {
                        Phase::Body(left - n as u64)
                    };
                }
                Phase::Chunked => {
                    // Ends at "0\r\n\r\n" that follows a CRLF (or starts the body).
                    const END: u64 = 0x000d_0a30_0d0a_0d0a;
                    let start = pos;
                    while pos < data.len() {
                        self.window =
                            (self.window << 8 | u64::from(data[pos])) & 0x00ff_ffff_ffff_ffff;
                        pos += 1;
                        if self.window == END {
                            self.phase = Phase::Head;
                            break;
                        }
                    }
                    pieces.push((false, start..pos));
                }
                Phase::UntilClose => {
                    pieces.push((false, pos..data.len()));
                    pos = data.len();
                }
            }
        }
        pieces
    }

    fn received_body(&self) -> Phase {
        let head = String::from_utf8_lossy(&self.head).to_ascii_lowercase();
        let field = |name: &str| {
            head.split("\r\n")
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        if field("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
            return Phase::Chunked;
        }
        match field("content-length:").and_then(|v| v.parse::<u64>().ok()) {
            Some(n) if n > 0 => Phase::Body(n),
            _ => Phase::Head,
        }
    }

    fn sent_body(&mut self) -> Phase {
        match self.expected.pop_front() {
            Some(0) => Phase::Head,
            Some(u64::MAX) => {
                self.window = 0x0d0a;
                Phase::Chunked
            }
            Some(n) => Phase::Body(n),
            None => Phase::UntilClose,
        }
    }
}

/// The trace of one connection.
#[derive(Debug)]
pub struct Trace {
    id: u64,
    peer: SocketAddr,
    opened: Instant,
    out: Arc<TraceOut>,
    recv: Flow,
    send: Flow,
    bytes_in: u64,
    bytes_out: u64,
    close_reason: &'static str,
}

impl Trace {
    /// Bytes one read returned.
    pub fn received(&mut self, data: &[u8]) {
        self.bytes_in += data.len() as u64;
        let pieces = self.recv.split(data, false);
        let text = self.render(data, &pieces, false, None);
        self.event("<<", data.len(), data, Some(text));
    }

    /// Bytes one write took.
    pub fn sent(&mut self, data: &[u8]) {
        self.bytes_out += data.len() as u64;
        let pieces = self.send.split(data, true);
        let text = self.render(data, &pieces, true, None);
        self.event(">>", data.len(), data, Some(text));
    }

    /// `len` bytes that `sendfile` took from `file` at `offset`; the bytes
    /// shown are read back from the file.
    pub fn sent_file(&mut self, file: &File, offset: u64, len: usize) {
        self.bytes_out += len as u64;
        let room = self.out.body_bytes.saturating_sub(self.send.shown).min(len);
        let mut shown = vec![0u8; room];
        let got = file.read_at(&mut shown, offset).unwrap_or(0);
        shown.truncate(got);
        let pieces = self.send.split(&vec![0u8; len], true);
        let text = self.render(&shown, &pieces, true, Some(len));
        self.event(">>", len, &shown, Some(text));
    }

    /// The body length of the response whose head is being queued.
    pub fn expect_body(&mut self, len: u64) {
        self.send.expected.push_back(len);
    }

    /// A note, such as why a request was rejected.
    pub fn note(&self, message: &str) {
        self.event(&format!("note: {message}"), 0, &[], None);
    }

    /// Records why the connection will close.
    pub fn closing(&mut self, reason: &'static str) {
        self.close_reason = reason;
    }

    fn render(
        &mut self,
        data: &[u8],
        pieces: &[(bool, std::ops::Range<usize>)],
        sending: bool,
        file_len: Option<usize>,
    ) -> String {
        let cap = self.out.body_bytes;
        let flow = if sending {
            &mut self.send
        } else {
            &mut self.recv
        };
        let mut out = String::new();
        for (is_head, range) in pieces {
            if *is_head {
                text_lines(&mut out, &data[range.clone()]);
                continue;
            }
            let len = range.len();
            let room = cap.saturating_sub(flow.shown).min(len);
            let shown = if file_len.is_some() {
                &data[..room.min(data.len())]
            } else {
                &data[range.start..range.start + room]
            };
            flow.shown += room;
            if !shown.is_empty() {
                if is_text(shown) {
                    text_lines(&mut out, shown);
                } else {
                    hex_lines(&mut out, &shown[..shown.len().min(HEX_BYTES)]);
                    let _ = writeln!(out, "   [binary, {len} bytes]");
                }
            }
            if len > room {
                let _ = writeln!(out, "   [{} body bytes not shown]", len - room);
            }
        }
        out
    }

    /// Writes one event: `len` bytes crossed the socket, `data` is what of
    /// them is known here (all of them, except for `sendfile`).
    fn event(&self, what: &str, len: usize, data: &[u8], text: Option<String>) {
        let ms = self.opened.elapsed().as_secs_f64() * 1000.0;
        if self.out.text {
            let (on, off) = match (self.out.color, what) {
                (false, _) => ("", ""),
                (true, "<<") => ("\x1b[32m", "\x1b[0m"),
                (true, ">>") => ("\x1b[36m", "\x1b[0m"),
                (true, _) => ("\x1b[33m", "\x1b[0m"),
            };
            let mut line = match what {
                "<<" | ">>" => format!(
                    "{on}#{} {} {what} {len} bytes +{ms:.3} ms{off}\n",
                    self.id, self.peer
                ),
                _ => format!("{on}#{} {} {what} +{ms:.3} ms{off}\n", self.id, self.peer),
            };
            if let Some(text) = &text {
                line.push_str(text);
            }
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        if let Some(mut file) = self.out.json.as_ref() {
            let mut line = format!(
                "{{\"conn\":{},\"peer\":\"{}\",\"ms\":{ms:.3},\"event\":{}",
                self.id,
                self.peer,
                json_string(match what {
                    "<<" => "recv",
                    ">>" => "send",
                    other => other,
                })
            );
            if matches!(what, "<<" | ">>") {
                let _ = write!(line, ",\"len\":{len},\"base64\":\"{}\"", base64(data));
                if data.len() < len {
                    line.push_str(",\"truncated\":true");
                }
            }
            line.push_str("}\n");
            let _ = file.write_all(line.as_bytes());
        }
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let message = format!(
            "close: {}; {} bytes in, {} bytes out",
            self.close_reason, self.bytes_in, self.bytes_out
        );
        self.event(&message, 0, &[], None);
    }
}

/// Text that reads as text: UTF-8 without controls other than CR, LF, TAB.
fn is_text(data: &[u8]) -> bool {
    match std::str::from_utf8(data) {
        Ok(s) => s
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\r' | '\n' | '\t')),
        // A multi-byte character cut at the end of what is shown is fine.
        Err(e) => e.error_len().is_none() && is_text(&data[..e.valid_up_to()]),
    }
}

/// One output line per input line, `\r` and `\n` made visible, other
/// controls and bytes that are not UTF-8 as `\xNN`.
fn text_lines(out: &mut String, data: &[u8]) {
    for line in data.split_inclusive(|&b| b == b'\n') {
        out.push_str("   ");
        let mut rest = line;
        while !rest.is_empty() {
            let (valid, bad) = match std::str::from_utf8(rest) {
                Ok(s) => (s, &[][..]),
                Err(e) => {
                    let (ok, tail) = rest.split_at(e.valid_up_to());
                    (std::str::from_utf8(ok).unwrap_or_default(), tail)
                }
            };
            for c in valid.chars() {
                match c {
                    '\r' => out.push_str("\\r"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => {
                        let _ = write!(out, "\\x{:02x}", c as u32);
                    }
                    c => out.push(c),
                }
            }
            if let Some((&b, tail)) = bad.split_first() {
                let _ = write!(out, "\\x{b:02x}");
                rest = tail;
            } else {
                rest = &[];
            }
        }
        out.push('\n');
    }
}

fn hex_lines(out: &mut String, data: &[u8]) {
    for row in data.chunks(16) {
        out.push_str("   ");
        for b in row {
            let _ = write!(out, "{b:02x} ");
        }
        out.push('\n');
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for group in data.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn text_is_escaped_line_by_line() {
        let mut out = String::new();
        text_lines(&mut out, b"GET / HTTP/1.1\r\nX: \x01\xff\xc3\xa9\r\n");
        assert_eq!(out, "   GET / HTTP/1.1\\r\\n\n   X: \\x01\\xffé\\r\\n\n");
    }

    #[test]
    fn heads_and_bodies_are_told_apart() {
        let mut flow = Flow::default();
        let data = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n";
        let pieces = flow.split(data, false);
        let kinds: Vec<(bool, &[u8])> =
            pieces.iter().map(|(h, r)| (*h, &data[r.clone()])).collect();
        assert_eq!(kinds[1], (false, &b"abc"[..]));
        assert_eq!(kinds[2], (true, &b"GET / HTTP/1.1\r\n\r\n"[..]));
        let mut chunked = Flow::default();
        let data = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET";
        let pieces = chunked.split(data, false);
        assert_eq!(&data[pieces[1].1.clone()], b"1\r\nx\r\n0\r\n\r\n");
        assert_eq!(
            (pieces[2].0, &data[pieces[2].1.clone()]),
            (true, &b"GET"[..])
        );
    }
}
