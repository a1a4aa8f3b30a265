//! The file server: types, validators, ranges, codings, directories,
//! uploads with PUT/DELETE, mounts and memory use.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

fn start_files(tweak: impl FnOnce(&mut barehttp::Config)) -> (barehttp::RunningServer, Scratch) {
    let dir = Scratch::new("files");
    let mut cfg = config(Some(dir.path()));
    tweak(&mut cfg);
    let server = start(cfg.validate().unwrap());
    (server, dir)
}

fn get(addr: std::net::SocketAddr, target: &str, fields: &str) -> Reply {
    ask(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: a\r\n{fields}\r\n").as_bytes(),
    )
}

fn text(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| b"the quick brown fox jumps over the lazy dog\n"[i % 44])
        .collect()
}

#[test]
fn nested_paths_and_content_types() {
    let (server, dir) = start_files(|_| {});
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::write(dir.path().join("a/b/c.txt"), b"deep").unwrap();
    std::fs::write(dir.path().join("img.png"), b"\x89PNG").unwrap();
    std::fs::write(dir.path().join("data"), b"raw").unwrap();
    let addr = server.local_addr();
    let r = get(addr, "/files/a/b/c.txt", "");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"deep"[..]));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        get(addr, "/files/img.png", "").header("content-type"),
        Some("image/png")
    );
    assert_eq!(
        get(addr, "/files/data", "").header("content-type"),
        Some("application/octet-stream")
    );
}

