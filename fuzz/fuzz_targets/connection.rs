//! A whole connection: arbitrary bytes sent to a real barehttp server (the
//! tool's own routes, a scratch file root) started once in this process.
//!
//! For each input: connect, write the input in pieces (cut where a hash of
//! the input says), shut down the write side, read the whole reply. Then:
//!
//! - the reply is a sequence of well-formed HTTP/1.1 responses: status line
//!   `HTTP/1.1 ddd reason`, field lines, CRLF CRLF, and a body of exactly
//!   `Content-Length` bytes (none for 1xx/204/304, and none for a response to
//!   HEAD, which keeps its `Content-Length`);
//! - there are no more final responses than request heads the input could
//!   hold: each needs a " HTTP/1." in the input, plus at most one error
//!   response for bytes that never became a head;
//! - the connection ends (no hang, no reset);
//! - afterwards the server still answers `GET /` with 200 on a new connection.
#![no_main]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;

/// How long a reply may take before the server is deemed hung. The server's
/// own timeouts are 2 s, and with the write side shut down it needs none.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

struct Fixture {
    addr: SocketAddr,
    root: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("barehttp-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the scratch root");
        let mut config = barehttp::Config::default();
        config.addr = "127.0.0.1:0".parse().unwrap();
        config.root = Some(root.clone());
        config.threads = 1;
        config.max_body_bytes = 1 << 20;
        config.max_buffered_body_bytes = 64 * 1024;
        config.header_timeout = Duration::from_secs(2);
        config.body_timeout = Duration::from_secs(2);
        config.keep_alive_timeout = Duration::from_secs(2);
        config.write_timeout = Duration::from_secs(2);
        config.shutdown_timeout = Duration::from_secs(1);
        let config = config.validate().expect("a valid config");
        let router = barehttp::app::router(&config).expect("the tool's router");
        let server = barehttp::Server::bind(config, router).expect("bind 127.0.0.1:0");
        let addr = server.local_addr();
        let running = server.spawn().expect("spawn the server");
        // Kept running for the life of the process.
        std::mem::forget(running);
        Fixture { addr, root }
    })
}

fn connect(addr: SocketAddr) -> TcpStream {
    let mut last = None;
    for _ in 0..50 {
        match TcpStream::connect(addr) {
            Ok(s) => {
                s.set_nodelay(true).unwrap();
                s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
                s.set_write_timeout(Some(REPLY_TIMEOUT)).unwrap();
                return s;
            }
            // Out of ephemeral ports for a moment, say: not the server's fault.
            Err(e) => {
                last = Some(e);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    panic!("cannot connect to the server: {last:?}");
}

/// Reads until the server closes. A timeout or a reset is a finding.
fn read_reply(stream: &mut TcpStream, input: &[u8]) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return reply,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "reading the reply failed ({e}) after {:?}\ninput: {:?}",
                String::from_utf8_lossy(&reply),
                String::from_utf8_lossy(input)
            ),
        }
    }
}

/// FNV-1a, so the cuts depend on the input alone.
fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Up to four cut points, ascending, derived from the input.
fn cuts(data: &[u8]) -> Vec<usize> {
    let mut state = hash(data) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let count = (next() % 5) as usize;
    let mut cuts: Vec<usize> = (0..count)
        .map(|_| (next() % (data.len() as u64 + 1)) as usize)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[derive(Debug)]
struct Response {
    status: u16,
    head_len: usize,
    content_length: Option<usize>,
}

/// The lines of a head without its final CRLF CRLF.
fn split_crlf(head: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut rest = head;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        lines.push(&rest[..i]);
        rest = &rest[i + 2..];
    }
    lines.push(rest);
    lines
}

