//! Files under the root: resolution that cannot leave the root, reading, and
//! uploads that land whole or not at all.
//!
//! Every path is opened with `openat2(RESOLVE_BENEATH)` relative to a handle
//! on the root, so `..`, absolute paths and symlinks that point outside are
//! refused by the kernel itself, with no window between check and use.
//! An upload is written to a temporary file in the target's directory,
//! `fsync`ed and renamed over the target only when complete; a dropped,
//! failed or oversized upload removes its temporary file.

mod cache;
pub mod conditional;
mod hot;
pub mod listing;
pub mod mime;
pub mod range;
mod serve;

pub(crate) use serve::Kept;
pub use serve::{FileOptions, FileService};

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use tokio::io::AsyncWriteExt;

use crate::conn::body::Body;
use crate::error::ProtoError;
use crate::response::Response;
use crate::tick::Tick;

/// Temporary upload files start with this, so they can be recognised,
/// hidden and cleaned up.
pub const TEMP_PREFIX: &str = ".barehttp-upload-";

/// A directory that files are served from and uploaded into.
#[derive(Debug)]
pub struct FileRoot {
    dir: OwnedFd,
    path: PathBuf,
}

/// Why a file operation failed, each with its status.
#[derive(Debug)]
pub enum FileError {
    /// No such file (404).
    NotFound,
    /// Outside the root, not a regular file, or not permitted (403).
    Forbidden,
    /// The parent directory is missing, or the target is a directory (409).
    Conflict(&'static str),
    /// The disk is full (507).
    NoSpace,
    /// A precondition (`If-Match`, `If-None-Match: *`) does not hold (412).
    PreconditionFailed,
    /// The body broke while being received.
    Body(ProtoError),
    /// Anything else (500).
    Io(io::Error),
}

impl From<FileError> for Response {
    fn from(e: FileError) -> Response {
        match e {
            FileError::NotFound => Response::error(404, "file not found"),
            FileError::Forbidden => Response::error(403, "forbidden"),
            FileError::Conflict(why) => Response::error(409, why),
            FileError::NoSpace => Response::error(507, "not enough space to store the file"),
            FileError::PreconditionFailed => Response::error(412, "precondition failed"),
            FileError::Body(e) => Response::error(e.status(), e.reason()),
            FileError::Io(e) => {
                log::error!("file i/o: {e}");
                Response::error(500, "file operation failed")
            }
        }
    }
}

impl crate::response::IntoResponse for FileError {
    fn into_response(self) -> Response {
        self.into()
    }
}

fn map_errno(e: rustix::io::Errno) -> FileError {
    use rustix::io::Errno;
    match e {
        Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG => FileError::NotFound,
        // EXDEV: the path tried to leave the root; ELOOP: a symlink loop.
        Errno::XDEV | Errno::LOOP | Errno::ACCESS | Errno::PERM | Errno::ROFS => {
            FileError::Forbidden
        }
        Errno::NOSPC | Errno::DQUOT => FileError::NoSpace,
        Errno::ISDIR => FileError::Conflict("a directory has that name"),
        Errno::EXIST => FileError::PreconditionFailed,
        other => FileError::Io(other.into()),
    }
}

/// Splits a relative path from a route into its components; refuses
/// anything that is not a plain name (the router already removed dot
/// segments, this is the second line of defence).
fn components(rel: &str) -> Result<Vec<&str>, FileError> {
    let parts: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    if parts
        .iter()
        .any(|c| *c == "." || *c == ".." || c.contains('\0'))
    {
        return Err(FileError::Forbidden);
    }
    Ok(parts)
}

static UPLOAD_SEQ: AtomicU64 = AtomicU64::new(0);

impl FileRoot {
    /// Opens a handle on the root directory. Fails when the kernel (or a
    /// sandbox's system-call filter) refuses `openat2`, which keeps every
    /// path beneath the root: better than answering every file with 500.
    pub fn open(path: &Path) -> io::Result<FileRoot> {
        let dir = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let probe = rustix::fs::openat2(
            &dir,
            ".",
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH,
        );
        if let Err(e @ (rustix::io::Errno::NOSYS | rustix::io::Errno::PERM)) = probe {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("openat2(2) is not available: {e}; serving files needs Linux 5.6 or later"),
            ));
        }
        Ok(FileRoot {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// The root's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_beneath(&self, rel: &str, flags: OFlags) -> Result<OwnedFd, FileError> {
        let parts = components(rel)?;
        let mut joined = if parts.is_empty() {
            ".".to_string()
        } else {
            parts.join("/")
        };
        // `x/` names a directory: kept, the slash makes the kernel refuse
        // anything else (`ENOTDIR`, which is 404).
        if rel.ends_with('/') && !parts.is_empty() {
            joined.push('/');
        }
        rustix::fs::openat2(
            &self.dir,
            joined.as_str(),
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(map_errno)
    }

    /// Opens whatever `rel` names for reading, with its metadata. Opening
    /// never blocks: FIFOs are opened non-blocking and refused by the caller.
    pub fn open_any(&self, rel: &str) -> Result<(OwnedFd, rustix::fs::Stat), FileError> {
        let fd = self.open_beneath(rel, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let stat = rustix::fs::fstat(&fd).map_err(map_errno)?;
        Ok((fd, stat))
    }

    /// Opens a regular file for reading; returns it with its length.
    /// FIFOs, devices and sockets are refused: opening them could block
    /// the worker or read something that is not a file.
    pub fn open_file(&self, rel: &str) -> Result<(File, u64), FileError> {
        let (fd, stat) = self.open_any(rel)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Ok((File::from(fd), stat.st_size as u64)),
            FileType::Directory => Err(FileError::NotFound),
            _ => Err(FileError::Forbidden),
        }
    }

    /// The validators of the regular file at `rel`, `None` if there is none.
    pub fn validators(&self, rel: &str) -> Option<conditional::Validators> {
        let (_, stat) = self.open_any(rel).ok()?;
        (FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile)
            .then(|| validators_of(&stat))
    }

    /// Opens the parent directory of `rel` for writing entries, creating
    /// missing directories when `mkdir` is set; returns it with the name.
    fn parent_of<'a>(
        &self,
        parts: &[&'a str],
        mkdir: bool,
    ) -> Result<(OwnedFd, &'a str), FileError> {
        let Some((name, parents)) = parts.split_last() else {
            return Err(FileError::Conflict("a file name is needed"));
        };
        if name.starts_with(TEMP_PREFIX) {
            return Err(FileError::Forbidden);
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let missing = |e| match e {
            FileError::NotFound => {
                FileError::Conflict("the parent directory does not exist (see --mkdir)")
            }
            other => other,
        };
        if !mkdir {
            return Ok((
                self.open_beneath(&parents.join("/"), flags)
                    .map_err(missing)?,
                name,
            ));
        }
        let mut dir = self.open_beneath("", flags)?;
        for i in 0..parents.len() {
            let path = parents[..=i].join("/");
            dir = match self.open_beneath(&path, flags) {
                Ok(fd) => fd,
                Err(FileError::NotFound) => {
                    match rustix::fs::mkdirat(&dir, parents[i], Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(map_errno(e)),
                    }
                    self.open_beneath(&path, flags).map_err(missing)?
                }
                Err(e) => return Err(e),
            };
        }
        Ok((dir, name))
    }

    /// Removes the file at `rel`. Directories are refused (409).
    pub fn delete(&self, rel: &str) -> Result<(), FileError> {
        let parts = components(rel)?;
        let (dir, name) = self.parent_of(&parts, false).map_err(|e| match e {
            FileError::Conflict(_) => FileError::NotFound,
            other => other,
        })?;
        // As in `open_beneath`: `x/` is refused for a file (`ENOTDIR`).
        let slash = if rel.ends_with('/') { "/" } else { "" };
        let removed =
            rustix::fs::unlinkat(&dir, format!("{name}{slash}").as_str(), AtFlags::empty());
        Tick::files_changed();
        removed.map_err(map_errno)?;
        let _ = rustix::fs::fsync(&dir);
        Ok(())
    }

    /// Streams `body` into `rel`: a temporary file beside it, `fsync`ed,
    /// then renamed into place. Returns true when the file is new.
    pub async fn upload(
        &self,
        rel: &str,
        body: &mut Body,
        options: UploadOptions,
    ) -> Result<bool, FileError> {
        let parts = components(rel)?;
        let (dir, name) = self.parent_of(&parts, options.mkdir)?;
        let temp = TempFile::create(dir)?;
        let mut file =
            tokio::fs::File::from_std(File::from(temp.fd.try_clone().map_err(FileError::Io)?));
        while let Some(piece) = body.chunk().await.map_err(FileError::Body)? {
            file.write_all(&piece).await.map_err(io_to_file_error)?;
        }
        file.flush().await.map_err(io_to_file_error)?;
        file.sync_all().await.map_err(io_to_file_error)?;
        drop(file);
        let persisted = temp.persist(name, options.create_only);
        Tick::files_changed();
        persisted
    }
}

/// How an upload may land.
#[derive(Debug, Clone, Copy, Default)]
pub struct UploadOptions {
    /// Create missing parent directories.
    pub mkdir: bool,
    /// Only create, never replace (`If-None-Match: *`); checked atomically
    /// by the rename itself.
    pub create_only: bool,
}

/// The validators of a file from its metadata.
// The stat field types differ between architectures; the casts are not
// redundant everywhere.
#[allow(clippy::unnecessary_cast)]
pub fn validators_of(stat: &rustix::fs::Stat) -> conditional::Validators {
    conditional::Validators::new(
        stat.st_ino as u64,
        stat.st_size as u64,
        (stat.st_mtime as i64, stat.st_mtime_nsec as u32),
        (stat.st_ctime as i64, stat.st_ctime_nsec as u32),
    )
}

fn io_to_file_error(e: io::Error) -> FileError {
    match e.raw_os_error() {
        Some(code) => map_errno(rustix::io::Errno::from_raw_os_error(code)),
        None => FileError::Io(e),
    }
}

/// A temporary upload file that removes itself unless persisted.
struct TempFile {
    dir: OwnedFd,
    name: String,
    fd: OwnedFd,
    armed: bool,
}

impl TempFile {
    fn create(dir: OwnedFd) -> Result<TempFile, FileError> {
        let seq = UPLOAD_SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("{TEMP_PREFIX}{}-{seq}-{nanos:x}", std::process::id());
        let fd = rustix::fs::openat(
            &dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(map_errno)?;
        Ok(TempFile {
            dir,
            name,
            fd,
            armed: true,
        })
    }

    /// Renames the finished file over `target` (never over an existing
    /// one when `create_only`); true when it did not exist.
    fn persist(mut self, target: &str, create_only: bool) -> Result<bool, FileError> {
        let existed = rustix::fs::statat(&self.dir, target, AtFlags::SYMLINK_NOFOLLOW).is_ok();
        let flags = if create_only {
            rustix::fs::RenameFlags::NOREPLACE
        } else {
            rustix::fs::RenameFlags::empty()
        };
        rustix::fs::renameat_with(&self.dir, self.name.as_str(), &self.dir, target, flags)
            .map_err(map_errno)?;
        self.armed = false;
        // Make the rename itself durable.
        let _ = rustix::fs::fsync(self.dir.as_fd());
        Ok(!existed)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = rustix::fs::unlinkat(&self.dir, self.name.as_str(), AtFlags::empty());
        }
    }
}

/// Removes temporary upload files a crash left behind anywhere under
/// `root`; returns how many were removed.
pub fn clean_stale_uploads(root: &Path) -> usize {
    let mut removed = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file()
                && starts_with(&name, TEMP_PREFIX)
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

fn starts_with(name: &OsStr, prefix: &str) -> bool {
    name.as_bytes().starts_with(prefix.as_bytes())
}
