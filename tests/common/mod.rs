//! Shared helpers for the integration tests: a real server on 127.0.0.1:0,
//! raw sockets, a strict response reader, and scratch directories.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use barehttp::{Config, RunningServer, Server, app};

/// A directory under the system temp dir, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "barehttp-test-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// File names in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free port for a server binary to listen on, picked below the kernel's
/// ephemeral range (32768 and up): a port taken from that range (by
/// binding port 0) can be handed to another test's listener or outgoing
/// connection before the binary binds it.
///
/// The port is tried by binding it without listening. A listening probe
/// can outlive its drop: a child that another test thread is spawning at
/// that moment holds a copy of the descriptor until it execs, and a client
/// connecting meanwhile is queued on that copy, then reset when it closes.
pub fn free_port() -> u16 {
    use socket2::{Domain, Socket, Type};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let start = u64::from(std::process::id()) * 97;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + ((start + n) % 12_000) as u16;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_reuse_address(true).unwrap();
        if socket.bind(&addr.into()).is_ok() {
            return port;
        }
    }
}

/// A test configuration: loopback, port 0, two workers, short timeouts.
pub fn config(root: Option<&Path>) -> Config {
    let mut config = Config::default();
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.threads = 2;
    config.root = root.map(Path::to_path_buf);
    config.header_timeout = Duration::from_secs(2);
    config.keep_alive_timeout = Duration::from_secs(2);
    config.body_timeout = Duration::from_secs(2);
    config.write_timeout = Duration::from_secs(2);
    config.shutdown_timeout = Duration::from_secs(2);
    config.validate().unwrap()
}

/// The tool's own routes on a server started with `config`.
pub fn start(config: Config) -> RunningServer {
    let router = app::router(&config).unwrap();
    Server::bind(config, router).unwrap().spawn().unwrap()
}

/// The tool's routes with a scratch root.
pub fn start_with_root() -> (RunningServer, Scratch) {
    let dir = Scratch::new("root");
    let server = start(config(Some(dir.path())));
    (server, dir)
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Everything the server sent until it closed (or went quiet for the
/// read timeout), and whether it closed.
pub fn read_all(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Parses consecutive responses; `head_only` lists which ones answer HEAD.
pub fn parse_replies(mut raw: &[u8], heads: &[bool]) -> Vec<Reply> {
    let mut replies = Vec::new();
    while !raw.is_empty() {
        let end = find(raw, b"\r\n\r\n")
            .unwrap_or_else(|| panic!("incomplete head: {:?}", String::from_utf8_lossy(raw)));
        let head = std::str::from_utf8(&raw[..end]).expect("head is UTF-8");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap().to_string();
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "status line {status_line:?}"
        );
        let status: u16 = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("field line {l:?}"));
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        raw = &raw[end + 4..];
        let mut reply = Reply {
            status,
            status_line,
            headers,
            body: Vec::new(),
        };
        if (100..200).contains(&status) {
            replies.push(reply);
            continue;
        }
        let is_head = heads
            .get(replies.iter().filter(|r| r.status >= 200).count())
            .copied()
            .unwrap_or(false);
        let len = reply
            .header("content-length")
            .map(|v| v.parse::<usize>().unwrap());
        if is_head || status == 204 || status == 304 {
        } else if reply.header("transfer-encoding").is_some() {
            raw = dechunk(raw, &mut reply.body);
        } else if let Some(len) = len {
            assert!(raw.len() >= len, "body shorter than Content-Length");
            reply.body = raw[..len].to_vec();
            raw = &raw[len..];
        } else {
            reply.body = raw.to_vec();
            raw = &[];
        }
        replies.push(reply);
    }
    replies
}

fn dechunk<'a>(mut raw: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
    loop {
        let eol = find(raw, b"\r\n").expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap(), 16).unwrap();
        raw = &raw[eol + 2..];
        if size == 0 {
            assert!(raw.starts_with(b"\r\n"));
            return &raw[2..];
        }
        out.extend_from_slice(&raw[..size]);
        assert_eq!(&raw[size..size + 2], b"\r\n");
        raw = &raw[size + 2..];
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `request` on a new connection and reads until the server closes,
/// or until what arrived is whole responses and nothing more comes for a
/// moment. Returns the replies and whether the server closed.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> (Vec<Reply>, bool) {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let quiet = if complete(&raw, &[]) && !raw.is_empty() {
            300
        } else {
            1500
        };
        s.set_read_timeout(Some(Duration::from_millis(quiet)))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (parse_replies(&raw, &[]), true),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (parse_replies(&raw, &[]), true);
            }
            Err(_) => return (parse_replies(&raw, &[]), false),
        }
        if Instant::now() > deadline {
            return (parse_replies(&raw, &[]), false);
        }
    }
}

