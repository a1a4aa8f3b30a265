//! Seeing every byte: the wire trace (text and JSON lines), the /inspect
//! route, and access logs that a request cannot forge.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

fn spawn(args: &[&str]) -> (Child, std::net::SocketAddr) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_barehttp"))
        .args(["--port", &port.to_string(), "--threads", "1"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..250 {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, addr)
}

fn stop(mut child: Child) -> (String, String) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        pipe.read_to_string(&mut out).unwrap();
    }
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut err).unwrap();
    }
    (out, err)
}

/// Keeps the events of the connection from `port` and replaces what
/// changes from run to run: connection number, times, dates, ports.
fn normalise(trace: &str, port: u16) -> String {
    let mut keep = false;
    trace
        .lines()
        .filter(|l| !l.starts_with("barehttp: "))
        .filter(|l| {
            if l.starts_with('#') {
                keep = l.contains(&format!(":{port} "));
            }
            keep
        })
        .map(|l| {
            let l = l.replace(&format!(":{port}"), ":PORT");
            let l = match (l.starts_with('#'), l.find(' ')) {
                (true, Some(i)) => format!("#C{}", &l[i..]),
                _ => l,
            };
            let l = match l.find(" +") {
                Some(i) if l.ends_with(" ms") => format!("{} +T ms", &l[..i]),
                _ => l,
            };
            match l.find("Date: ") {
                Some(i) => format!("{}Date: DATE\\r\\n", &l[..i]),
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_text_trace_shows_exactly_what_crossed_the_socket() {
    let (child, addr) = spawn(&["--trace", "--color", "never", "--quiet"]);
    let mut s = connect(addr);
    let client_port = s.local_addr().unwrap().port();
    s.write_all(b"POST / HTTP/1.1\r\nHost: t\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(150));
    s.write_all(b"Content-Length: 5\r\n\r\nhe\x01lo").unwrap();
    let reply = read_replies(&mut s, 1, &[]);
    assert_eq!(reply[0].body, b"he\x01lo");
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    let (_, stderr) = stop(child);
    let got = normalise(&stderr, client_port);
    let want = "\
#C 127.0.0.1:PORT open +T ms
#C 127.0.0.1:PORT << 26 bytes +T ms
   POST / HTTP/1.1\\r\\n
   Host: t\\r\\n
#C 127.0.0.1:PORT << 26 bytes +T ms
   Content-Length: 5\\r\\n
   \\r\\n
   68 65 01 6c 6f 
   [binary, 5 bytes]
#C 127.0.0.1:PORT >> 120 bytes +T ms
   HTTP/1.1 200 OK\\r\\n
   Date: DATE\\r\\n
   Content-Length: 5\\r\\n
   Content-Type: application/octet-stream\\r\\n
   \\r\\n
   68 65 01 6c 6f 
   [binary, 5 bytes]
#C 127.0.0.1:PORT close: client closed its side (EOF); 52 bytes in, 120 bytes out +T ms";
    assert_eq!(got, want, "\n--- got ---\n{got}\n");
}

#[test]
fn the_trace_caps_bodies_and_names_rejections() {
    let (child, addr) = spawn(&[
        "--trace",
        "--color",
        "never",
        "--quiet",
        "--trace-body",
        "4",
    ]);
    let (reply, _) = one(
        addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabcdefghij",
    );
    assert_eq!(reply.text(), "abcdefghij");
    let (replies, _) = exchange(addr, b"GET / HTTP/1.1\nHost: t\n\n");
    assert_eq!(replies[0].status, 400);
    let (_, stderr) = stop(child);
    assert!(
        stderr.contains("   abcd\n   [6 body bytes not shown]\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("note: rejected with 400: lines must end with CRLF"),
        "{stderr}"
    );
    assert!(
        stderr.contains("   GET / HTTP/1.1\\n\n"),
        "the offending bytes are shown: {stderr}"
    );
    assert!(stderr.contains("close: request rejected"), "{stderr}");
}

fn unbase64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let mut out = Vec::new();
    for group in s.as_bytes().chunks(4) {
        let digits: Vec<u8> = group
            .iter()
            .filter(|&&c| c != b'=')
            .map(|&c| value(c))
            .collect();
        let n = digits
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        for i in 0..digits.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn json_trace_lines_parse_back_to_the_exact_bytes() {
    let dir = Scratch::new("jsontrace");
    let path = dir.path().join("trace.jsonl");
    let (child, addr) = spawn(&["--quiet", "--trace-file", path.to_str().unwrap()]);
    let request = b"GET /echo/json HTTP/1.1\r\nHost: t\r\n\r\nGET /echo/two HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let (raw, closed) = read_all(&mut s);
    assert!(closed);
    stop(child);
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut received, mut sent) = (Vec::new(), Vec::new());
    let mut events = Vec::new();
    for line in text.lines() {
        assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
        let event = json_field(line, "event").unwrap().to_string();
        if let Some(b64) = json_field(line, "base64") {
            let bytes = unbase64(b64);
            assert_eq!(bytes.len().to_string(), json_field(line, "len").unwrap());
            if event == "recv" {
                received.extend(bytes)
            } else {
                sent.extend(bytes)
            }
        }
        events.push(event);
    }
    assert_eq!(received, request);
    assert_eq!(
        sent, raw,
        "the trace holds exactly the bytes the client read"
    );
    assert_eq!(events.first().map(String::as_str), Some("open"));
    assert!(events.last().unwrap().starts_with("close: "), "{events:?}");
}

#[test]
fn inspect_returns_the_request_byte_for_byte() {
    let server = start(config(None));
    let addr = server.local_addr();
    let plain =
        b"GET /inspect HTTP/1.1\r\nHoST:  t \r\nX-Mixed-Case: A\r\nx-dup: 1\r\nX-Dup: 2\r\n\r\n";
    let (reply, _) = one(addr, plain);
    assert_eq!(reply.body, plain);
    assert_eq!(reply.header("content-type"), Some("text/plain"));

    let chunked: &[u8] = b"PATCH /inspect?q=1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n";
    let (reply, _) = one(addr, chunked);
    assert_eq!(reply.body, chunked, "chunk framing as sent");

    let mut s = connect(addr);
    let first: &[u8] = b"BREW /inspect HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz";
    let second: &[u8] = b"DELETE /inspect HTTP/1.1\r\nHost: t\r\n\r\n";
    s.write_all(&[first, second].concat()).unwrap();
    let replies = read_replies(&mut s, 2, &[]);
    assert_eq!(replies[0].body, first);
    assert_eq!(
        replies[1].body, second,
        "pipelined requests are split exactly"
    );
}

#[test]
fn access_log_values_are_escaped_and_formats_parse() {
    let (child, addr) = spawn(&["--log-format", "combined"]);
    let evil = b"GET /echo/x HTTP/1.1\r\nHost: t\r\nUser-Agent: ua\" 200 0 \"-\"\t\xff\r\nReferer: http://r/\"x\r\n\r\n";
    let (reply, _) = one(addr, evil);
    assert_eq!(reply.status, 200);
    let (stdout, _) = stop(child);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].contains(
            "\"GET /echo/x HTTP/1.1\" 200 1 \"http://r/\\\"x\" \"ua\\\" 200 0 \\\"-\\\"\\x09\\xff\""
        ),
        "{}",
        lines[0]
    );

    let (child, addr) = spawn(&["--log-format", "json"]);
    one(
        addr,
        b"GET /echo/j HTTP/1.1\r\nHost: t\r\nUser-Agent: a\"b\r\n\r\n",
    );
    let (stdout, _) = stop(child);
    let line = stdout.lines().next().unwrap();
    assert_eq!(json_field(line, "method"), Some("GET"));
    assert_eq!(json_field(line, "target"), Some("/echo/j"));
    assert_eq!(json_field(line, "status"), Some("200"));
    assert!(
        json_field(line, "duration_us")
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert!(line.contains("\"user_agent\":\"a\\\"b\""), "{line}");

    let dir = Scratch::new("logfile");
    let path = dir.path().join("access.log");
    let (child, addr) = spawn(&[
        "--log-format",
        "common",
        "--log-file",
        path.to_str().unwrap(),
    ]);
    one(addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let (stdout, _) = stop(child);
    assert!(stdout.is_empty());
    let logged = std::fs::read_to_string(&path).unwrap();
    assert!(
        logged.trim_end().ends_with("\"GET / HTTP/1.1\" 200 0"),
        "{logged}"
    );
}

/// Lines are gathered per worker thread, but none waits for the server to
/// stop: each is written once the server has nothing left to do.
#[test]
fn access_log_lines_are_written_while_the_server_runs() {
    let dir = Scratch::new("loglive");
    let path = dir.path().join("access.log");
    let (child, addr) = spawn(&["--log-file", path.to_str().unwrap()]);
    let mut s = connect(addr);
    for (i, wanted) in (1..=2).enumerate() {
        s.write_all(format!("GET /echo/live{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        assert_eq!(read_replies(&mut s, 1, &[])[0].status, 200);
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        let logged = loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() >= wanted || std::time::Instant::now() > give_up {
                break text;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(logged.lines().count(), wanted, "{logged}");
        assert!(
            logged.contains(&format!("\"GET /echo/live{i} HTTP/1.1\" 200 5")),
            "{logged}"
        );
    }
    drop(s);
    stop(child);
}

/// A harness that captures the server's output but reads it only at the
/// end must not stall the server once the pipes fill: the lines that do not
/// fit are dropped, and said so when the output is read again.
#[test]
fn output_nobody_reads_does_not_stall_the_server() {
    let (mut child, addr) = spawn(&[]);
    // Each rejected request is a warning on stderr and a line on stdout;
    // 4 000 of them are more than a pipe and the queue behind it hold.
    for i in 0..4000 {
        let (reply, _) = one(addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        assert_eq!(reply.status, 400, "request {i}");
    }
    let (reply, _) = one(addr, b"GET /echo/still HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(reply.text(), "still");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    // Read again, the output says what it lost, after what it kept.
    one(addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    std::thread::sleep(Duration::from_millis(300));
    stop(child);
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        out.lines().count() > 500,
        "{} lines kept",
        out.lines().count()
    );
    for what in ["stdout", "stderr"] {
        assert!(
            err.contains(&format!("of output dropped: {what} was not being read")),
            "{what}: {}",
            &err[err.len().saturating_sub(500)..]
        );
    }
}

/// An answer sent before the body its handler did not read is logged with
/// its own time, not the time the client took to send that body.
#[test]
fn an_answer_before_an_unread_body_is_logged_with_its_own_time() {
    let (child, addr) = spawn(&["--log-format", "json"]);
    let mut s = connect(addr);
    s.write_all(b"GET /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n")
        .unwrap();
    assert_eq!(read_replies(&mut s, 1, &[])[0].text(), "a");
    std::thread::sleep(Duration::from_millis(1000));
    s.write_all(b"helloGET /echo/b HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_replies(&mut s, 1, &[])[0].text(), "b");
    drop(s);
    let (stdout, _) = stop(child);
    let first = stdout.lines().next().expect("two lines logged");
    assert_eq!(json_field(first, "target"), Some("/echo/a"));
    let took: u64 = json_field(first, "duration_us").unwrap().parse().unwrap();
    assert!(took < 500_000, "{first}");
}

#[test]
fn pipelined_answers_are_batched_but_never_more_than_the_limit() {
    let dir = Scratch::new("batch");
    let path = dir.path().join("trace.jsonl");
    let (child, addr) = spawn(&[
        "--quiet",
        "--max-pipelined",
        "4",
        "--trace-file",
        path.to_str().unwrap(),
    ]);
    let mut s = connect(addr);
    let batch: Vec<u8> = (0..40)
        .flat_map(|i| format!("GET /echo/{i} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes())
        .collect();
    s.write_all(&batch).unwrap();
    let replies = read_replies(&mut s, 40, &[]);
    let texts: Vec<String> = replies.iter().map(Reply::text).collect();
    assert_eq!(texts, (0..40).map(|i| i.to_string()).collect::<Vec<_>>());
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    stop(child);
    let text = std::fs::read_to_string(&path).unwrap();
    let per_write: Vec<usize> = text
        .lines()
        .filter(|l| json_field(l, "event") == Some("send"))
        .map(|l| {
            let bytes = unbase64(json_field(l, "base64").unwrap());
            bytes.windows(12).filter(|w| w == b"HTTP/1.1 200").count()
        })
        .collect();
    assert!(per_write.iter().all(|&n| n <= 4), "{per_write:?}");
    assert!(
        per_write.iter().any(|&n| n > 1),
        "answers are batched: {per_write:?}"
    );
}

#[test]
fn a_pipelined_batch_is_read_whole_and_answered_in_one_write() {
    // Batches of 16 requests, each under 2 KiB and of a different length,
    // sent one at a time once the last is answered. The read buffer must
    // always have room for one whole: a batch read in two parts is
    // answered in two writes, one more segment each way.
    let dir = Scratch::new("wholebatch");
    let path = dir.path().join("trace.jsonl");
    let (child, addr) = spawn(&["--quiet", "--trace-file", path.to_str().unwrap()]);
    let mut s = connect(addr);
    let mut sizes = Vec::new();
    for round in 0..120 {
        let filler = "x".repeat(round % 53);
        let batch: Vec<u8> = (0..16)
            .flat_map(|i| format!("GET /echo/{filler}{i} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes())
            .collect();
        s.write_all(&batch).unwrap();
        let replies = read_replies(&mut s, 16, &[]);
        assert_eq!(replies.last().unwrap().text(), format!("{filler}15"));
        sizes.push(batch.len());
    }
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    stop(child);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(trace_sizes(&text, "recv"), sizes, "one read per batch");
    assert_eq!(
        trace_sizes(&text, "send").len(),
        sizes.len(),
        "one write per batch"
    );
}

#[test]
fn a_large_upload_is_read_in_large_pieces() {
    // A body arriving faster than it is read gets more room on each read
    // that fills what it had, up to 256 KiB. The head's 2 KiB buffer
    // must not be reused for it: a 512 MiB upload once took 265 000 reads
    // of 2 KiB and a write to the file for each.
    let dir = Scratch::new("bigupload");
    let trace = dir.path().join("trace.jsonl");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let (child, addr) = spawn(&[
        "--quiet",
        "--directory",
        root.to_str().unwrap(),
        "--trace-file",
        trace.to_str().unwrap(),
    ]);
    let body: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut s = connect(addr);
    let head = format!(
        "POST /files/big.bin HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let reply = read_replies(&mut s, 1, &[]).remove(0);
    assert_eq!(reply.status, 201);
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    stop(child);
    assert!(std::fs::read(root.join("big.bin")).unwrap() == body);
    let reads = trace_sizes(&std::fs::read_to_string(&trace).unwrap(), "recv");
    assert_eq!(reads.iter().sum::<usize>(), head.len() + body.len());
    // 4 MiB in reads of 8 KiB would take 512; of 2 KiB, 2 048. Reads
    // that grow to 256 KiB take a few dozen, however the client's bytes
    // happen to arrive.
    assert!(
        reads.len() < 512,
        "{} reads, the largest {:?}",
        reads.len(),
        reads.iter().max()
    );
}
