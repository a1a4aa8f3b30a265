//! The exercise's routes, exactly as its stages check them: raw bytes where
//! the bytes matter, a real client for the rest.

mod common;

use std::io::{Read, Write};

use common::*;

#[test]
fn root_answers_200_with_exact_status_line() {
    let server = start(config(None));
    let (reply, closed) = one(
        server.local_addr(),
        b"GET / HTTP/1.1\r\nHost: localhost:4221\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.header("content-length"), Some("0"));
    assert!(reply.header("date").is_some());
    assert!(!closed, "HTTP/1.1 keeps the connection open");
}

#[test]
fn unknown_path_is_404() {
    let server = start(config(None));
    let (reply, _) = one(
        server.local_addr(),
        b"GET /abcdefg HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 404 Not Found");
}

#[test]
fn echo_returns_the_text_as_plain_text() {
    let server = start(config(None));
    let (reply, _) = one(
        server.local_addr(),
        b"GET /echo/abc HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert_eq!(reply.header("content-length"), Some("3"));
    assert_eq!(reply.body, b"abc");
    assert_eq!(reply.header("content-encoding"), None);

    let (reply, _) = one(
        server.local_addr(),
        b"GET /echo/hello%20world HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.text(), "hello world", "the text is percent-decoded");
    let (reply, _) = one(
        server.local_addr(),
        b"GET /echo/ HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!((reply.status, reply.body.len()), (200, 0));
}

/// Requests on one connection reuse one request's storage: a path that
/// needed decoding, one that did not, then a decoded one again each see
/// their own path, never what the one before left.
#[test]
fn pipelined_echoes_each_see_their_own_path() {
    let server = start(config(None));
    let mut s = connect(server.local_addr());
    s.write_all(
        b"GET /echo/a%20b HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /echo/cd HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /echo/%41 HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /echo/longer/text HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /echo/e HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .unwrap();
    let texts: Vec<String> = read_replies(&mut s, 5, &[])
        .iter()
        .map(|r| r.text().to_string())
        .collect();
    assert_eq!(texts, ["a b", "cd", "A", "longer/text", "e"]);
}

#[test]
fn user_agent_is_echoed() {
    let server = start(config(None));
    let (reply, _) = one(
        server.local_addr(),
        b"GET /user-agent HTTP/1.1\r\nHost: localhost\r\nUser-Agent: foobar/1.2.3\r\nAccept: */*\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert_eq!(reply.header("content-length"), Some("12"));
    assert_eq!(reply.text(), "foobar/1.2.3");

    let (reply, _) = one(
        server.local_addr(),
        b"GET /user-agent HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.status, 400, "no User-Agent: a clear 400");
    assert!(reply.text().contains("User-Agent"));
}

#[test]
fn real_client_sees_the_routes() {
    let server = start(config(None));
    let base = format!("http://{}", server.local_addr());
    let agent = client();
    let mut r = agent.get(format!("{base}/echo/pineapple")).call().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body_mut().read_to_string().unwrap(), "pineapple");
    let mut r = agent
        .get(format!("{base}/user-agent"))
        .header("User-Agent", "ureq-test")
        .call()
        .unwrap();
    assert_eq!(r.body_mut().read_to_string().unwrap(), "ureq-test");
    let mut r = agent.post(format!("{base}/")).send("echo me").unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.body_mut().read_to_string().unwrap(), "echo me");
    let r = agent.get(format!("{base}/nope")).call().unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn files_are_served_and_uploaded() {
    let (server, dir) = start_with_root();
    std::fs::write(dir.path().join("foo"), b"Hello, World!").unwrap();
    let (reply, _) = one(
        server.local_addr(),
        b"GET /files/foo HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        reply.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(reply.header("content-length"), Some("13"));
    assert_eq!(reply.body, b"Hello, World!");

    let (reply, _) = one(
        server.local_addr(),
        b"GET /files/non_existant_file HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 404 Not Found");

    let (reply, _) = one(
        server.local_addr(),
        b"POST /files/number HTTP/1.1\r\nHost: a\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n12345",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 201 Created");
    assert_eq!(std::fs::read(dir.path().join("number")).unwrap(), b"12345");
    assert_eq!(
        dir.names(),
        vec!["foo", "number"],
        "no temporary file is left"
    );

    let base = format!("http://{}", server.local_addr());
    let mut r = client().get(format!("{base}/files/number")).call().unwrap();
    assert_eq!(r.body_mut().read_to_vec().unwrap(), b"12345");
}

#[test]
fn files_are_404_without_a_directory() {
    let server = start(config(None));
    let (reply, _) = one(
        server.local_addr(),
        b"GET /files/foo HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.status, 404);
    let (reply, _) = one(
        server.local_addr(),
        b"POST /files/foo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(reply.status, 404);
}

#[test]
fn known_path_with_other_method_is_405_with_allow() {
    let server = start(config(None));
    let (reply, _) = one(
        server.local_addr(),
        b"DELETE /echo/x HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.status_line, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS"));
    let (reply, _) = one(
        server.local_addr(),
        b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    let (reply, _) = one(
        server.local_addr(),
        b"BREW /echo/x HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.status, 501, "a method no route knows");
}

#[test]
fn gzip_is_negotiated_for_echo() {
    use flate2::read::GzDecoder;
    let server = start(config(None));
    let addr = server.local_addr();
    let (reply, _) = one(
        addr,
        b"GET /echo/abc HTTP/1.1\r\nHost: a\r\nAccept-Encoding: invalid-encoding-1, gzip, invalid-encoding-2\r\n\r\n",
    );
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    assert_eq!(reply.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        reply.header("content-length").unwrap(),
        reply.body.len().to_string()
    );
    let mut text = String::new();
    GzDecoder::new(&reply.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "abc");

    for refused in [&b"invalid-encoding"[..], b"gzip;q=0", b"br, gzip;q=0.000"] {
        let mut req = b"GET /echo/abc HTTP/1.1\r\nHost: a\r\nAccept-Encoding: ".to_vec();
        req.extend_from_slice(refused);
        req.extend_from_slice(b"\r\n\r\n");
        let (reply, _) = one(addr, &req);
        assert_eq!(
            reply.header("content-encoding"),
            None,
            "{:?}",
            String::from_utf8_lossy(refused)
        );
        assert_eq!(reply.body, b"abc");
    }
}

#[test]
fn persistent_connection_serves_several_requests() {
    let server = start(config(None));
    let mut s = connect(server.local_addr());
    for word in ["apple", "banana", "cherry"] {
        write!(s, "GET /echo/{word} HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let replies = read_replies(&mut s, 1, &[]);
        assert_eq!(replies[0].text(), word);
    }
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (raw, closed) = read_all(&mut s);
    let replies = parse_replies(&raw, &[]);
    assert_eq!(replies[0].header("connection"), Some("close"));
    assert!(closed, "Connection: close is honoured");
}

#[test]
fn concurrent_connections_are_served() {
    let server = start(config(None));
    let addr = server.local_addr();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                for j in 0..20 {
                    write!(s, "GET /echo/{i}-{j} HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
                    let r = read_replies(&mut s, 1, &[]);
                    assert_eq!(r[0].text(), format!("{i}-{j}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let (server, dir) = start_with_root();
    std::fs::write(dir.path().join("f"), b"0123456789").unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"HEAD /files/f HTTP/1.1\r\nHost: a\r\n\r\nHEAD /echo/xyz HTTP/1.1\r\nHost: a\r\n\r\nGET /echo/after HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let replies = read_replies(&mut s, 3, &[true, true, false]);
    assert_eq!(replies[0].header("content-length"), Some("10"));
    assert!(replies[0].body.is_empty());
    assert_eq!(replies[1].header("content-length"), Some("3"));
    assert_eq!(
        replies[2].text(),
        "after",
        "no stray body bytes between responses"
    );
}