/// One response head at the start of `buf`, checked field by field.
fn response_head(buf: &[u8]) -> Result<Response, String> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("a response head without CRLF CRLF")?;
    let mut lines = split_crlf(&buf[..end]).into_iter();
    let status_line = lines.next().unwrap_or_default();
    let status = match status_line {
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            b'1',
            b'.',
            b'1',
            b' ',
            d1,
            d2,
            d3,
            b' ',
            reason @ ..,
        ] if [d1, d2, d3].iter().all(|d| d.is_ascii_digit())
            && reason.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) =>
        {
            u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0')
        }
        _ => {
            return Err(format!(
                "bad status line {:?}",
                String::from_utf8_lossy(status_line)
            ));
        }
    };
    if !(100..600).contains(&status) {
        return Err(format!("status {status}"));
    }
    let mut content_length = None;
    for line in lines {
        if line.contains(&b'\r') || line.contains(&b'\n') {
            return Err(format!(
                "bare CR or LF in {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| format!("field line {:?}", String::from_utf8_lossy(line)))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
        if name.is_empty() || !name.iter().all(token) {
            return Err(format!("field name {:?}", String::from_utf8_lossy(name)));
        }
        if value.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(format!("field value {:?}", String::from_utf8_lossy(value)));
        }
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err("a response with Transfer-Encoding".into());
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let value = std::str::from_utf8(value).map_err(|e| e.to_string())?;
            let n: usize = value
                .trim()
                .parse()
                .map_err(|_| format!("Content-Length {value:?}"))?;
            if content_length.replace(n).is_some() {
                return Err("two Content-Length fields".into());
            }
        }
    }
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    match (bodiless, content_length) {
        (true, Some(_)) => return Err(format!("{status} with a Content-Length")),
        (false, None) => return Err(format!("{status} without a Content-Length")),
        _ => {}
    }
    Ok(Response {
        status,
        head_len: end + 4,
        content_length,
    })
}

/// The fewest final (non-1xx) responses that `reply` parses into, trying
/// both "body sent" and "no body" for responses that may answer a HEAD.
/// `None` when no parse consumes the reply exactly.
fn count_responses(reply: &[u8], head_possible: bool) -> Option<usize> {
    // best[pos]: the fewest final responses that reply[pos..] parses into.
    let mut best: Vec<Option<usize>> = vec![None; reply.len() + 1];
    best[reply.len()] = Some(0);
    for pos in (0..reply.len()).rev() {
        if !reply[pos..].starts_with(b"HTTP/1.1 ") {
            continue;
        }
        let Ok(response) = response_head(&reply[pos..]) else {
            continue;
        };
        let after_head = pos + response.head_len;
        let is_final = usize::from(response.status >= 200);
        let mut options = Vec::with_capacity(2);
        if let Some(len) = response.content_length {
            options.push(after_head + len);
        }
        if response.content_length.is_none() || (head_possible && response.status >= 200) {
            options.push(after_head);
        }
        best[pos] = options
            .into_iter()
            .filter_map(|next| best.get(next).copied().flatten())
            .map(|rest| rest + is_final)
            .min();
    }
    best[0]
}

/// Why `reply` does not parse, reading each body by its Content-Length.
fn explain(reply: &[u8]) -> String {
    let mut pos = 0;
    while pos < reply.len() {
        let response = match response_head(&reply[pos..]) {
            Ok(r) => r,
            Err(e) => return format!("at byte {pos}: {e}"),
        };
        pos += response.head_len + response.content_length.unwrap_or(0);
    }
    if pos > reply.len() {
        return "the last body is shorter than its Content-Length".into();
    }
    "only a HEAD response could have no body, and the input has no HEAD".into()
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn check_alive(addr: SocketAddr, input: &[u8]) {
    let mut stream = connect(addr);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("write the liveness request");
    stream.shutdown(Shutdown::Write).unwrap();
    let reply = read_reply(&mut stream, input);
    assert!(
        reply.starts_with(b"HTTP/1.1 200 "),
        "the server no longer answers GET / with 200: {:?}\nafter input {:?}",
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(input)
    );
}

/// Every so often, empty the file root so uploads do not pile up.
fn tidy(root: &PathBuf) {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    if RUNS.fetch_add(1, Ordering::Relaxed) % 1000 != 999 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    tidy(&fixture.root);
    let mut stream = connect(fixture.addr);
    let mut pos = 0;
    for end in cuts(data).into_iter().chain([data.len()]) {
        if end == pos {
            continue;
        }
        // The server may have answered and closed already: stop writing then.
        if stream.write_all(&data[pos..end]).is_err() {
            break;
        }
        pos = end;
        if pos < data.len() {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    let reply = read_reply(&mut stream, data);

    let head_possible = count(data, b"HEAD") > 0;
    let responses = match count_responses(&reply, head_possible) {
        Some(n) => n,
        None => panic!(
            "malformed reply: {}\ninput: {:?}\nreply: {:?}",
            explain(&reply),
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&reply)
        ),
    };
    let heads = count(data, b" HTTP/1.");
    assert!(
        responses <= heads + 1,
        "{responses} responses to at most {heads} request heads\ninput: {:?}\nreply: {:?}",
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&reply)
    );
    check_alive(fixture.addr, data);
});
