//! A may_minihttp server with the routes barehttp's benchmark uses, as a peer
//! to compare against. One may worker thread (`may::config().set_workers(1)`),
//! like `barehttp --threads 1`; run.sh pins the process to one core.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | 200, empty |
//! | `GET /echo/{text}` | 200 `text/plain`, the text |
//! | `GET /files/{path}` | the file under `--directory`, read into memory on every request |
//!
//! What may_minihttp does not do, and this peer does not add: compression
//! (it answers `Accept-Encoding: gzip` uncompressed), `Connection: close`
//! (the connection stays open), `sendfile`.
//!
//! Usage: `may-minihttp-peer [--host H] [-p|--port P] [-d|--directory DIR]`

use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::sync::Arc;

use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};

#[path = "../../common.rs"]
mod common;

use common::{content_type_line, parse_args, safe_relative};

struct Factory {
    root: Arc<Option<PathBuf>>,
}

struct Peer {
    root: Arc<Option<PathBuf>>,
}

impl HttpServiceFactory for Factory {
    type Service = Peer;

    fn new_service(&self, id: usize) -> Peer {
        // may_minihttp passes the connection's descriptor as the id (on
        // unix) and leaves Nagle on; turn it off as the other peers do.
        // ManuallyDrop: the descriptor stays owned by may_minihttp.
        let stream = ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(id as i32) });
        let _ = stream.set_nodelay(true);
        Peer {
            root: self.root.clone(),
        }
    }
}

impl HttpService for Peer {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        if req.method() != "GET" && req.method() != "HEAD" {
            rsp.status_code(405, "Method Not Allowed");
            return Ok(());
        }
        let path = req.path();
        if path == "/" {
            return Ok(());
        }
        if let Some(text) = path.strip_prefix("/echo/") {
            rsp.header("Content-Type: text/plain");
            rsp.body_mut().extend_from_slice(text.as_bytes());
            return Ok(());
        }
        if let Some(rel) = path.strip_prefix("/files/") {
            let root = match self.root.as_ref() {
                Some(root) if safe_relative(rel) => root,
                _ => {
                    rsp.status_code(404, "Not Found");
                    return Ok(());
                }
            };
            match std::fs::read(root.join(rel)) {
                Ok(data) => {
                    rsp.header(content_type_line(rel));
                    rsp.body_vec(data);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    rsp.status_code(404, "Not Found");
                }
                Err(_) => {
                    rsp.status_code(403, "Forbidden");
                }
            }
            return Ok(());
        }
        rsp.status_code(404, "Not Found");
        Ok(())
    }
}

fn main() {
    let args = match parse_args("may-minihttp-peer") {
        Ok(a) => a,
        Err(e) => {
            eprintln!("may-minihttp-peer: {e}");
            std::process::exit(2);
        }
    };
    // One worker, and no pinning of its own: run.sh's taskset decides the core.
    may::config().set_workers(1);
    may::config().set_worker_pin(false);
    let addr = format!("{}:{}", args.host, args.port);
    let factory = Factory {
        root: Arc::new(args.directory),
    };
    let server = match factory.start(addr.as_str()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("may-minihttp-peer: {addr}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("may-minihttp-peer listening on http://{addr}");
    let _ = server.join();
}
