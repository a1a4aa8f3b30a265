//! RFC 9112/9110 behaviour over raw sockets: every row of the decision
//! table, pipelining, any split of the bytes, bodies, Expect, HTTP/1.0.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

/// (what, request bytes, status, must close)
const REJECTS: &[(&str, &[u8], u16)] = &[
    ("request line without version", b"GET /\r\nHost: a\r\n\r\n", 400),
    ("two spaces in request line", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("trailing space in request line", b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    ("method not a token", b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("lowercase version", b"GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("HTTP/0.9 version", b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
    ("garbage version", b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400),
    ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Host fields", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
    ("Host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("non-tchar in field name", b"GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n", 400),
    ("field line without colon", b"GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400),
    ("whitespace before first field", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    ("bare CR in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r2\r\n\r\n", 400),
    ("NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\x002\r\n\r\n", 400),
    ("bare LF line ends", b"GET / HTTP/1.1\nHost: a\n\n", 400),
    ("bare LF after a field", b"GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", 400),
    ("Content-Length not digits", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\nx", 400),
    ("Content-Length negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
    ("differing Content-Lengths", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400),
    ("Content-Length with Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("chunked not last", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
    ("unknown transfer coding", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("Transfer-Encoding in HTTP/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("bad chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", 400),
    ("chunk size with 0x", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n0\r\n\r\n", 400),
    ("chunk without CRLF", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy0\r\n\r\n", 400),
    ("chunk size overflow", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", 400),
    ("space after chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n", 400),
    ("space before chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 1\r\nx\r\n0\r\n\r\n", 400),
    ("signed chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+1\r\nx\r\n0\r\n\r\n", 400),
    ("unterminated quote in chunk extension", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\"b\r\nx\r\n0\r\n\r\n", 400),
    ("control byte in chunk extension", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a\x01\r\nx\r\n0\r\n\r\n", 400),
    ("chunk lines ended by bare LF", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\n0\n\n", 400),
    ("space before colon in a trailer", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : y\r\n\r\n", 400),
    ("obs-fold in a trailer", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n z\r\n\r\n", 400),
    ("parameters on chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;a=b\r\n\r\n0\r\n\r\n", 400),
    ("empty Transfer-Encoding", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400),
    ("vertical tab before chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400),
    ("Content-Length with a sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", 400),
    ("empty Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
    ("DEL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\x7f2\r\n\r\n", 400),
    ("empty field name", b"GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", 400),
    ("invalid percent escape", b"GET /echo/%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("raw byte >= 0x80 in target", b"GET /echo/\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("encoded NUL in path", b"GET /echo/a%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("fragment in target", b"GET /echo/a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("asterisk with GET", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("CONNECT", b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501),
    ("unsupported expectation", b"POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", 417),
];

#[test]
fn every_malformed_request_gets_its_status_and_a_close() {
    let server = start(config(None));
    for (what, request, status) in REJECTS {
        let (replies, closed) = exchange(server.local_addr(), request);
        assert_eq!(replies.len(), 1, "{what}: {replies:?}");
        assert_eq!(replies[0].status, *status, "{what}: {}", replies[0].text());
        assert_eq!(replies[0].header("connection"), Some("close"), "{what}");
        assert!(!replies[0].body.is_empty(), "{what}: a reason is given");
        assert!(closed, "{what}: connection closed");
    }
}

#[test]
fn every_host_on_a_connection_is_checked_not_only_the_first() {
    let server = start(config(None));
    // Each bad value follows good ones on the same connection: one of the
    // same length differing in a byte, one longer, one empty then bad.
    let cases: &[(&str, &[&str])] = &[
        (
            "same length",
            &["a.example:80", "a.example:80", "a.example:8x"],
        ),
        ("longer", &["a.example", "a.example u"]),
        ("after empty", &["", "", "[::1"]),
        (
            "past the memo",
            &[&"h".repeat(60), &format!("{}@", "h".repeat(60))],
        ),
    ];
    for (what, hosts) in cases {
        let mut request = Vec::new();
        for host in *hosts {
            request.extend_from_slice(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        }
        let (replies, closed) = exchange(server.local_addr(), &request);
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        let mut want = vec![200; hosts.len() - 1];
        want.push(400);
        assert_eq!(statuses, want, "{what}");
        assert!(closed, "{what}");
    }
}

/// Framing the RFCs allow, each answered with the body decoded as sent:
/// (what, request to `POST /`, body echoed).
const ACCEPTS: &[(&str, &[u8], &[u8])] = &[
    ("Content-Length with leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0003\r\n\r\nabc", b"abc"),
    ("equal Content-Lengths", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", b"abc"),
    ("chunk size with leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0003\r\nabc\r\n0\r\n\r\n", b"abc"),
    ("upper-case hex and CHUNKED", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
    ("empty list elements around chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked,\r\n\r\n3\r\nabc\r\n0\r\n\r\n", b"abc"),
    ("tab before chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n", b"abc"),
    ("chunk extensions, quoted and bare", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;a=b;c=\"d e\"\r\nabc\r\n0;z\r\n\r\n", b"abc"),
    ("last chunk 00 and trailers", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n00\r\nX-T: 1\r\nY-T: 2\r\n\r\n", b"abc"),
];

#[test]
fn framing_the_rfcs_allow_is_decoded_as_sent() {
    let server = start(config(None));
    for (what, request, body) in ACCEPTS {
        let mut s = connect(server.local_addr());
        s.write_all(request).unwrap();
        let reply = read_replies(&mut s, 1, &[]).remove(0);
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        assert_eq!(&reply.body[..], *body, "{what}");
    }
}

#[test]
fn a_trailer_never_frames_the_message() {
    // A `Content-Length` in the trailer section is a trailer field like
    // any other: the bytes after the chunked body are the next request.
    let server = start(config(None));
    let (replies, closed) = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 40\r\n\r\nGET /echo/next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    let bodies: Vec<String> = replies.iter().map(Reply::text).collect();
    assert_eq!(bodies, ["abc", "next"]);
    assert!(closed);
}

#[test]
fn bare_lf_reason_suggests_crlf() {
    let server = start(config(None));
    let (reply, _) = one(server.local_addr(), b"GET / HTTP/1.1\nHost: a\n\n");
    assert!(reply.text().contains("CRLF"), "{}", reply.text());
}

#[test]
fn a_smuggled_request_after_a_rejected_one_is_never_answered() {
    let server = start(config(None));
    let (replies, closed) = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].status, 400);
    assert!(closed);
}

#[test]
fn limits_answer_414_431_413() {
    let mut cfg = config(None);
    cfg.max_target_bytes = 100;
    cfg.max_header_bytes = 1024;
    cfg.max_headers = 10;
    cfg.max_body_bytes = 10;
    let server = start(cfg);
    let addr = server.local_addr();
    let long_target = format!("GET /echo/{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(200));
    assert_eq!(exchange(addr, long_target.as_bytes()).0[0].status, 414);
    let endless_line = format!("GET /echo/{}", "a".repeat(2000));
    assert_eq!(exchange(addr, endless_line.as_bytes()).0[0].status, 414);
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "b".repeat(2000)
    );
    assert_eq!(exchange(addr, big_head.as_bytes()).0[0].status, 431);
    let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: 1\r\n".repeat(11));
    assert_eq!(exchange(addr, many.as_bytes()).0[0].status, 431);
    let declared = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890";
    let (replies, closed) = exchange(addr, declared);
    assert_eq!((replies[0].status, closed), (413, true));
    let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n";
    let (replies, closed) = exchange(addr, chunked);
    assert_eq!(
        (replies[0].status, closed),
        (413, true),
        "discovered while reading chunks"
    );
    let fits = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
    assert_eq!(one(addr, fits).0.body, b"0123456789");
}

/// A chunk whose announced size takes the body over the limit is refused
/// when its size line arrives, not after its data (or a timeout).
#[test]
fn a_chunk_announced_over_the_body_limit_is_413_at_once() {
    let mut cfg = config(None);
    cfg.max_body_bytes = 10;
    let server = start(cfg);
    for size in ["b", "ffff", "ffffffffffffffff"] {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nabc"
        );
        let (replies, closed) = exchange(server.local_addr(), request.as_bytes());
        assert_eq!(replies.len(), 1, "{size}");
        assert_eq!((replies[0].status, closed), (413, true), "{size}");
    }
}

/// A body over what a route reads into memory is refused like one over
/// the body limit: 413 naming its own limit, `Connection: close`, and
/// nothing after it is read as a request.
#[test]
fn a_body_over_the_buffered_limit_is_413_and_closes() {
    let mut cfg = config(None);
    cfg.max_buffered_body_bytes = 10;
    cfg.max_body_bytes = 1000;
    let server = start(cfg);
    let after = "GET /echo/AFTER HTTP/1.1\r\nHost: a\r\n\r\n";
    for (target, body) in [
        ("/", "Content-Length: 11\r\n\r\naaaaaaaaaaa"),
        (
            "/",
            "Transfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n",
        ),
        ("/inspect", "Content-Length: 11\r\n\r\naaaaaaaaaaa"),
    ] {
        let request = format!("POST {target} HTTP/1.1\r\nHost: a\r\n{body}{after}");
        let (replies, closed) = exchange(server.local_addr(), request.as_bytes());
        assert_eq!(replies.len(), 1, "{target} {body:?}: nothing after the 413");
        assert_eq!(replies[0].status, 413, "{target} {body:?}");
        assert_eq!(
            replies[0].header("connection"),
            Some("close"),
            "{target} {body:?}"
        );
        assert!(
            replies[0].text().contains("--max-buffered-body-bytes"),
            "{}",
            replies[0].text()
        );
        assert!(closed, "{target} {body:?}");
    }
}

#[test]
fn pipelined_requests_are_answered_in_order_in_one_read() {
    let server = start(config(None));
    let mut s = connect(server.local_addr());
    let mut batch = Vec::new();
    for i in 0..50 {
        write!(batch, "GET /echo/{i} HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    }
    batch.extend_from_slice(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /echo/last HTTP/1.1\r\nHost: a\r\n\r\n");
    s.write_all(&batch).unwrap();
    let replies = read_replies(&mut s, 52, &[]);
    let texts: Vec<String> = replies.iter().map(Reply::text).collect();
    let mut want: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    want.push("hello".into());
    want.push("last".into());
    assert_eq!(texts, want);
}

#[test]
fn any_split_of_the_bytes_gives_the_same_answers() {
    let server = start(config(None));
    let request: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\nGET /echo/two HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
    // One byte at a time.
    let mut s = connect(server.local_addr());
    for b in request {
        s.write_all(&[*b]).unwrap();
    }
    let replies = read_replies(&mut s, 2, &[]);
    assert_eq!(
        (replies[0].text(), replies[1].text()),
        ("abcde".into(), "two".into())
    );
    // Every two-piece split.
    for cut in (1..request.len()).step_by(7) {
        let mut s = connect(server.local_addr());
        s.write_all(&request[..cut]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        s.write_all(&request[cut..]).unwrap();
        let replies = read_replies(&mut s, 2, &[]);
        assert_eq!(replies[0].text(), "abcde", "cut at {cut}");
        assert_eq!(replies[1].text(), "two", "cut at {cut}");
    }
}

#[test]
fn body_glued_to_head_and_next_request_glued_to_body() {
    let server = start(config(None));
    let (replies, _) = {
        let mut s = connect(server.local_addr());
        s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyzGET /echo/b HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        (read_replies(&mut s, 2, &[]), ())
    };
    assert_eq!(replies[0].text(), "xyz");
    assert_eq!(replies[1].text(), "b");
}

#[test]
fn expect_100_continue_is_answered_when_the_body_is_read() {
    let server = start(config(None));
    let mut s = connect(server.local_addr());
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .unwrap();
    let mut interim = [0u8; 25];
    std::io::Read::read_exact(&mut s, &mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"data").unwrap();
    let replies = read_replies(&mut s, 1, &[]);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].text(), "data");
}

#[test]
fn a_refused_body_gets_no_100_continue_and_a_close() {
    let mut cfg = config(None);
    cfg.max_body_bytes = 10;
    let server = start(cfg);
    let (replies, closed) = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n",
    );
    assert_eq!(
        replies.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![413]
    );
    assert!(closed);
    // A route that answers without reading the body.
    let (replies, closed) = exchange(
        server.local_addr(),
        b"POST /nowhere HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    assert_eq!(
        replies.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![404]
    );
    assert_eq!(replies[0].header("connection"), Some("close"));
    assert!(closed);
}

#[test]
fn unread_bodies_are_drained_to_keep_the_connection() {
    let server = start(config(None));
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /echo/a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /echo/b HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let replies = read_replies(&mut s, 2, &[]);
    assert_eq!(
        (replies[0].text(), replies[1].text()),
        ("a".into(), "b".into())
    );
}

/// A handler that answers without reading the body is answered at once,
/// before a body still to come arrives: the rest is drained after the
/// answer, and the connection goes on when it comes.
#[test]
fn answers_do_not_wait_for_bodies_their_handler_leaves_unread() {
    let mut cfg = config(None);
    // Longer than the client's read timeout: an answer that waited for
    // the body would not come in time.
    cfg.body_timeout = Duration::from_secs(30);
    let server = start(cfg);
    let cases = [
        ("Content-Length: 5\r\n\r\n", "hello"),
        ("Content-Length: 5\r\n\r\nhe", "llo"),
        (
            "Transfer-Encoding: chunked\r\n\r\n5\r\nhe",
            "llo\r\n0\r\n\r\n",
        ),
        (
            "Transfer-Encoding: chunked\r\n\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
    ];
    for (framing, rest) in cases {
        let mut s = connect(server.local_addr());
        s.write_all(format!("GET /echo/a HTTP/1.1\r\nHost: a\r\n{framing}").as_bytes())
            .unwrap();
        let first = read_replies(&mut s, 1, &[]).remove(0);
        assert_eq!(
            (first.text(), first.header("connection")),
            ("a".into(), None),
            "{framing:?}"
        );
        s.write_all(format!("{rest}GET /echo/b HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .unwrap();
        assert_eq!(read_replies(&mut s, 1, &[])[0].text(), "b", "{framing:?}");
    }
}

/// A body that never comes, or is declared longer than the server drains,
/// still gets its answer at once; then the connection closes.
#[test]
fn bodies_that_cannot_be_drained_close_after_the_answer() {
    let mut cfg = config(None);
    cfg.body_timeout = Duration::from_secs(1);
    cfg.max_drain_bytes = 1000;
    let server = start(cfg);
    for (length, announced) in [(5, None), (5000, Some("close"))] {
        let mut s = connect(server.local_addr());
        s.write_all(
            format!("GET /echo/a HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        let reply = read_replies(&mut s, 1, &[]).remove(0);
        assert_eq!(
            (reply.text(), reply.header("connection")),
            ("a".into(), announced)
        );
        // Closed by the body timeout at the latest.
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        match std::io::Read::read(&mut s, &mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("{length}: expected the connection to close, got {other:?}"),
        }
    }
}

/// A client that asks to close gets its answer before the body it still
/// owes; the server then lingers, reading what the client sends, instead
/// of closing at once and resetting the connection under a client that
/// may not have read the answer yet.
#[test]
fn a_body_still_owed_after_the_answer_is_read_while_closing() {
    let server = start(config(None));
    let mut s = connect(server.local_addr());
    s.write_all(
        b"GET /echo/a HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n",
    )
    .unwrap();
    let (raw, closed) = read_all(&mut s);
    assert!(closed && raw.starts_with(b"HTTP/1.1 200 OK\r\n") && raw.ends_with(b"\r\n\r\na"));
    for _ in 0..10 {
        s.write_all(&[b'x'; 10_000])
            .expect("the server still reads the body");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn connection_options_are_a_list_of_tokens_in_any_case() {
    let server = start(config(None));
    // (version and fields after `GET /echo/x `, whether the server closes)
    let cases: &[(&str, bool)] = &[
        ("HTTP/1.1\r\nHost: a\r\nConnection: close", true),
        ("HTTP/1.1\r\nHost: a\r\nConnection: CLOSE", true),
        ("HTTP/1.1\r\nHost: a\r\nCONNECTION: Close", true),
        ("HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close", true),
        ("HTTP/1.1\r\nHost: a\r\nConnection: te,close ,x", true),
        ("HTTP/1.1\r\nHost: a\r\nConnection: te, Close", true),
        (
            "HTTP/1.1\r\nHost: a\r\nConnection: te\r\nConnection: close",
            true,
        ),
        ("HTTP/1.1\r\nHost: a\r\nConnection: closed", false),
        ("HTTP/1.1\r\nHost: a\r\nConnection: x-close, , te", false),
        ("HTTP/1.1\r\nHost: a\r\nConnection: keep-alive", false),
        ("HTTP/1.0\r\nConnection: Keep-Alive", false),
        ("HTTP/1.0\r\nConnection: te, KEEP-ALIVE", false),
        (
            "HTTP/1.0\r\nConnection: te\r\nConnection: keep-alive",
            false,
        ),
        ("HTTP/1.0\r\nConnection: keep-alive, close", true),
        ("HTTP/1.0\r\nConnection: keep-alives", true),
        ("HTTP/1.0\r\nConnection: te", true),
    ];
    let addr = server.local_addr();
    let runs: Vec<_> = cases
        .iter()
        .map(|&(rest, closes)| {
            std::thread::spawn(move || {
                let request = format!("GET /echo/x {rest}\r\n\r\n");
                let (reply, closed) = one(addr, request.as_bytes());
                assert_eq!(reply.status, 200, "{rest:?}");
                assert_eq!(closed, closes, "{rest:?}");
                let field = if closes { "close" } else { "keep-alive" };
                if closes || rest.starts_with("HTTP/1.0") {
                    assert_eq!(reply.header("connection"), Some(field), "{rest:?}");
                } else {
                    assert_eq!(reply.header("connection"), None, "{rest:?}");
                }
            })
        })
        .collect();
    for run in runs {
        run.join().unwrap();
    }
}

#[test]
fn http_1_0_closes_unless_keep_alive_is_asked() {
    let server = start(config(None));
    let (reply, closed) = one(server.local_addr(), b"GET /echo/x HTTP/1.0\r\n\r\n");
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(closed);
    let (reply, closed) = one(
        server.local_addr(),
        b"GET /echo/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    assert_eq!(reply.header("connection"), Some("keep-alive"));
    assert!(!closed);
    let (reply, _) = one(
        server.local_addr(),
        b"GET /echo/x HTTP/1.2\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.status, 200, "HTTP/1.x is served as 1.1");
}

#[test]
fn connection_close_is_a_token_not_a_substring() {
    let server = start(config(None));
    let (_, closed) = one(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x-close-not\r\n\r\n",
    );
    assert!(!closed);
    let (_, closed) = one(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n",
    );
    assert!(closed);
}

#[test]
fn leading_empty_lines_are_ignored() {
    let server = start(config(None));
    let (reply, _) = one(
        server.local_addr(),
        b"\r\n\r\nGET /echo/ok HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.text(), "ok");
}

#[test]
fn target_forms() {
    let server = start(config(None));
    let addr = server.local_addr();
    let (reply, _) = one(
        addr,
        b"GET http://example.com/echo/abs HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    assert_eq!(reply.text(), "abs");
    let (reply, _) = one(addr, b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(reply.status, 200);
    assert!(reply.header("allow").unwrap().contains("GET"));
    let (reply, _) = one(addr, b"OPTIONS /echo/x HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS"));
    let (reply, _) = one(
        addr,
        b"GET /echo/a/../b/./c?q=1 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(
        reply.text(),
        "b/c",
        "dot-segments are removed, the query is not the path"
    );
}

#[test]
fn header_timeout_cannot_be_extended_by_a_slow_drip() {
    let mut cfg = config(None);
    cfg.header_timeout = Duration::from_millis(800);
    let server = start(cfg);
    let mut s = connect(server.local_addr());
    let started = Instant::now();
    let mut closed_early = false;
    for b in b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if s.write_all(&[*b]).is_err() {
            closed_early = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let (raw, closed) = read_all(&mut s);
    assert!(
        closed || closed_early,
        "the server dropped the dripping client"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    if !raw.is_empty() {
        assert_eq!(parse_replies(&raw, &[])[0].status, 408);
    }
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let mut cfg = config(None);
    cfg.keep_alive_timeout = Duration::from_millis(300);
    let server = start(cfg);
    let mut s = connect(server.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    read_replies(&mut s, 1, &[]);
    let started = Instant::now();
    let (rest, closed) = read_all(&mut s);
    assert!(rest.is_empty() && closed);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn responses_carry_date_and_exact_framing() {
    let server = start(config(None));
    let (reply, _) = one(
        server.local_addr(),
        b"GET /echo/abc HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let date = reply.header("date").unwrap();
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
    // The value is kept current by a timer, not read per response: it must
    // still follow the clock across seconds on a kept-alive connection.
    let mut s = connect(server.local_addr());
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1100));
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let sent = read_replies(&mut s, 1, &[])[0]
            .header("date")
            .unwrap()
            .to_string();
        let sent = httpdate::parse_http_date(&sent).unwrap();
        let now = std::time::SystemTime::now();
        let lag = now.duration_since(sent).unwrap_or_default();
        assert!(
            lag < Duration::from_millis(1500),
            "Date lags the clock by {lag:?}"
        );
        assert!(
            sent <= now + Duration::from_secs(1),
            "Date ahead of the clock"
        );
    }
    assert!(reply.header("transfer-encoding").is_none());
    assert_eq!(
        reply
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .count(),
        1
    );
}
