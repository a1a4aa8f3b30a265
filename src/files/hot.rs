//! Small files kept in memory per worker thread, with their response
//! fields already rendered, so serving a popular small file costs one
//! `stat` instead of open, stat, read and close.
//!
//! Every request still looks the path up (`statat` below the root) and the
//! entry is used only while the file there is the very same one: same
//! device, inode, size, modification and change times. A replaced, renamed,
//! rewritten or re-permissioned file therefore misses at once. The entry was
//! filled from a file opened safely beneath the root, so even if the path
//! now resolved somewhere else (through a symlink swapped in meanwhile) a
//! match means the same inode: content that was legitimately served before.
//! Files modified in the last [`SETTLE`] are not kept: timestamps are coarse
//! enough that a second write could leave them unchanged.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rustix::fs::{AtFlags, FileType, Stat, statat};

use super::conditional::Validators;

/// Files at most this long are kept.
pub const MAX_FILE_BYTES: u64 = 32 * 1024;

/// What an entry costs beyond its content and path (its rendered fields,
/// map slot and key), counted so that many tiny files cannot outgrow the
/// budget.
const ENTRY_OVERHEAD: usize = 512;

/// A file modified more recently than this is not kept.
const SETTLE: Duration = Duration::from_secs(2);

/// What identifies the file an entry was read from.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, u64),
    ctime: (i64, u64),
}

impl Identity {
    fn of(stat: &Stat) -> Identity {
        Identity {
            dev: stat.st_dev,
            ino: stat.st_ino,
            size: stat.st_size,
            mtime: (stat.st_mtime, stat.st_mtime_nsec),
            ctime: (stat.st_ctime, stat.st_ctime_nsec),
        }
    }
}

/// What a kept file is served with, shared by every hit.
pub struct Meta {
    pub validators: Validators,
    /// The `ETag` value, as text for precondition checks and as a field.
    pub etag: String,
    pub etag_field: Bytes,
    pub last_modified: Bytes,
    pub content_type: Bytes,
    pub compressible: bool,
}

/// A kept file: its content and what it is served with.
#[derive(Clone)]
pub struct Hot {
    pub content: Bytes,
    pub meta: Rc<Meta>,
}

struct Entry {
    identity: Identity,
    hot: Hot,
    used: u64,
    /// What the entry counts against the budget.
    cost: usize,
}

#[derive(Default)]
struct Cache {
    /// By file service (a program has one or a few, so they are searched
    /// in a list rather than hashed), then by path below its root.
    services: Vec<(u64, HashMap<String, Entry>)>,
    bytes: usize,
    tick: u64,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The file kept for `service` at `rel` below `root`, if the file there is
/// still the same one.
pub fn lookup(service: u64, root: impl AsFd, rel: &str) -> Option<Hot> {
    if rel.is_empty() || rel.starts_with('/') {
        return None;
    }
    CACHE.with(|cache| {
        let Cache {
            services,
            bytes,
            tick,
        } = &mut *cache.borrow_mut();
        let (_, files) = services.iter_mut().find(|(id, _)| *id == service)?;
        let entry = files.get_mut(rel)?;
        let current = statat(root, rel, AtFlags::empty()).ok();
        if current.map(|stat| Identity::of(&stat)) != Some(entry.identity) {
            *bytes -= entry.cost;
            files.remove(rel);
            return None;
        }
        *tick += 1;
        entry.used = *tick;
        Some(entry.hot.clone())
    })
}

/// Whether a file with this metadata may be kept.
pub fn worth_keeping(stat: &Stat) -> bool {
    let settled = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .is_ok_and(|now| {
            let changed = stat.st_mtime.max(stat.st_ctime);
            changed >= 0 && now.as_secs() >= changed as u64 + SETTLE.as_secs()
        });
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
        && (stat.st_size as u64) <= MAX_FILE_BYTES
        && settled
}

/// Keeps `hot`, read from the file `stat` describes, for `service` under
/// `rel`, evicting the least recently used entries to stay within `budget`
/// bytes in this thread (content, path and a fixed overhead per entry).
pub fn keep(service: u64, rel: &str, stat: &Stat, hot: Hot, budget: usize) {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let size = hot.content.len() + rel.len() + ENTRY_OVERHEAD;
        if size > budget {
            return;
        }
        while cache.bytes + size > budget {
            let Some((s, oldest)) = cache
                .services
                .iter()
                .flat_map(|(s, files)| files.iter().map(move |(k, e)| (*s, k, e.used)))
                .min_by_key(|(_, _, used)| *used)
                .map(|(s, k, _)| (s, k.clone()))
            else {
                break;
            };
            let gone = cache
                .services
                .iter_mut()
                .find(|(id, _)| *id == s)
                .and_then(|(_, files)| files.remove(&oldest))
                .map_or(0, |e| e.cost);
            cache.bytes -= gone;
        }
        cache.tick += 1;
        let entry = Entry {
            identity: Identity::of(stat),
            hot,
            used: cache.tick,
            cost: size,
        };
        let at = match cache.services.iter().position(|(id, _)| *id == service) {
            Some(at) => at,
            None => {
                cache.services.push((service, HashMap::new()));
                cache.services.len() - 1
            }
        };
        let old = cache.services[at].1.insert(rel.to_string(), entry);
        cache.bytes -= old.map_or(0, |e| e.cost);
        cache.bytes += size;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot(content: &'static [u8]) -> Hot {
        Hot {
            content: Bytes::from_static(content),
            meta: Rc::new(Meta {
                validators: Validators::new(1, content.len() as u64, 0, 0),
                etag: "\"t\"".into(),
                etag_field: Bytes::from_static(b"\"t\""),
                last_modified: Bytes::new(),
                content_type: Bytes::from_static(b"text/plain"),
                compressible: false,
            }),
        }
    }

    #[test]
    fn a_kept_file_is_served_from_memory_until_it_changes() {
        let dir = std::env::temp_dir().join(format!("barehttp-hot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a"), b"one").unwrap();
        std::fs::write(dir.join("b"), b"two").unwrap();
        let root = std::fs::File::open(&dir).unwrap();
        let stat = |name: &str| statat(&root, name, AtFlags::empty()).unwrap();

        assert!(lookup(7, &root, "a").is_none(), "nothing kept yet");
        keep(7, "a", &stat("a"), hot(b"one"), 1 << 20);
        let hit = lookup(7, &root, "a").expect("kept and unchanged");
        // The very bytes kept, not a fresh read of the file.
        assert_eq!(hit.content.as_ptr(), b"one".as_ptr());
        assert!(lookup(8, &root, "a").is_none(), "another service's root");

        // A change to the file drops the entry for good.
        std::fs::write(dir.join("a"), b"ONE!").unwrap();
        assert!(lookup(7, &root, "a").is_none());
        std::fs::write(dir.join("a"), b"one").unwrap();
        assert!(lookup(7, &root, "a").is_none(), "dropped, not revived");

        // The budget counts content, path and overhead: room for one entry.
        let one = 3 + 1 + ENTRY_OVERHEAD;
        keep(7, "a", &stat("a"), hot(b"one"), one);
        keep(7, "b", &stat("b"), hot(b"two"), one);
        assert!(lookup(7, &root, "a").is_none(), "least recently used went");
        assert!(lookup(7, &root, "b").is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
