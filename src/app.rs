//! The built-in routes of the `barehttp` tool, written on the public
//! [`Router`] like any embedding program would:
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | 200, empty |
//! | `POST /` | 200, the request body echoed |
//! | `GET /echo/{text}` | 200 `text/plain`, the text (gzip when accepted) |
//! | `GET /user-agent` | 200 `text/plain`, the `User-Agent` value |
//! | `GET /files/{path}` | the file, `application/octet-stream` |
//! | `POST /files/{path}` | the body stored there, 201 |

use std::io;
use std::sync::Arc;

use crate::coding::compressed;
use crate::config::Config;
use crate::files::FileRoot;
use crate::request::Request;
use crate::response::Response;
use crate::router::Router;

/// The tool's router for `config`.
pub fn router(config: &Config) -> io::Result<Router> {
    let echo_limit = config.max_buffered_body_bytes;
    let mut router = Router::new()
        .get("/", |_req: Request| async { Response::ok() })
        .post("/", move |req: Request| echo_body(req, echo_limit))
        .get("/echo/{*text}", compressed(echo))
        .get("/user-agent", user_agent);
    if let Some(root) = &config.root {
        let files = Arc::new(FileRoot::open(root)?);
        let (get_root, post_root) = (files.clone(), files);
        router = router
            .get("/files/{*path}", move |req: Request| {
                let files = get_root.clone();
                async move { get_file(&files, &req) }
            })
            .post("/files/{*path}", move |req: Request| {
                let files = post_root.clone();
                async move { post_file(&files, req).await }
            });
    }
    Ok(router)
}

async fn echo(req: Request) -> Response {
    Response::text(req.param("text").unwrap_or_default().to_owned())
}

async fn echo_body(mut req: Request, limit: usize) -> Response {
    let content_type = req
        .header_values("content-type")
        .next()
        .map(bytes::Bytes::copy_from_slice);
    match req.body_mut().read_to_end(limit).await {
        Ok(body) => {
            let response = Response::ok().with_payload(crate::response::Payload::Bytes(body));
            match content_type {
                Some(ct) => response.header("Content-Type", ct),
                None => response.header("Content-Type", "application/octet-stream"),
            }
        }
        Err(e) => Response::error(e.status(), e.reason()),
    }
}

async fn user_agent(req: Request) -> Response {
    let mut values = req.header_values("user-agent");
    match (values.next(), values.next()) {
        (Some(ua), None) => Response::bytes("text/plain", bytes::Bytes::copy_from_slice(ua)),
        (Some(_), Some(_)) => Response::error(400, "more than one User-Agent field"),
        (None, _) => Response::error(400, "the request has no User-Agent field"),
    }
}

fn get_file(files: &FileRoot, req: &Request) -> Response {
    match files.open_file(req.param("path").unwrap_or_default()) {
        Ok((file, len)) => Response::file("application/octet-stream", file, len),
        Err(e) => e.into(),
    }
}

async fn post_file(files: &FileRoot, mut req: Request) -> Response {
    let rel = req.param("path").unwrap_or_default().to_owned();
    let location = req.target().split('?').next().unwrap_or("/").to_owned();
    let mut body = req.take_body();
    match files.upload(&rel, &mut body).await {
        Ok(_) => Response::new(201).header("Location", location),
        Err(e) => e.into(),
    }
}