/// Sends `request` on a new connection and reads exactly one final reply;
/// then tells whether the server closed the connection after it.
pub fn one(addr: SocketAddr, request: &[u8]) -> (Reply, bool) {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let is_head = request.starts_with(b"HEAD ");
    let mut replies = read_replies(&mut s, 1, &[is_head]);
    let reply = replies.pop().unwrap();
    (reply, closes(&mut s))
}

/// True when the server closes the connection (nothing more arrives and
/// EOF follows) within a short wait.
pub fn closes(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1024];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!(
            "unexpected bytes after the reply: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(_) => false,
    }
}

/// Reads exactly `n` final replies from a kept-alive connection.
pub fn read_replies(stream: &mut TcpStream, n: usize, heads: &[bool]) -> Vec<Reply> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(replies) = try_parse(&raw, heads) {
            if replies.iter().filter(|r| r.status >= 200).count() >= n {
                return replies;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} replies; got {:?}",
            String::from_utf8_lossy(&raw)
        );
        let got = stream.read(&mut buf).expect("read");
        assert!(
            got > 0,
            "server closed after {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..got]);
    }
}

/// Parses `raw` if it holds only whole responses, else `None`.
fn try_parse(raw: &[u8], heads: &[bool]) -> Option<Vec<Reply>> {
    if !complete(raw, heads) {
        return None;
    }
    Some(parse_replies(raw, heads))
}

/// True when `raw` ends exactly at the end of a response.
fn complete(mut raw: &[u8], heads: &[bool]) -> bool {
    let mut finals = 0;
    while !raw.is_empty() {
        let Some(end) = find(raw, b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        raw = &raw[end + 4..];
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        if (100..200).contains(&status) {
            continue;
        }
        let is_head = heads.get(finals).copied().unwrap_or(false);
        finals += 1;
        if is_head || status == 204 || status == 304 {
            continue;
        }
        let field = |name: &str| {
            head.split("\r\n")
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        if field("transfer-encoding:").is_some() {
            loop {
                let Some(eol) = find(raw, b"\r\n") else {
                    return false;
                };
                let Ok(size) = usize::from_str_radix(&String::from_utf8_lossy(&raw[..eol]), 16)
                else {
                    return false;
                };
                if size == 0 {
                    if raw.len() < eol + 4 {
                        return false;
                    }
                    raw = &raw[eol + 4..];
                    break;
                }
                if raw.len() < eol + 2 + size + 2 {
                    return false;
                }
                raw = &raw[eol + 2 + size + 2..];
            }
        } else if let Some(len) = field("content-length:") {
            let len: usize = len.parse().unwrap_or(usize::MAX);
            if raw.len() < len {
                return false;
            }
            raw = &raw[len..];
        } else {
            return false;
        }
    }
    true
}

/// An HTTP client that does not treat 4xx/5xx as errors.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Sends `request` on a new connection and returns the one reply, without
/// waiting to see whether the connection closes.
pub fn ask(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    read_replies(&mut s, 1, &[request.starts_with(b"HEAD ")])
        .pop()
        .unwrap()
}

/// The value of `name` in one line of JSON that the server wrote (a trace
/// event or an access-log entry): a string's text or a number's digits.
pub fn json_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\":");
    let start = line.find(&key)? + key.len();
    let rest = &line[start..];
    Some(match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => &rest[..rest.find([',', '}'])?],
    })
}

/// The sizes of the non-empty reads (`recv`) or writes (`send`) in a JSON
/// lines trace, in order.
pub fn trace_sizes(trace: &str, event: &str) -> Vec<usize> {
    trace
        .lines()
        .filter(|l| json_field(l, "event") == Some(event))
        .filter_map(|l| json_field(l, "len")?.parse().ok())
        .filter(|&n| n > 0)
        .collect()
}
