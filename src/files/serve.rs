//! The file routes as stages in a line: resolve → (directory: redirect,
//! index or listing) → choose the representation → preconditions → range →
//! respond. Uploads and deletes check their preconditions, then act.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use rustix::fs::FileType;

use super::conditional::{self, Conditions, Outcome, Validators};
use super::hot::{self, Hot, Lookup};
use super::listing::{self, Order};
use super::range::{self, Ranges};
use super::{FileError, FileRoot, TEMP_PREFIX, UploadOptions, cache, mime, validators_of};
use crate::coding::{self, Choice, Coding};
use crate::proto::head::Method;
use crate::proto::token::{list_items, trim_ows};
use crate::request::Request;
use crate::response::{Payload, Response};

/// Files smaller than this are sent as they are: compression would gain
/// too little to pay for itself.
pub const COMPRESS_MIN_BYTES: u64 = 1024;

/// Files larger than this are compressed only from a precompressed sibling,
/// never on the fly (that would hold the whole file in memory).
pub const COMPRESS_MAX_BYTES: u64 = 16 << 20;

/// How the file routes behave.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FileOptions {
    /// Show a listing for directories without `index.html`.
    pub listing: bool,
    /// Create missing parent directories on upload.
    pub mkdir: bool,
    /// Bytes of compressed representations cached per worker thread.
    pub cache_bytes: usize,
    /// Bytes of small files kept in memory per worker thread (0: none).
    pub file_cache_bytes: usize,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            listing: true,
            mkdir: false,
            cache_bytes: 64 << 20,
            file_cache_bytes: 8 << 20,
        }
    }
}

/// Serves and stores files under a root.
#[derive(Debug)]
pub struct FileService {
    root: FileRoot,
    options: FileOptions,
    /// Names this service's entries in the per-worker small-file cache.
    id: u64,
}

fn conditions(req: &Request) -> Conditions<'_> {
    // Each name spelled out, so that its place in the field index is
    // found at compile time.
    Conditions {
        if_match: req.header_values("if-match").next(),
        if_none_match: req.header_values("if-none-match").next(),
        if_modified_since: req.header_values("if-modified-since").next(),
        if_unmodified_since: req.header_values("if-unmodified-since").next(),
    }
}

/// The longest file name (one path segment) that Linux file systems
/// accept (`NAME_MAX`).
const MAX_NAME_BYTES: usize = 255;

/// The longest path below the root that Linux accepts (`PATH_MAX`, 4096
/// bytes with the NUL that ends it).
const MAX_PATH_BYTES: usize = 4095;

/// The path parameter of a file route: the path below the mount.
fn rel_path(req: &Request) -> &str {
    req.param("path").unwrap_or_default()
}

fn is_temp(rel: &str) -> bool {
    rel.starts_with(TEMP_PREFIX)
        || memchr::memchr_iter(b'/', rel.as_bytes())
            .any(|at| rel[at + 1..].starts_with(TEMP_PREFIX))
}

/// What the kept copies can do for a GET or HEAD.
pub(crate) enum Kept {
    Answer(Response),
    /// Yield once, then look again.
    Wait,
    Absent,
}

/// What will be sent for a GET: the coding and where its bytes come from.
enum Source {
    Identity,
    Sibling(File, u64, Validators),
    Compressed,
}

