//! The file routes never leave the root and never lose or half-write data.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;

#[test]
fn traversal_of_any_kind_stays_inside_the_root() {
    let outside = Scratch::new("outside");
    std::fs::write(outside.path().join("secret"), b"secret").unwrap();
    let (server, dir) = start_with_root();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
    let secret_name = outside
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let attempts = [
        "/files/../../../../etc/passwd".to_string(),
        "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_string(),
        "/files/..%2f..%2fetc%2fpasswd".to_string(),
        "/files//etc/passwd".to_string(),
        "/files/%2Fetc%2Fpasswd".to_string(),
        format!("/files/../{secret_name}/secret"),
        "/files/escape/secret".to_string(),
        "/files/link".to_string(),
    ];
    for target in &attempts {
        let request = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
        let (replies, _) = exchange(server.local_addr(), request.as_bytes());
        let reply = &replies[0];
        assert!(
            matches!(reply.status, 400 | 403 | 404),
            "{target}: {} {}",
            reply.status,
            reply.text()
        );
        assert!(
            !reply.text().contains("root:")
                && !reply.text().contains("secret\n")
                && reply.body != b"secret"
        );
    }
    for target in [
        "/files/escape/planted",
        "/files/../planted",
        "/files/%2e%2e/planted",
    ] {
        let request = format!("POST {target} HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nevil");
        let (replies, _) = exchange(server.local_addr(), request.as_bytes());
        assert!(
            matches!(replies[0].status, 400 | 403 | 404 | 409),
            "{target}: {}",
            replies[0].status
        );
    }
    assert_eq!(
        outside.names(),
        vec!["secret"],
        "nothing was written outside the root"
    );
    let parent = dir.path().parent().unwrap();
    assert!(!parent.join("planted").exists());
}

