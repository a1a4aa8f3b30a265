//! A hyper 1.x server with the routes barehttp's benchmark uses, as a peer
//! to compare against. One current-thread tokio runtime, like
//! `barehttp --threads 1`.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | 200, empty |
//! | `GET /echo/{text}` | 200 `text/plain`, the text (gzip level 1 when accepted) |
//! | `GET /files/{path}` | the file under `--directory`; `text/*` files gzip level 1 when accepted |
//!
//! Usage: `hyper-peer [--host H] [-p|--port P] [-d|--directory DIR]`

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[path = "../../common.rs"]
mod common;

use common::{content_type, parse_args, safe_relative};

fn main() {
    let args = match parse_args("hyper-peer") {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hyper-peer: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(serve(args)) {
        eprintln!("hyper-peer: {e}");
        std::process::exit(1);
    }
}

async fn serve(args: common::Args) -> std::io::Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(addr).await?;
    let root = Arc::new(args.directory);
    eprintln!("hyper-peer listening on http://{}", listener.local_addr()?);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                eprintln!("hyper-peer: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let root = root.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let root = root.clone();
                async move { Ok::<_, Infallible>(handle(req, root.as_ref().as_deref()).await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Resp = Response<Full<Bytes>>;

fn status(code: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

async fn handle(req: Request<Incoming>, root: Option<&Path>) -> Resp {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let path = req.uri().path();
    if path == "/" {
        return status(StatusCode::OK);
    }
    let gzip = accepts_gzip(req.headers());
    if let Some(text) = path.strip_prefix("/echo/") {
        return body("text/plain", Bytes::copy_from_slice(text.as_bytes()), gzip);
    }
    if let Some(rel) = path.strip_prefix("/files/") {
        let Some(root) = root else {
            return status(StatusCode::NOT_FOUND);
        };
        if !safe_relative(rel) {
            return status(StatusCode::NOT_FOUND);
        }
        return match tokio::fs::read(root.join(rel)).await {
            Ok(data) => {
                let ct = content_type(rel);
                body(ct, Bytes::from(data), gzip && ct.starts_with("text/"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => status(StatusCode::NOT_FOUND),
            Err(_) => status(StatusCode::FORBIDDEN),
        };
    }
    status(StatusCode::NOT_FOUND)
}

fn body(content_type: &'static str, data: Bytes, gzip: bool) -> Resp {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let data = if gzip {
        let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), Compression::new(1));
        enc.write_all(&data).expect("write to Vec");
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        Bytes::from(enc.finish().expect("write to Vec"))
    } else {
        data
    };
    let mut r = Response::new(Full::new(data));
    *r.headers_mut() = headers;
    r
}

/// `gzip` (or `x-gzip`) listed in any `Accept-Encoding` with q > 0.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            if !(name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")) {
                return false;
            }
            parts.all(|p| {
                let p = p.trim();
                match p.split_once('=') {
                    Some((k, v)) if k.trim().eq_ignore_ascii_case("q") => {
                        v.trim().parse::<f32>().is_ok_and(|q| q > 0.0)
                    }
                    _ => true,
                }
            })
        })
}