impl FileService {
    /// A service over `root`.
    pub fn new(root: FileRoot, options: FileOptions) -> FileService {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        FileService {
            root,
            options,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// GET and HEAD answered without waiting, when that can be done: a small
    /// file kept in memory. `None` means [`FileService::get_from_disk`] is
    /// needed.
    pub fn get_kept(&self, req: &Request) -> Option<Response> {
        match self.kept_file(req, false) {
            Kept::Answer(response) => Some(response),
            Kept::Wait | Kept::Absent => None,
        }
    }

    /// What the kept copies can do for a GET or HEAD: answer it, answer it
    /// after the caller yields once (see [`hot::Lookup::Wait`]), or
    /// nothing.
    pub(crate) fn kept_file(&self, req: &Request, may_wait: bool) -> Kept {
        let rel = rel_path(req);
        if is_temp(rel) || req.header_values("range").next().is_some() {
            return Kept::Absent;
        }
        // A compressible file is kept as it is: of no use to a client
        // that takes it compressed.
        let takes_as_is = || {
            let choice = coding::choose(req.header_values("accept-encoding"), Coding::available());
            matches!(choice, Choice::Use(Coding::Identity))
        };
        match hot::lookup(
            self.id,
            &self.root.dir,
            rel,
            req.arrived(),
            may_wait,
            takes_as_is,
        ) {
            Lookup::Hit(hot) => Kept::Answer(serve_hot(req, &hot)),
            Lookup::Wait => Kept::Wait,
            Lookup::Miss => Kept::Absent,
        }
    }

    /// GET and HEAD.
    pub async fn get(&self, req: &Request) -> Response {
        match self.kept_file(req, true) {
            Kept::Answer(response) => response,
            Kept::Wait => self.get_after_yield(req).await,
            Kept::Absent => self.get_from_disk(req).await,
        }
    }

    /// GET and HEAD after [`FileService::kept_file`] asked to wait: yields
    /// to the connections that are ready, then answers from the kept copy
    /// (checked by now, or checked here) or from the disk.
    pub(crate) async fn get_after_yield(&self, req: &Request) -> Response {
        let mut yielded = false;
        // Not `tokio::task::yield_now`: that one waits for the next poll of
        // the sockets, which costs a system call per round. Woken at once,
        // the task goes behind the tasks already woken, which are the
        // connections whose requests have arrived.
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                return std::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .await;
        match self.get_kept(req) {
            Some(response) => response,
            None => self.get_from_disk(req).await,
        }
    }

    /// GET and HEAD from the disk, after [`FileService::get_kept`] had
    /// nothing: the kept copies are not looked up again.
    pub async fn get_from_disk(&self, req: &Request) -> Response {
        let rel = rel_path(req);
        if is_temp(rel) {
            return FileError::NotFound.into();
        }
        let (fd, stat) = match self.root.open_any(rel) {
            Ok(opened) => opened,
            Err(e) => return e.into(),
        };
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => self.file(req, rel, File::from(fd), &stat).await,
            FileType::Directory => self.directory(req, rel, fd).await,
            _ => FileError::Forbidden.into(),
        }
    }

    async fn file(
        &self,
        req: &Request,
        rel: &str,
        file: File,
        stat: &rustix::fs::Stat,
    ) -> Response {
        let len = stat.st_size as u64;
        let validators = validators_of(stat);
        let content_type = mime::content_type(rel);
        let compressible = mime::compressible(&content_type) && len >= COMPRESS_MIN_BYTES;
        let range = (*req.method() == Method::Get)
            .then(|| req.header_values("range").next())
            .flatten();

        // Choose the representation. A range request is served from the
        // identity representation, to which the ranges refer.
        let mut coding = Coding::Identity;
        if compressible && range.is_none() {
            match coding::choose(req.header_values("accept-encoding"), Coding::available()) {
                Choice::Use(c) => coding = c,
                Choice::NotAcceptable => {
                    return Response::error(406, "no acceptable content coding")
                        .header("Vary", "Accept-Encoding");
                }
            }
        }
        let source = match coding {
            Coding::Identity => Source::Identity,
            c => match self.sibling(rel, c, &validators) {
                Some((f, n, v)) => Source::Sibling(f, n, v),
                None if len <= COMPRESS_MAX_BYTES => Source::Compressed,
                None => {
                    coding = Coding::Identity;
                    Source::Identity
                }
            },
        };
        let token = (coding != Coding::Identity).then(|| coding.token());
        let etag = match &source {
            Source::Sibling(_, _, v) => v.etag(token),
            _ => validators.etag(token),
        };
        let mut base = Response::ok()
            .header("ETag", etag.clone())
            .header("Last-Modified", validators.last_modified())
            .header("Accept-Ranges", "bytes");
        if compressible {
            base = base.header("Vary", "Accept-Encoding");
        }

        match conditional::evaluate(&conditions(req), Some((&validators, &etag)), true) {
            Outcome::NotModified => return base.with_status(304),
            Outcome::Failed => return precondition_failed(base),
            Outcome::Proceed => {}
        }
        if let Some(value) = range {
            let applies = req
                .header_values("if-range")
                .next()
                .is_none_or(|v| conditional::if_range_holds(v, &validators, &etag));
            if applies {
                match range::parse(value, len) {
                    Ranges::Whole => {}
                    Ranges::Unsatisfiable => {
                        return Response::error(416, "range not satisfiable")
                            .header("Content-Range", format!("bytes */{len}"))
                            .header("Accept-Ranges", "bytes");
                    }
                    Ranges::Parts(parts) => return partial(base, file, &content_type, &parts, len),
                }
            }
        }
        let budget = self.options.file_cache_bytes;
        if matches!(source, Source::Identity) && budget > 0 && hot::worth_keeping(stat) {
            if let Some(content) = read_whole(&file, len) {
                let meta = hot::Meta {
                    etag_field: Bytes::from(etag.clone()),
                    etag,
                    last_modified: Bytes::from(validators.last_modified()),
                    content_type: Bytes::from(content_type),
                    validators,
                    compressible,
                };
                let kept = Hot {
                    content,
                    meta: Rc::new(meta),
                };
                hot::keep(self.id, rel, stat, kept.clone(), budget);
                return serve_hot(req, &kept);
            }
        }
        let base = base.header("Content-Type", content_type);
        match source {
            Source::Identity => base.with_payload(Payload::File {
                file,
                offset: 0,
                len,
            }),
            Source::Sibling(sibling, n, _) => base
                .header("Content-Encoding", coding.token())
                .with_payload(Payload::File {
                    file: sibling,
                    offset: 0,
                    len: n,
                }),
            Source::Compressed => match self.compressed(file, &validators, coding).await {
                Ok(bytes) => base
                    .header("Content-Encoding", coding.token())
                    .with_payload(Payload::Bytes(bytes)),
                Err(e) => FileError::Io(e).into(),
            },
        }
    }

    /// A precompressed sibling (`x.js.br` beside `x.js`) that is a regular
    /// file not older than the original.
    fn sibling(
        &self,
        rel: &str,
        coding: Coding,
        original: &Validators,
    ) -> Option<(File, u64, Validators)> {
        let (fd, stat) = self
            .root
            .open_any(&format!("{rel}{}", coding.extension()))
            .ok()?;
        let validators = validators_of(&stat);
        let fresh = FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
            && validators.modified >= original.modified;
        fresh.then(|| (File::from(fd), stat.st_size as u64, validators))
    }

    /// The file compressed with `coding`, from this worker's cache or
    /// compressed now (off the event loop) and cached.
    async fn compressed(
        &self,
        file: File,
        validators: &Validators,
        coding: Coding,
    ) -> std::io::Result<Bytes> {
        if let Some(hit) = cache::get(&validators.tag, coding) {
            return Ok(hit);
        }
        let packed = tokio::task::spawn_blocking(move || -> std::io::Result<Bytes> {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut data)?;
            Ok(coding::compress(coding, &data))
        })
        .await
        .map_err(std::io::Error::other)??;
        cache::put(
            &validators.tag,
            coding,
            packed.clone(),
            self.options.cache_bytes,
        );
        Ok(packed)
    }

