//! A custom application driven through the public API only: state,
//! nesting, stages, streaming, query strings, saving bodies, redirects.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use barehttp::{Config, Request, Response, Router, Server, sync};
use common::*;

struct Counter(AtomicU64);

fn app(dir: std::path::PathBuf) -> Router {
    let api = Router::new()
        .with_state(Counter(AtomicU64::new(0)))
        .default_header("X-Api", "v1")
        .compress(true)
        .get(
            "/count",
            sync(|req: Request| {
                let n = req
                    .state::<Counter>()
                    .unwrap()
                    .0
                    .fetch_add(1, Ordering::Relaxed)
                    + 1;
                n.to_string()
            }),
        )
        .get(
            "/big",
            sync(|_req: Request| Response::bytes("text/plain", "hello world. ".repeat(500))),
        )
        .get(
            "/search",
            sync(|req: Request| {
                let pairs: Vec<String> = req
                    .query_pairs()
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!(
                    "{}|{}",
                    pairs.join(";"),
                    req.query_param("q").unwrap_or_default()
                )
            }),
        );
    Router::new()
        .with_state(dir)
        .nest("/api", api)
        .get(
            "/old",
            sync(|_req: Request| Response::redirect(308, "/api/count")),
        )
        .get("/stream/{n}", |req: Request| async move {
            let n = req.param("n").unwrap().parse().unwrap();
            streamed(n, Some(Duration::from_millis(5)), |i| format!("part {i}\n"))
        })
        .post("/save/{name}", |mut req: Request| async move {
            let dir = req.state::<std::path::PathBuf>().unwrap().clone();
            let path = dir.join(req.param("name").unwrap());
            match req.body_mut().save(&path).await {
                Ok(created) => Response::new(if created { 201 } else { 204 }),
                Err(e) => e.into(),
            }
        })
}

/// A streamed body of `n` lines, produced with `pause` between them (or as
/// fast as they are taken).
fn streamed(n: usize, pause: Option<Duration>, line: fn(usize) -> String) -> Response {
    let (response, tx) = Response::stream("text/plain");
    tokio::task::spawn_local(async move {
        for i in 0..n {
            if tx.send(line(i)).await.is_err() {
                return;
            }
            if let Some(pause) = pause {
                tokio::time::sleep(pause).await;
            }
        }
    });
    response
}

fn serve(dir: &Scratch) -> barehttp::RunningServer {
    let mut config = Config::default();
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.threads = 1;
    Server::bind(config, app(dir.path().to_path_buf()))
        .unwrap()
        .spawn()
        .unwrap()
}

#[test]
fn state_is_shared_and_routers_nest() {
    let dir = Scratch::new("lib");
    let server = serve(&dir);
    let base = format!("http://{}", server.local_addr());
    for want in ["1", "2", "3"] {
        let mut r = client().get(format!("{base}/api/count")).call().unwrap();
        assert_eq!(
            r.headers().get("x-api").unwrap(),
            "v1",
            "the nested router's stage"
        );
        assert_eq!(r.body_mut().read_to_string().unwrap(), want);
    }
    let r = client().get(format!("{base}/count")).call().unwrap();
    assert_eq!(
        r.status(),
        404,
        "nested routes live under their prefix only"
    );
    let (reply, _) = one(server.local_addr(), b"GET /old HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        (reply.status, reply.header("location")),
        (308, Some("/api/count"))
    );
    assert!(
        reply.header("x-api").is_none(),
        "the outer router has no such stage"
    );
}