#[test]
fn validators_and_conditional_requests() {
    let (server, dir) = start_files(|_| {});
    std::fs::write(dir.path().join("v.bin"), b"0123456789").unwrap();
    let addr = server.local_addr();
    let r = get(addr, "/files/v.bin", "");
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong tag {etag}"
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));

    for inm in [
        etag.clone(),
        format!("\"nope\", {etag}"),
        format!("W/{etag}"),
        "*".into(),
    ] {
        let r = get(addr, "/files/v.bin", &format!("If-None-Match: {inm}\r\n"));
        assert_eq!(r.status, 304, "{inm}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(etag.as_str()));
    }
    assert_eq!(
        get(addr, "/files/v.bin", "If-None-Match: \"other\"\r\n").status,
        200
    );
    assert_eq!(
        get(
            addr,
            "/files/v.bin",
            &format!("If-Modified-Since: {lm}\r\n")
        )
        .status,
        304
    );
    let r = get(
        addr,
        "/files/v.bin",
        &format!("If-Modified-Since: {lm}\r\nIf-None-Match: \"other\"\r\n"),
    );
    assert_eq!(
        r.status, 200,
        "If-Modified-Since is ignored when If-None-Match is present"
    );
    assert_eq!(
        get(
            addr,
            "/files/v.bin",
            "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        )
        .status,
        200
    );
    assert_eq!(
        get(addr, "/files/v.bin", "If-Match: \"other\"\r\n").status,
        412
    );
    assert_eq!(
        get(addr, "/files/v.bin", &format!("If-Match: {etag}\r\n")).status,
        200
    );
    assert_eq!(
        get(
            addr,
            "/files/v.bin",
            "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        )
        .status,
        412
    );

    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(dir.path().join("v.bin"), b"0123456789").unwrap();
    let changed = get(addr, "/files/v.bin", "")
        .header("etag")
        .unwrap()
        .to_string();
    assert_ne!(
        changed, etag,
        "a rewrite with the same size changes the tag"
    );
}

/// Small files that have settled are served from memory; every change to
/// the file at that path must still show at once.
#[test]
fn small_files_kept_in_memory_follow_every_change() {
    let (server, dir) = start_files(|c| c.threads = 1);
    let addr = server.local_addr();
    let path = dir.path().join("hot.bin");
    let outside = Scratch::new("outside");
    std::fs::write(outside.path().join("secret"), b"SECRET").unwrap();
    std::fs::write(&path, b"first").unwrap();
    std::fs::write(dir.path().join("page.txt"), text(4000)).unwrap();
    // Files changed in the last two seconds are not kept.
    std::thread::sleep(Duration::from_millis(2100));
    for _ in 0..3 {
        let r = get(addr, "/files/hot.bin", "");
        assert_eq!((r.status, &r.body[..]), (200, &b"first"[..]));
    }
    let etag = get(addr, "/files/hot.bin", "")
        .header("etag")
        .unwrap()
        .to_string();
    let r = get(
        addr,
        "/files/hot.bin",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!((r.status, r.body.len()), (304, 0));
    let r = get(addr, "/files/hot.bin", "Range: bytes=1-2\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &b"ir"[..]));
    let r = ask(addr, b"HEAD /files/hot.bin HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.header("content-length"), Some("5"));

    // Rewritten in place, same length.
    std::fs::write(&path, b"again").unwrap();
    let r = get(addr, "/files/hot.bin", "");
    assert_eq!(&r.body[..], b"again");
    assert_ne!(r.header("etag").unwrap(), etag);
    // Replaced by rename, as an upload does.
    std::fs::write(dir.path().join("new"), b"renamed").unwrap();
    std::fs::rename(dir.path().join("new"), &path).unwrap();
    assert_eq!(&get(addr, "/files/hot.bin", "").body[..], b"renamed");
    // Replaced by a symlink leading out of the root.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(&get(addr, "/files/hot.bin", "").body[..], b"renamed");
    assert_eq!(&get(addr, "/files/hot.bin", "").body[..], b"renamed");
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), &path).unwrap();
    let r = get(addr, "/files/hot.bin", "");
    assert!(
        r.status >= 400 && !r.body.windows(6).any(|w| w == b"SECRET"),
        "{r:?}"
    );
    // Removed.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(get(addr, "/files/hot.bin", "").status, 404);

    // A compressible file: kept for clients that take it as it is, while
    // the ones asking for gzip still get gzip.
    for _ in 0..2 {
        let plain = get(addr, "/files/page.txt", "");
        assert_eq!(
            (plain.body.len(), plain.header("vary")),
            (4000, Some("Accept-Encoding"))
        );
        let packed = get(addr, "/files/page.txt", "Accept-Encoding: gzip\r\n");
        assert_eq!(packed.header("content-encoding"), Some("gzip"));
        assert_eq!(gunzip(&packed.body), text(4000));
    }
}

/// Connections asking for the same kept file at once share its checks,
/// yet a file replaced meanwhile must show to every request sent after the
/// replacement, on any connection.
#[test]
fn kept_files_shared_by_many_connections_follow_every_change() {
    const CONNS: usize = 16;
    const VERSIONS: usize = 6;
    let (server, dir) = start_files(|c| c.threads = 1);
    let addr = server.local_addr();
    let version = |v: usize| format!("version {v}").into_bytes();
    for v in 0..VERSIONS {
        std::fs::write(dir.path().join(format!("v{v}")), version(v)).unwrap();
    }
    // The served name is a symlink to one of the versions, swapped by
    // rename: the versions themselves stay settled, so each is kept as
    // soon as it has been served.
    std::thread::sleep(Duration::from_millis(2100));
    let point_to = |v: usize| {
        let next = dir.path().join("next");
        std::os::unix::fs::symlink(format!("v{v}"), &next).unwrap();
        std::fs::rename(&next, dir.path().join("shared.bin")).unwrap();
    };
    point_to(0);
    let request = b"GET /files/shared.bin HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut conns: Vec<_> = (0..CONNS).map(|_| connect(addr)).collect();
    let body = |conn: &mut std::net::TcpStream| {
        let reply = read_replies(conn, 1, &[false]).remove(0);
        assert_eq!(reply.status, 200);
        reply.body
    };
    for v in 1..VERSIONS {
        // Every connection at once, served from memory once kept.
        for _ in 0..3 {
            for conn in &mut conns {
                conn.write_all(request).unwrap();
            }
            for conn in &mut conns {
                assert_eq!(body(conn), version(v - 1));
            }
        }
        // Half the requests leave before the replacement and may see
        // either version; the rest leave after it and must see the new one.
        for conn in &mut conns[..CONNS / 2] {
            conn.write_all(request).unwrap();
        }
        point_to(v);
        for conn in &mut conns[CONNS / 2..] {
            conn.write_all(request).unwrap();
        }
        for (i, conn) in conns.iter_mut().enumerate() {
            let got = body(conn);
            if i < CONNS / 2 {
                assert!(got == version(v - 1) || got == version(v), "{got:?}");
            } else {
                assert_eq!(got, version(v), "connection {i}");
            }
        }
    }
}

#[test]
fn byte_ranges() {
    let (server, dir) = start_files(|_| {});
    std::fs::write(dir.path().join("r.bin"), b"0123456789").unwrap();
    let addr = server.local_addr();
    let cases = [
        ("bytes=0-3", "0123", "bytes 0-3/10"),
        ("bytes=7-", "789", "bytes 7-9/10"),
        ("bytes=-2", "89", "bytes 8-9/10"),
        ("bytes=5-100", "56789", "bytes 5-9/10"),
    ];
    for (range, body, content_range) in cases {
        let r = get(addr, "/files/r.bin", &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.text(), body, "{range}");
        assert_eq!(r.header("content-range"), Some(content_range));
    }
    let r = get(addr, "/files/r.bin", "Range: bytes=20-30\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */10"));
    assert_eq!(
        get(addr, "/files/r.bin", "Range: bytes=x-y\r\n").status,
        200,
        "a malformed range is ignored"
    );

    let r = get(addr, "/files/r.bin", "Range: bytes=0-1,4-5\r\n");
    assert_eq!(r.status, 206);
    let ct = r.header("content-type").unwrap();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
    let body = r.text();
    assert_eq!(
        body,
        format!(
            "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 4-5/10\r\n\r\n45\r\n--{boundary}--\r\n"
        )
    );

    // Overlapping ranges that add up to more than the file would make the
    // answer larger than the file: the file is sent once, whole.
    for range in ["bytes=0-,0-", "bytes=0-6,3-9", "bytes=-10,0-0"] {
        let r = get(addr, "/files/r.bin", &format!("Range: {range}\r\n"));
        assert_eq!((r.status, r.text()), (200, "0123456789".into()), "{range}");
    }

    let etag = get(addr, "/files/r.bin", "")
        .header("etag")
        .unwrap()
        .to_string();
    let r = get(
        addr,
        "/files/r.bin",
        &format!("Range: bytes=0-0\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!((r.status, r.text()), (206, "0".into()));
    let r = get(
        addr,
        "/files/r.bin",
        "Range: bytes=0-0\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!(
        (r.status, r.body.len()),
        (200, 10),
        "a stale If-Range gets the whole file"
    );
}

#[test]
fn a_large_file_and_its_ranges_arrive_whole() {
    // A file sent with `sendfile` leaves in more than one call past its
    // first 256 KiB. The bytes repeat every 251, so a piece sent from an
    // offset off by anything but a multiple of 251 shows.
    let (server, dir) = start_files(|_| {});
    let data: Vec<u8> = (0..(1 << 20) + 1234).map(|i| (i % 251) as u8).collect();
    let len = data.len();
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(
        b"GET /files/big.bin HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /files/big.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=1000-700000\r\n\r\n\
          GET /files/big.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=0-300000,500000-\r\n\r\n",
    )
    .unwrap();
    let replies = read_replies(&mut s, 3, &[]);
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0].status, 200);
    assert!(replies[0].body == data, "whole file differs");
    assert_eq!(replies[1].status, 206);
    assert_eq!(
        replies[1].header("content-range"),
        Some(format!("bytes 1000-700000/{len}").as_str())
    );
    assert!(replies[1].body == data[1000..=700000], "range differs");
    let parts = &replies[2];
    assert_eq!(parts.status, 206);
    for (first, last) in [(0, 300_000), (500_000, len - 1)] {
        let head = format!("Content-Range: bytes {first}-{last}/{len}\r\n\r\n");
        let at = find(&parts.body, head.as_bytes()).expect("part head") + head.len();
        assert!(
            parts.body[at..at + last + 1 - first] == data[first..=last],
            "part {first}-{last} differs"
        );
    }
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn content_codings_are_negotiated() {
    let (server, dir) = start_files(|_| {});
    let original = text(64 * 1024);
    std::fs::write(dir.path().join("t.txt"), &original).unwrap();
    std::fs::write(dir.path().join("small.txt"), b"tiny").unwrap();
    std::fs::write(dir.path().join("p.png"), &original).unwrap();
    let addr = server.local_addr();

    let r = get(addr, "/files/t.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(gunzip(&r.body), original);
    let again = get(addr, "/files/t.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(again.body, r.body, "served from the cache, byte for byte");
    assert_eq!(again.header("etag"), r.header("etag"));

    let r = get(addr, "/files/t.txt", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(unbrotli(&r.body), original);
    let r = get(addr, "/files/t.txt", "Accept-Encoding: br;q=0.5, gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let identity = get(addr, "/files/t.txt", "");
    assert_eq!(identity.header("content-encoding"), None);
    assert_eq!(identity.body, original);
    assert_ne!(
        identity.header("etag"),
        r.header("etag"),
        "each representation has its own tag"
    );
    assert_eq!(
        get(addr, "/files/t.txt", "Accept-Encoding: gzip;q=0\r\n").header("content-encoding"),
        None
    );
    assert_eq!(
        get(addr, "/files/t.txt", "Accept-Encoding: identity;q=0\r\n").status,
        406
    );
    assert_eq!(
        get(addr, "/files/t.txt", "Accept-Encoding: identity;q=0, *\r\n")
            .header("content-encoding"),
        Some("br")
    );
    assert_eq!(
        get(addr, "/files/small.txt", "Accept-Encoding: gzip\r\n").header("content-encoding"),
        None
    );
    assert_eq!(
        get(addr, "/files/p.png", "Accept-Encoding: gzip\r\n").header("content-encoding"),
        None
    );
    let head = ask(
        addr,
        b"HEAD /files/t.txt HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    let gz_len = get(addr, "/files/t.txt", "Accept-Encoding: gzip\r\n")
        .body
        .len();
    assert_eq!(
        head.header("content-length"),
        Some(gz_len.to_string().as_str())
    );
    let ranged = get(
        addr,
        "/files/t.txt",
        "Accept-Encoding: gzip\r\nRange: bytes=0-2\r\n",
    );
    assert_eq!(
        (ranged.status, ranged.header("content-encoding")),
        (206, None),
        "ranges refer to the identity bytes"
    );
}

#[test]
fn precompressed_siblings_are_served_when_fresh() {
    let (server, dir) = start_files(|_| {});
    let original = text(4096);
    std::fs::write(dir.path().join("app.js"), &original).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&original).unwrap();
    let precompressed = gz.finish().unwrap();
    std::fs::write(dir.path().join("app.js.gz"), &precompressed).unwrap();
    let addr = server.local_addr();
    let r = get(addr, "/files/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.body, precompressed, "the sibling's own bytes");

    // A sibling older than the original is stale and ignored.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(dir.path().join("app.js"), &original).unwrap();
    let r = get(addr, "/files/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_ne!(r.body, precompressed);
    assert_eq!(gunzip(&r.body), original);
}

#[test]
fn directories_list_redirect_and_index() {
    let (server, dir) = start_files(|_| {});
    std::fs::create_dir_all(dir.path().join("d/sub")).unwrap();
    std::fs::write(dir.path().join("d/<b>&.txt"), b"12345").unwrap();
    std::fs::write(dir.path().join("d/a.txt"), b"1").unwrap();
    std::fs::write(dir.path().join("d/.barehttp-upload-1-2"), b"partial").unwrap();
    std::fs::create_dir(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("site/index.html"), b"<h1>home</h1>").unwrap();
    let addr = server.local_addr();

    let r = get(addr, "/files/d?sort=size", "");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/files/d/?sort=size"));
    assert_eq!(get(addr, "/files", "").header("location"), Some("/files/"));

    let r = get(addr, "/files/d/", "");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    assert!(
        page.contains("&lt;b&gt;&amp;.txt") && !page.contains("<b>&"),
        "names are escaped"
    );
    assert!(page.contains("href=\"%3Cb%3E%26.txt\""));
    assert!(
        !page.contains("barehttp-upload"),
        "temporary files never show"
    );
    let sub = page.find("sub/").unwrap();
    assert!(sub < page.find("a.txt").unwrap(), "directories first");

    let r = get(addr, "/files/d/", "Accept: application/json\r\n");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let json = r.text();
    assert!(
        json.starts_with("[{\"name\":\"sub\",\"type\":\"directory\""),
        "{json}"
    );
    let by_size = get(
        addr,
        "/files/d/?sort=size&order=desc",
        "Accept: application/json\r\n",
    )
    .text();
    assert!(
        by_size.find("<b>&.txt").unwrap() < by_size.find("a.txt").unwrap(),
        "{by_size}"
    );

    let r = get(addr, "/files/site/", "");
    assert_eq!((r.status, r.text()), (200, "<h1>home</h1>".into()));
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(get(addr, "/files/.barehttp-upload-1-2", "").status, 404);
    assert_eq!(get(addr, "/files/d/.barehttp-upload-1-2", "").status, 404);
}

#[test]
fn listings_can_be_turned_off() {
    let (server, dir) = start_files(|c| c.listing = false);
    std::fs::create_dir(dir.path().join("d")).unwrap();
    assert_eq!(get(server.local_addr(), "/files/d/", "").status, 404);
}

#[test]
fn files_can_be_mounted_at_the_root_and_fixed_routes_keep_priority() {
    let (server, dir) = start_files(|c| c.files_at = "/".into());
    std::fs::write(dir.path().join("style.css"), b"body{}").unwrap();
    std::fs::create_dir(dir.path().join("echo")).unwrap();
    std::fs::write(dir.path().join("echo/x"), b"file").unwrap();
    let addr = server.local_addr();
    let r = get(addr, "/style.css", "");
    assert_eq!((r.status, r.text()), (200, "body{}".into()));
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(get(addr, "/echo/x", "").text(), "x", "the echo route wins");
    assert_eq!(get(addr, "/", "").body.len(), 0, "the root route wins");
    assert_eq!(get(addr, "/files/style.css", "").status, 404);
}

#[test]
fn put_delete_and_their_preconditions() {
    let (server, dir) = start_files(|_| {});
    let addr = server.local_addr();
    let put = |target: &str, fields: &str, body: &str| {
        ask(
            addr,
            format!(
                "PUT {target} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n{fields}\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    let r = put("/files/doc.txt", "", "one");
    assert_eq!(r.status, 201);
    assert_eq!(r.header("location"), Some("/files/doc.txt"));
    let r = put("/files/doc.txt", "", "two");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("location"), Some("/files/doc.txt"));
    assert_eq!(std::fs::read(dir.path().join("doc.txt")).unwrap(), b"two");

    assert_eq!(
        put("/files/doc.txt", "If-None-Match: *\r\n", "three").status,
        412
    );
    assert_eq!(
        put("/files/fresh.txt", "If-None-Match: *\r\n", "new").status,
        201
    );
    assert_eq!(
        put("/files/doc.txt", "If-Match: \"stale\"\r\n", "four").status,
        412
    );
    let etag = get(addr, "/files/doc.txt", "")
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(
        put("/files/doc.txt", &format!("If-Match: {etag}\r\n"), "five").status,
        204
    );
    assert_eq!(std::fs::read(dir.path().join("doc.txt")).unwrap(), b"five");
    assert_eq!(
        put("/files/nothing.txt", "If-Match: *\r\n", "x").status,
        412
    );

    let post = ask(
        addr,
        b"POST /files/doc.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nsix",
    );
    assert_eq!(post.status, 201, "POST keeps the exercise's 201");

    assert_eq!(put("/files/no/parent.txt", "", "x").status, 409);
    let del = |target: &str, fields: &str| {
        ask(
            addr,
            format!("DELETE {target} HTTP/1.1\r\nHost: a\r\n{fields}\r\n").as_bytes(),
        )
    };
    assert_eq!(del("/files/doc.txt", "If-Match: \"stale\"\r\n").status, 412);
    assert_eq!(del("/files/doc.txt", "").status, 204);
    assert_eq!(del("/files/doc.txt", "").status, 404);
    assert!(!dir.path().join("doc.txt").exists());
    std::fs::create_dir(dir.path().join("keepdir")).unwrap();
    assert_eq!(del("/files/keepdir", "").status, 409);
    assert_eq!(dir.names(), vec!["fresh.txt", "keepdir"]);
}

#[test]
fn mkdir_creates_parents() {
    let (server, dir) = start_files(|c| c.mkdir = true);
    let r = ask(
        server.local_addr(),
        b"PUT /files/x/y/z.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(r.status, 201);
    assert_eq!(std::fs::read(dir.path().join("x/y/z.txt")).unwrap(), b"ok");
}

#[test]
fn read_only_refuses_every_write() {
    let (server, dir) = start_files(|c| c.read_only = true);
    std::fs::write(dir.path().join("f"), b"keep").unwrap();
    let addr = server.local_addr();
    for method in ["POST", "PUT", "DELETE"] {
        let r = ask(
            addr,
            format!("{method} /files/f HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx")
                .as_bytes(),
        );
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"keep");
}

/// A 256 KiB tmpfs on a scratch directory, unmounted when dropped, even
/// when the test fails half-way.
struct SmallTmpfs(Scratch);

impl SmallTmpfs {
    fn mount() -> Option<SmallTmpfs> {
        let dir = Scratch::new("tmpfs");
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success())
            .then_some(SmallTmpfs(dir))
    }

    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        // Lazy, so that a descriptor still open in a failed test cannot
        // keep the mount alive.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.path())
            .status();
    }
}

#[test]
fn a_full_disk_is_507_and_loses_nothing() {
    let Some(mount) = SmallTmpfs::mount() else {
        eprintln!("skipped: cannot mount a small tmpfs here");
        return;
    };
    std::fs::write(mount.path().join("old"), b"precious").unwrap();
    let mut cfg = config(Some(mount.path()));
    cfg.threads = 1;
    let server = start(cfg);
    let body = vec![b'z'; 1024 * 1024];
    let mut s = connect(server.local_addr());
    write!(
        s,
        "PUT /files/old HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let _ = s.write_all(&body);
    let (raw, _) = read_all(&mut s);
    let status = parse_replies(&raw, &[])[0].status;
    let names = std::fs::read_dir(mount.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect::<Vec<_>>();
    let old = std::fs::read(mount.path().join("old")).unwrap();
    server.stop().unwrap();
    drop(mount);
    assert_eq!(status, 507);
    assert_eq!(old, b"precious");
    assert_eq!(names, vec!["old"], "the temporary file is gone");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

fn spawn_server(root: &std::path::Path) -> (std::process::Child, std::net::SocketAddr) {
    let port = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_barehttp"))
        .args([
            "--quiet",
            "--threads",
            "1",
            "--port",
            &port.to_string(),
            "--directory",
        ])
        .arg(root)
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, addr)
}

#[test]
fn a_10_gib_file_serves_with_flat_memory() {
    let dir = Scratch::new("huge");
    let size: u64 = 10 << 30;
    std::fs::File::create(dir.path().join("huge"))
        .unwrap()
        .set_len(size)
        .unwrap();
    let (mut child, addr) = spawn_server(dir.path());
    let before = rss_kib(child.id());
    let mut s = connect(addr);
    s.write_all(b"GET /files/huge HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut body = 0u64;
    let mut peak = before;
    while body < size {
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read failed after {body} body bytes: {e}"));
        assert!(n > 0, "ended early after {body} body bytes");
        let mut data = &buf[..n];
        if !head.ends_with(b"\r\n\r\n") {
            let end = data
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(data.len(), |p| p + 4);
            head.extend_from_slice(&data[..end]);
            data = &data[end..];
        }
        let before_gib = body >> 30;
        body += data.len() as u64;
        if body >> 30 != before_gib {
            peak = peak.max(rss_kib(child.id()));
        }
    }
    assert!(String::from_utf8_lossy(&head).contains(&format!("Content-Length: {size}")));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(body, size);
    assert!(
        peak < before + 8 * 1024,
        "RSS grew from {before} KiB to {peak} KiB"
    );
}

#[test]
fn a_large_upload_uses_no_more_memory_than_a_small_one() {
    let dir = Scratch::new("bigup");
    let (mut child, addr) = spawn_server(dir.path());
    let upload = |name: &str, size: usize| {
        let mut s = connect(addr);
        write!(
            s,
            "PUT /files/{name} HTTP/1.1\r\nHost: a\r\nContent-Length: {size}\r\n\r\n"
        )
        .unwrap();
        let chunk = vec![b'u'; 256 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            s.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        assert_eq!(read_replies(&mut s, 1, &[])[0].status, 201);
    };
    upload("small", 5 * 1024);
    let small = rss_kib(child.id());
    upload("large", 1 << 30);
    let large = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        std::fs::metadata(dir.path().join("large")).unwrap().len(),
        1 << 30
    );
    assert!(
        large < small + 8 * 1024,
        "RSS {small} KiB after 5 KiB, {large} KiB after 1 GiB"
    );
}

/// A rewrite of the same length whose modification time is set back (as
/// `cp -p` or `rsync -a` do) must still change the entity-tag and the
/// compressed representation served.
#[test]
fn a_rewrite_with_its_old_modification_time_is_still_seen() {
    let (server, dir) = start_files(|c| c.threads = 1);
    let addr = server.local_addr();
    let path = dir.path().join("app.js");
    let old_time = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let write = |head: &[u8]| {
        let mut content = head.to_vec();
        content.extend_from_slice(&text(4000));
        std::fs::write(&path, &content).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old_time)
            .unwrap();
        content
    };
    let first = write(b"var version = 'AAAA';\n");
    let r = get(addr, "/files/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(gunzip(&r.body) == first);
    let etag = r.header("etag").unwrap().to_string();
    let plain_etag = get(addr, "/files/app.js", "")
        .header("etag")
        .unwrap()
        .to_string();

    let second = write(b"var version = 'CCCC';\n");
    assert_eq!(first.len(), second.len());
    let r = get(addr, "/files/app.js", "Accept-Encoding: gzip\r\n");
    let got = gunzip(&r.body);
    assert!(
        got == second,
        "the compressed copy follows the rewrite: got {:?}",
        String::from_utf8_lossy(&got[..22])
    );
    assert_ne!(r.header("etag").unwrap(), etag);
    let r = get(
        addr,
        "/files/app.js",
        &format!("If-None-Match: {plain_etag}\r\n"),
    );
    assert_eq!(r.status, 200, "the old tag no longer matches");
    assert!(r.body == second);
}