    async fn directory(&self, req: &Request, rel: &str, fd: OwnedFd) -> Response {
        if !req.path().ends_with('/') {
            let mut location: String = req
                .path()
                .split('/')
                .map(listing::encode_segment)
                .collect::<Vec<_>>()
                .join("/");
            location.push('/');
            if let Some(q) = req.query() {
                location.push('?');
                location.push_str(q);
            }
            return Response::error(301, "moved to the directory's own URL")
                .header("Location", location);
        }
        let index = format!(
            "{}index.html",
            if rel.is_empty() || rel.ends_with('/') {
                rel.to_string()
            } else {
                format!("{rel}/")
            }
        );
        if let Ok((index_fd, stat)) = self.root.open_any(&index) {
            if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile {
                return Box::pin(self.file(req, &index, File::from(index_fd), &stat)).await;
            }
        }
        if !self.options.listing {
            return FileError::NotFound.into();
        }
        let mut entries = match listing::read_entries(fd) {
            Ok(entries) => entries,
            Err(e) => return FileError::Io(e).into(),
        };
        Order::from_query(req.query()).sort(&mut entries);
        if wants_json(req) {
            Response::bytes("application/json", listing::json(&entries))
        } else {
            Response::bytes(
                "text/html; charset=utf-8",
                listing::html(req.path(), &entries),
            )
        }
        .header("Vary", "Accept")
    }

    /// POST (always 201, as the exercise expects) and PUT (201 created,
    /// 204 replaced), both with `Location`.
    pub async fn store(&self, mut req: Request) -> Response {
        let rel = rel_path(&req).to_string();
        if rel.is_empty() || rel.ends_with('/') {
            return FileError::Conflict("a file name is needed").into();
        }
        if is_temp(&rel) {
            return FileError::Forbidden.into();
        }
        // A partial PUT would replace the whole file with the part (RFC
        // 9110 §14.5: answer 400 when partial PUT is not supported).
        if req.header_values("content-range").next().is_some() {
            return Response::error(
                400,
                "Content-Range on an upload: partial uploads are not supported",
            );
        }
        // Refused before the body is received: the file system could
        // never hold the name, and the rename at the end would fail.
        if rel.split('/').any(|name| name.len() > MAX_NAME_BYTES) {
            return Response::error(400, "a file or directory name is longer than 255 bytes");
        }
        // Checked before `--mkdir` makes any directory of it.
        if rel.len() > MAX_PATH_BYTES {
            return Response::error(400, "the path is longer than 4095 bytes");
        }
        let current = self.root.validators(&rel);
        let etag = current.as_ref().map(|v| v.etag(None));
        let holds = conditional::evaluate(
            &conditions(&req),
            current.as_ref().zip(etag.as_deref()),
            false,
        );
        if holds != Outcome::Proceed {
            return precondition_failed(Response::ok());
        }
        let create_only = req
            .header_values("if-none-match")
            .any(|v| trim_ows(v) == b"*");
        let location = req.target().split('?').next().unwrap_or("/").to_string();
        let post = *req.method() == Method::Post;
        let mut body = req.take_body();
        let options = UploadOptions {
            mkdir: self.options.mkdir,
            create_only,
        };
        match self.root.upload(&rel, &mut body, options).await {
            Ok(created) => {
                let status = if created || post { 201 } else { 204 };
                Response::new(status).header("Location", location)
            }
            Err(FileError::PreconditionFailed) => precondition_failed(Response::ok()),
            Err(e) => e.into(),
        }
    }