#[test]
fn the_compression_stage_applies_per_router() {
    let dir = Scratch::new("lib");
    let server = serve(&dir);
    let (reply, _) = one(
        server.local_addr(),
        b"GET /api/big HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&reply.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "hello world. ".repeat(500));
    let (reply, _) = one(
        server.local_addr(),
        b"GET /api/count HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    assert_eq!(
        reply.header("content-encoding"),
        None,
        "tiny bodies are left alone"
    );
}

#[test]
fn query_pairs_are_decoded() {
    let dir = Scratch::new("lib");
    let server = serve(&dir);
    let (reply, _) = one(
        server.local_addr(),
        b"GET /api/search?q=a+b%21&x&y=%41 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.text(), "q=a b!;x=;y=A|a b!");
}

#[test]
fn streamed_responses_are_chunked_for_1_1_and_close_delimited_for_1_0() {
    let dir = Scratch::new("lib");
    let server = serve(&dir);
    let mut s = connect(server.local_addr());
    s.write_all(
        b"GET /stream/3 HTTP/1.1\r\nHost: a\r\n\r\nGET /stream/1 HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .unwrap();
    let replies = read_replies(&mut s, 2, &[]);
    assert_eq!(replies[0].header("transfer-encoding"), Some("chunked"));
    assert_eq!(replies[0].text(), "part 0\npart 1\npart 2\n");
    assert_eq!(
        replies[1].text(),
        "part 0\n",
        "the connection goes on after a chunked body"
    );

    let (replies, closed) = exchange(server.local_addr(), b"GET /stream/2 HTTP/1.0\r\n\r\n");
    let reply = &replies[0];
    assert!(
        reply.header("transfer-encoding").is_none() && reply.header("content-length").is_none()
    );
    assert_eq!(reply.text(), "part 0\npart 1\n");
    assert!(
        closed,
        "an HTTP/1.0 body of unknown length ends with the connection"
    );

    let base = format!("http://{}", server.local_addr());
    let mut r = client().get(format!("{base}/stream/4")).call().unwrap();
    assert_eq!(
        r.body_mut().read_to_string().unwrap().lines().count(),
        4,
        "a real client reads it"
    );
}

#[test]
fn bodies_are_saved_atomically() {
    let dir = Scratch::new("lib");
    let server = serve(&dir);
    let base = format!("http://{}", server.local_addr());
    let r = client()
        .post(format!("{base}/save/a.bin"))
        .send(&vec![7u8; 300_000][..])
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client()
        .post(format!("{base}/save/a.bin"))
        .send(&b"short"[..])
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(std::fs::read(dir.path().join("a.bin")).unwrap(), b"short");
    assert_eq!(dir.names(), vec!["a.bin"]);
}

#[test]
fn an_existing_listener_can_be_served() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::default();
    config.threads = 2;
    let router = Router::new().get("/", sync(|_req: Request| "from a listener"));
    let server = Server::from_listener(listener, config, router)
        .unwrap()
        .spawn()
        .unwrap();
    assert_eq!(server.local_addr(), addr);
    assert_eq!(
        one(addr, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").0.text(),
        "from a listener"
    );
    server.stop().unwrap();
}

/// Requests and responses reuse their storage on a thread; nothing of one
/// may show in the next: parameters, query, fields, body or response fields.
#[test]
fn nothing_of_one_request_or_response_shows_in_the_next() {
    let router = Router::new()
        .get(
            "/set/{x}",
            sync(|req: Request| {
                Response::text(format!("set {}", req.param("x").unwrap_or("?")))
                    .header("X-Leak", "1")
            }),
        )
        .post("/post", |mut req: Request| async move {
            let body = req.body_mut().read_to_end(1024).await.unwrap();
            Response::text(body.len().to_string()).header("X-Leak", "2")
        })
        .get(
            // Long enough that a stale parameter's range would fall inside.
            "/dump/{*rest}",
            sync(|req: Request| {
                format!(
                    "{:?}|{:?}|{:?}|{}|{}",
                    req.param("x"),
                    req.query(),
                    req.header("x-secret"),
                    req.headers().count(),
                    req.path()
                )
            }),
        );
    let mut cfg = config(None);
    cfg.threads = 1;
    let server = Server::bind(cfg, router).unwrap().spawn().unwrap();
    let mut s = connect(server.local_addr());
    let mut ask = |request: &[u8]| {
        s.write_all(request).unwrap();
        read_replies(&mut s, 1, &[]).pop().unwrap()
    };
    let set = ask(b"GET /set/secret?q=1 HTTP/1.1\r\nHost: a\r\nX-Secret: s\r\nX-Other: o\r\n\r\n");
    assert_eq!(
        (set.text(), set.header("x-leak")),
        ("set secret".into(), Some("1"))
    );
    let post = ask(b"POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(
        (post.text(), post.header("x-leak")),
        ("3".into(), Some("2"))
    );
    let dump = ask(b"GET /dump/padding-padding HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(dump.text(), "None|None|None|1|/dump/padding-padding");
    assert_eq!(dump.header("x-leak"), None);
    server.stop().unwrap();
}

#[test]
fn chunks_already_waiting_leave_in_one_write() {
    // A producer faster than the socket: the chunks waiting behind the
    // one just received go out with it, instead of a write each.
    let dir = Scratch::new("lib");
    let trace = dir.path().join("trace.jsonl");
    let mut config = Config::default();
    config.addr = "127.0.0.1:0".parse().unwrap();
    config.threads = 1;
    config.trace_file = Some(trace.clone());
    let router = Router::new().get("/burst/{n}", |req: Request| async move {
        let n = req.param("n").unwrap().parse().unwrap();
        streamed(n, None, |i| format!("{i:04}\n"))
    });
    let server = Server::bind(config, router).unwrap().spawn().unwrap();
    let (reply, _) = one(
        server.local_addr(),
        b"GET /burst/400 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let want: String = (0..400).map(|i| format!("{i:04}\n")).collect();
    assert_eq!(reply.text(), want, "every chunk, in order");
    server.stop().unwrap();
    let sends = trace_sizes(&std::fs::read_to_string(&trace).unwrap(), "send").len();
    assert!(sends <= 200, "{sends} writes for 400 chunks");
}