#[test]
fn symlinks_inside_the_root_work() {
    let (server, dir) = start_with_root();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/real"), b"inside").unwrap();
    std::os::unix::fs::symlink("sub/real", dir.path().join("alias")).unwrap();
    let (reply, _) = one(
        server.local_addr(),
        b"GET /files/alias HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.body, b"inside");
    let (reply, _) = one(
        server.local_addr(),
        b"GET /files/sub/real HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.body, b"inside");
}

#[test]
fn an_interrupted_upload_leaves_no_file_and_keeps_the_old_one() {
    let (server, dir) = start_with_root();
    std::fs::write(dir.path().join("keep"), b"original").unwrap();
    for name in ["keep", "fresh"] {
        let mut s = connect(server.local_addr());
        write!(
            s,
            "POST /files/{name} HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"
        )
        .unwrap();
        s.write_all(&[b'x'; 5000]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(std::fs::read(dir.path().join("keep")).unwrap(), b"original");
    assert_eq!(dir.names(), vec!["keep"], "no partial or temporary file");
}

#[test]
fn a_stalled_upload_is_dropped_and_cleaned() {
    let mut cfg = config(None);
    let dir = Scratch::new("stall");
    cfg.root = Some(dir.path().to_path_buf());
    cfg.body_timeout = Duration::from_millis(300);
    let server = start(cfg.validate().unwrap());
    let mut s = connect(server.local_addr());
    s.write_all(b"POST /files/slow HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let (raw, closed) = read_all(&mut s);
    assert!(closed);
    assert_eq!(parse_replies(&raw, &[])[0].status, 408);
    assert!(dir.names().is_empty(), "{:?}", dir.names());
}

#[test]
fn an_oversized_upload_is_refused_and_leaves_nothing() {
    let mut cfg = config(None);
    let dir = Scratch::new("big");
    cfg.root = Some(dir.path().to_path_buf());
    cfg.max_body_bytes = 1000;
    let server = start(cfg.validate().unwrap());
    std::fs::write(dir.path().join("target"), b"old").unwrap();
    let (reply, closed) = one(
        server.local_addr(),
        b"POST /files/target HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n",
    );
    assert_eq!((reply.status, closed), (413, true));
    let mut chunked =
        b"POST /files/target HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(format!("200\r\n{}\r\n", "y".repeat(512)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (replies, closed) = exchange(server.local_addr(), &chunked);
    assert_eq!((replies[0].status, closed), (413, true));
    assert_eq!(std::fs::read(dir.path().join("target")).unwrap(), b"old");
    assert_eq!(dir.names(), vec!["target"]);
}

#[test]
fn a_chunked_upload_lands_whole() {
    let (server, dir) = start_with_root();
    let (reply, _) = one(
        server.local_addr(),
        b"POST /files/c.bin HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;e=1\r\nefg\r\n0\r\n\r\n",
    );
    assert_eq!(reply.status, 201);
    assert_eq!(std::fs::read(dir.path().join("c.bin")).unwrap(), b"abcdefg");
}

#[test]
fn concurrent_uploads_to_one_name_never_interleave() {
    let (server, dir) = start_with_root();
    let addr = server.local_addr();
    let size = 256 * 1024;
    let threads: Vec<_> = (0..6u8)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                write!(
                    s,
                    "POST /files/shared HTTP/1.1\r\nHost: a\r\nContent-Length: {size}\r\n\r\n"
                )
                .unwrap();
                let body = vec![b'a' + i; size];
                for piece in body.chunks(16 * 1024) {
                    s.write_all(piece).unwrap();
                }
                let r = read_replies(&mut s, 1, &[]);
                assert_eq!(r[0].status, 201);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let content = std::fs::read(dir.path().join("shared")).unwrap();
    assert_eq!(content.len(), size);
    assert!(
        content.iter().all(|&b| b == content[0]),
        "one upload, whole"
    );
    assert_eq!(dir.names(), vec!["shared"]);
}

#[test]
fn a_missing_parent_directory_is_409() {
    let (server, dir) = start_with_root();
    let (reply, _) = one(
        server.local_addr(),
        b"POST /files/no/such/dir/f HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(reply.status, 409);
    assert!(dir.names().is_empty());
}

#[test]
fn a_name_longer_than_the_file_system_allows_is_400_before_the_body() {
    let (server, dir) = start_with_root();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    for (target, status) in [
        (format!("/files/{}", "n".repeat(255)), 201),
        (format!("/files/d/{}", "n".repeat(255)), 201),
        (format!("/files/{}", "n".repeat(256)), 400),
        (format!("/files/d/{}", "n".repeat(300)), 400),
        (format!("/files/{}/f", "n".repeat(256)), 400),
    ] {
        let mut s = connect(server.local_addr());
        if status == 201 {
            let request =
                format!("POST {target} HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\ndata");
            s.write_all(request.as_bytes()).unwrap();
        } else {
            // The body waits for a 100 (Continue): only a refusal made
            // before asking for it answers, and with no 100.
            let request = format!(
                "POST {target} HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
            );
            s.write_all(request.as_bytes()).unwrap();
        }
        let reply = read_replies(&mut s, 1, &[false]).remove(0);
        assert_eq!(reply.status, status, "{}: {}", target.len(), reply.text());
        if status == 400 {
            assert!(
                reply.text().contains("longer than 255 bytes"),
                "{}",
                reply.text()
            );
        }
    }
    assert_eq!(dir.names(), ["d".to_string(), "n".repeat(255)]);
    assert_eq!(std::fs::read_dir(dir.path().join("d")).unwrap().count(), 1);
}

#[test]
fn special_files_are_not_opened() {
    let (server, dir) = start_with_root();
    let fifo = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let (reply, _) = one(
        server.local_addr(),
        b"GET /files/fifo HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.status, 403, "a FIFO would block the worker");
    let (reply, _) = one(
        server.local_addr(),
        b"GET /echo/alive HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(reply.text(), "alive");
}

#[test]
fn awkward_names_round_trip() {
    let (server, dir) = start_with_root();
    let names = [
        "with space",
        "per%cent",
        "hash#tag",
        "question?",
        "caf\u{e9}",
        ".hidden",
        "x".repeat(200).leak(),
    ];
    for name in names {
        let encoded: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let post =
            format!("POST /files/{encoded} HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\ndata");
        assert_eq!(
            one(server.local_addr(), post.as_bytes()).0.status,
            201,
            "{name}"
        );
        assert_eq!(
            std::fs::read(dir.path().join(name)).unwrap(),
            b"data",
            "{name}"
        );
        let get = format!("GET /files/{encoded} HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            one(server.local_addr(), get.as_bytes()).0.body,
            b"data",
            "{name}"
        );
    }
}

#[test]
fn stale_temporary_files_are_cleaned_at_start() {
    let dir = Scratch::new("stale");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join(".barehttp-upload-1-2-3"), b"partial").unwrap();
    std::fs::write(dir.path().join("sub/.barehttp-upload-9"), b"partial").unwrap();
    std::fs::write(dir.path().join("real"), b"keep").unwrap();
    assert_eq!(barehttp::files::clean_stale_uploads(dir.path()), 2);
    assert_eq!(dir.names(), vec!["real", "sub"]);
    assert!(
        std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .next()
            .is_none()
    );
}

/// A small file is kept in memory and one look at the disk serves every
/// request read before it; an upload or a delete made by the server
/// itself must still show to the requests pipelined behind it.
#[test]
fn requests_pipelined_behind_an_upload_or_a_delete_see_it() {
    let dir = Scratch::new("pipelined-change");
    let mut cfg = config(Some(dir.path()));
    cfg.threads = 1;
    let server = start(cfg.validate().unwrap());
    std::fs::write(dir.path().join("p.txt"), b"OLD-CONTENT\n").unwrap();
    // Files changed in the last two seconds are not kept.
    std::thread::sleep(Duration::from_millis(2100));
    let get = b"GET /files/p.txt HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut s = connect(server.local_addr());
    for _ in 0..2 {
        s.write_all(get).unwrap();
        let r = read_replies(&mut s, 1, &[false]).pop().unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"OLD-CONTENT\n"[..]));
    }
    let mut batch = get.to_vec();
    batch.extend_from_slice(
        b"PUT /files/p.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\nNEW-CONTENT\n",
    );
    batch.extend_from_slice(get);
    batch.extend_from_slice(b"DELETE /files/p.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    batch.extend_from_slice(get);
    s.write_all(&batch).unwrap();
    let replies = read_replies(&mut s, 5, &[false; 5]);
    let got: Vec<(u16, &[u8])> = replies.iter().map(|r| (r.status, &r.body[..])).collect();
    assert_eq!(got[0], (200, &b"OLD-CONTENT\n"[..]));
    assert_eq!(got[1].0, 204);
    assert_eq!(
        got[2],
        (200, &b"NEW-CONTENT\n"[..]),
        "the GET after the PUT"
    );
    assert_eq!(got[3].0, 204);
    assert_eq!(got[4].0, 404, "the GET after the DELETE");
}

/// `x/` names a directory: a file `x` is not found there, and above all a
/// `DELETE` of `x/` leaves it alone. A `PUT` with `Content-Range` would
/// replace the whole file with the part, so it is refused.
#[test]
fn a_file_is_not_its_name_with_a_slash_and_uploads_are_never_partial() {
    let (server, dir) = start_with_root();
    let addr = server.local_addr();
    std::fs::write(dir.path().join("f.txt"), b"0123456789").unwrap();
    for request in [
        "GET /files/f.txt/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /files/f.txt/. HTTP/1.1\r\nHost: a\r\n\r\n",
        "HEAD /files/f.txt/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "DELETE /files/f.txt/ HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        let (r, _) = one(addr, request.as_bytes());
        assert_eq!(r.status, 404, "{request:?}");
    }
    let (r, _) = one(
        addr,
        b"PUT /files/f.txt HTTP/1.1\r\nHost: a\r\nContent-Range: bytes 0-2/10\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Content-Range"), "{}", r.text());
    assert_eq!(
        std::fs::read(dir.path().join("f.txt")).unwrap(),
        b"0123456789"
    );
    // The plain forms still work.
    let (r, _) = one(addr, b"GET /files/f.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!((r.status, &r.body[..]), (200, &b"0123456789"[..]));
    let (r, _) = one(addr, b"DELETE /files/f.txt HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(dir.names(), Vec::<String>::new());
}

/// A path the file system cannot hold is refused before `--mkdir` makes
/// any directory of it.
#[test]
fn a_path_longer_than_the_file_system_allows_makes_no_directory() {
    let dir = Scratch::new("long-path");
    let mut cfg = config(Some(dir.path()));
    cfg.mkdir = true;
    let server = start(cfg);
    let long = format!("{}/f", vec!["d".repeat(200); 25].join("/"));
    let request = format!("PUT /files/{long} HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\ndata");
    let (reply, _) = one(server.local_addr(), request.as_bytes());
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.text().contains("longer than 4095"),
        "{}",
        reply.text()
    );
    assert!(dir.names().is_empty(), "made {:?}", dir.names());
    // A deep path that fits is made.
    let fits = format!("{}/f", vec!["d".repeat(200); 5].join("/"));
    let request = format!("PUT /files/{fits} HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\ndata");
    assert_eq!(one(server.local_addr(), request.as_bytes()).0.status, 201);
    assert_eq!(std::fs::read(dir.path().join(&fits)).unwrap(), b"data");
}