    /// DELETE: 204, after `If-Match` / `If-Unmodified-Since` hold.
    pub fn delete(&self, req: &Request) -> Response {
        let rel = rel_path(req);
        if rel.is_empty() || is_temp(rel) {
            return FileError::NotFound.into();
        }
        let current = self.root.validators(rel);
        let etag = current.as_ref().map(|v| v.etag(None));
        if conditional::evaluate(
            &conditions(req),
            current.as_ref().zip(etag.as_deref()),
            false,
        ) != Outcome::Proceed
        {
            return precondition_failed(Response::ok());
        }
        match self.root.delete(rel) {
            Ok(()) => Response::new(204),
            Err(e) => e.into(),
        }
    }
}

/// The whole of a small file, read now; `None` if it changed length.
fn read_whole(file: &File, len: u64) -> Option<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut content = vec![0; usize::try_from(len).ok()?];
    file.read_exact_at(&mut content, 0).ok()?;
    Some(Bytes::from(content))
}

/// The answer to a GET or HEAD of a kept file, preconditions included.
fn serve_hot(req: &Request, hot: &Hot) -> Response {
    let meta = &*hot.meta;
    let mut base = Response::ok();
    base.push_field("ETag", meta.etag_field.clone());
    base.push_field("Last-Modified", meta.last_modified.clone());
    base.push_field("Accept-Ranges", Bytes::from_static(b"bytes"));
    if meta.compressible {
        base.push_field("Vary", Bytes::from_static(b"Accept-Encoding"));
    }
    match conditional::evaluate(&conditions(req), Some((&meta.validators, &meta.etag)), true) {
        Outcome::NotModified => base.with_status(304),
        Outcome::Failed => precondition_failed(base),
        Outcome::Proceed => {
            base.push_field("Content-Type", meta.content_type.clone());
            base.with_payload(Payload::Bytes(hot.content.clone()))
        }
    }
}

fn precondition_failed(base: Response) -> Response {
    let mut response = Response::error(412, "precondition failed");
    for (name, value) in base.fields() {
        if name.eq_ignore_ascii_case("etag") || name.eq_ignore_ascii_case("last-modified") {
            response = response.header(name.to_string(), Bytes::copy_from_slice(value));
        }
    }
    response
}

/// A 206 response: one range as it is, several as `multipart/byteranges`.
fn partial(
    base: Response,
    file: File,
    content_type: &str,
    parts: &[(u64, u64)],
    len: u64,
) -> Response {
    let base = base.with_status(206);
    if let [(first, last)] = parts {
        return base
            .header("Content-Type", content_type.to_string())
            .header("Content-Range", range::content_range(*first, *last, len))
            .with_payload(Payload::File {
                file,
                offset: *first,
                len: last - first + 1,
            });
    }
    let boundary = format!(
        "barehttp-{:016x}",
        len ^ (parts.len() as u64) << 32 ^ 0x5eed_b0da
    );
    let (heads, closing) = range::multipart_frames(&boundary, content_type, parts, len);
    let parts = heads
        .into_iter()
        .zip(parts)
        .map(|(head, &(first, last))| (head, first, last - first + 1))
        .collect();
    base.header(
        "Content-Type",
        format!("multipart/byteranges; boundary={boundary}"),
    )
    .with_payload(Payload::Ranges {
        file,
        parts,
        closing,
    })
}

/// True when `Accept` asks for JSON (with a q-value above 0).
fn wants_json(req: &Request) -> bool {
    req.header_values("accept").any(|v| {
        list_items(v).any(|item| {
            let mut params = item.split(|&b| b == b';');
            let media = trim_ows(params.next().unwrap_or_default());
            let refused = params.any(|p| {
                let p = trim_ows(p);
                p.eq_ignore_ascii_case(b"q=0")
                    || p.starts_with(b"q=0.0") && p.iter().skip(4).all(|&b| b == b'0')
            });
            media.eq_ignore_ascii_case(b"application/json") && !refused
        })
    })
}
