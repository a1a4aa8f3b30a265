//! The built-in routes of the `barehttp` tool, written on the public
//! [`Router`] like any embedding program would:
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | 200, empty |
//! | `POST /` | 200, the request body echoed |
//! | `GET /echo/{text}` | 200 `text/plain`, the text (gzip when accepted) |
//! | `GET /user-agent` | 200 `text/plain`, the `User-Agent` value |
//! | any method `/inspect` | 200 `text/plain`, the request's bytes as received |
//! | `GET /files/{path}` | the file (ranges, validators, codings), or a directory listing |
//! | `POST`/`PUT /files/{path}` | the body stored there: 201 (PUT: 204 when replaced) |
//! | `DELETE /files/{path}` | 204 |
//!
//! The fixed routes are registered first, so they keep priority when the
//! files are mounted at `/`.

use std::io;
use std::sync::Arc;

use crate::coding::compressed;
use crate::config::Config;
use crate::error::ProtoError;
use crate::files::{FileOptions, FileRoot, FileService, Kept};
use crate::request::Request;
use crate::response::Response;
use crate::router::{Handler, Reply, Router, sync};

/// The tool's router for `config`.
pub fn router(config: &Config) -> io::Result<Router> {
    let echo_limit = config.max_buffered_body_bytes;
    let mut router = Router::new()
        .get("/", sync(|_req: Request| Response::ok()))
        .post("/", move |req: Request| echo_body(req, echo_limit))
        .get("/echo/{*text}", compressed(sync(echo)))
        .get("/user-agent", sync(user_agent))
        .any("/inspect", move |req: Request| inspect(req, echo_limit));
    if let Some(root) = &config.root {
        let options = FileOptions {
            listing: config.listing,
            mkdir: config.mkdir,
            cache_bytes: config.compress_cache_bytes / config.threads.max(1),
            file_cache_bytes: config.file_cache_bytes / config.threads.max(1),
        };
        let files = Arc::new(FileService::new(FileRoot::open(root)?, options));
        router = mount_files(router, &config.files_at, files, config.read_only);
    }
    Ok(router)
}

/// Adds the file routes under `mount` (`""` for the root).
fn mount_files(
    mut router: Router,
    mount: &str,
    files: Arc<FileService>,
    read_only: bool,
) -> Router {
    let pattern = format!("{mount}/{{*path}}");
    if !mount.is_empty() {
        let to = format!("{mount}/");
        router = router.get(mount, move |_req: Request| {
            let to = to.clone();
            async move {
                Response::error(301, "moved to the directory's own URL").header("Location", to)
            }
        });
    }
    router = router.get(&pattern, GetFiles(files.clone()));
    if read_only {
        return router;
    }
    let (post, put, delete) = (files.clone(), files.clone(), files);
    router
        .post(&pattern, move |req: Request| {
            let files = post.clone();
            async move { files.store(req).await }
        })
        .put(&pattern, move |req: Request| {
            let files = put.clone();
            async move { files.store(req).await }
        })
        .delete(&pattern, move |req: Request| {
            let files = delete.clone();
            async move { files.delete(&req) }
        })
}

/// GET and HEAD of files: a small file kept in memory is answered at once,
/// anything else through a future (which may first yield: see
/// [`Kept::Wait`]).
struct GetFiles(Arc<FileService>);

impl Handler for GetFiles {
    fn call(&self, req: Request) -> Reply {
        let waits = match self.0.kept_file(&req, true) {
            Kept::Answer(response) => return Reply::Ready(response),
            Kept::Wait => true,
            Kept::Absent => false,
        };
        let files = self.0.clone();
        Reply::Pending(Box::pin(async move {
            if waits {
                files.get_after_yield(&req).await
            } else {
                files.get_from_disk(&req).await
            }
        }))
    }
}

fn echo(req: Request) -> Response {
    Response::text(req.param_bytes("text").unwrap_or_default())
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

/// Any method: the request's bytes exactly as received, head and body,
/// chunk framing included.
async fn inspect(mut req: Request, limit: usize) -> Response {
    let mut bytes = bytes::BytesMut::from(&req.head().bytes[..]);
    loop {
        match req.body_mut().raw_chunk().await {
            Ok(Some(piece)) if bytes.len() + piece.len() <= limit => {
                bytes.extend_from_slice(&piece)
            }
            Ok(Some(_)) => {
                // Refused like any body over a limit: the connection closes.
                let e = req.body_mut().refuse(ProtoError::BodyTooLargeToBuffer);
                return Response::error(
                    e.status(),
                    "request too large to inspect (--max-buffered-body-bytes)",
                );
            }
            Ok(None) => break,
            Err(e) => return Response::error(e.status(), e.reason()),
        }
    }
    Response::bytes("text/plain", bytes.freeze())
}

fn user_agent(req: Request) -> Response {
    let mut values = req.header_values("user-agent");
    match (values.next(), values.next()) {
        (Some(ua), None) => Response::bytes("text/plain", bytes::Bytes::copy_from_slice(ua)),
        (Some(_), Some(_)) => Response::error(400, "more than one User-Agent field"),
        (None, _) => Response::error(400, "the request has no User-Agent field"),
    }
}
