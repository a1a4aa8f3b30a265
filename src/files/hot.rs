//! Small files kept in memory per worker thread, with their response
//! fields already rendered, so serving a popular small file costs at most
//! one `stat` instead of open, stat, read and close.
//!
//! The path is looked up again (`statat` below the root) after the request
//! arrived, and the entry is used only while the file there is the very
//! same one: same device, inode, size, modification and change times. A
//! replaced, renamed, rewritten or re-permissioned file therefore misses at
//! once. The entry was filled from a file opened safely beneath the root,
//! so even if the path now resolved somewhere else (through a symlink
//! swapped in meanwhile) a match means the same inode: content that was
//! legitimately served before. Files modified in the last [`SETTLE`] are
//! not kept: timestamps are coarse enough that a second write could leave
//! them unchanged.
//!
//! One look serves every request that had arrived before it. Each entry
//! notes when it was last checked on the worker's clock ([`Tick`]), and a
//! request read before that is answered without another look: the
//! pipelined requests of one read, and the requests of every connection
//! that read before the check. A check from before the worker's own last
//! upload or delete serves nothing after it ([`Tick::files_changed`]): a
//! request pipelined behind a `PUT` sees what was put. To make sharing
//! checks among connections common, a request that needs a check while
//! checks of the entry have lately served other connections yields once
//! ([`Lookup::Wait`]): the connections woken with it read their requests
//! meanwhile, and the first to run again checks for all of them. While no
//! check is shared, one request in [`PROBE_EVERY`] still waits, to notice
//! when they would be.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rustix::fs::{AtFlags, FileType, Stat, statat};

use super::conditional::Validators;
use crate::tick::Tick;

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
    /// The last look that found the file the same.
    check: Check,
    hot: Hot,
    used: u64,
    /// What the entry counts against the budget.
    cost: usize,
}

/// An entry's last check, and whether checks are being shared.
#[derive(Clone, Copy)]
struct Check {
    /// When it was made.
    at: Tick,
    /// When the request that made it arrived.
    made_for: Tick,
    /// Whether it answered a request of another read. While checks serve
    /// others, a request that needs one waits for a shared one.
    shared: bool,
    /// Checks of the entry so far: every [`PROBE_EVERY`]th request that
    /// needs one waits, to find out whether others would share it.
    count: u32,
}

/// How often a request waits for a shared check when checks have not
/// been shared lately.
const PROBE_EVERY: u32 = 16;

impl Check {
    const NONE: Check = Check {
        at: Tick::UNKNOWN,
        made_for: Tick::UNKNOWN,
        shared: false,
        count: 1,
    };

    fn worth_waiting_for(&self) -> bool {
        self.shared || self.count % PROBE_EVERY == 0
    }
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

/// What looking for a kept file found.
pub enum Lookup {
    /// Kept, and the file is still the same one.
    Hit(Hot),
    /// Not kept, kept from a file that has since changed (the entry is
    /// dropped), or kept as it is for a client that takes it compressed.
    Miss,
    /// Kept, but not checked since the request arrived, while checks of
    /// it have lately served other connections: the caller should yield
    /// once and look again, so that one check serves every request that
    /// arrived meanwhile.
    Wait,
}

/// The file kept for `service` at `rel` below `root`, for a request that
/// `arrived` then, if the file there is still the same one. `may_wait`
/// allows [`Lookup::Wait`] instead of a check now. `takes_as_is` says
/// whether the client takes a compressible file uncompressed; it is asked
/// only of such a file, before any check.
pub fn lookup(
    service: u64,
    root: impl AsFd,
    rel: &str,
    arrived: Tick,
    may_wait: bool,
    takes_as_is: impl FnOnce() -> bool,
) -> Lookup {
    if rel.is_empty() || rel.starts_with('/') {
        return Lookup::Miss;
    }
    // A check from before this worker's own last upload or delete saw the
    // files as they were then.
    let arrived = arrived.or_later_change();
    CACHE.with(|cache| {
        let Cache {
            services,
            bytes,
            tick,
        } = &mut *cache.borrow_mut();
        let Some((_, files)) = services.iter_mut().find(|(id, _)| *id == service) else {
            return Lookup::Miss;
        };
        let Some(entry) = files.get_mut(rel) else {
            return Lookup::Miss;
        };
        if entry.hot.meta.compressible && !takes_as_is() {
            return Lookup::Miss;
        }
        let last = &mut entry.check;
        if last.at.follows(arrived) {
            last.shared |= arrived != last.made_for;
        } else {
            if may_wait && last.worth_waiting_for() {
                return Lookup::Wait;
            }
            let at = Tick::next();
            let current = statat(root, rel, AtFlags::empty()).ok();
            if current.map(|stat| Identity::of(&stat)) != Some(entry.identity) {
                *bytes -= entry.cost;
                files.remove(rel);
                return Lookup::Miss;
            }
            *last = Check {
                at,
                made_for: arrived,
                shared: false,
                count: last.count.wrapping_add(1),
            };
        }
        *tick += 1;
        entry.used = *tick;
        Lookup::Hit(entry.hot.clone())
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
            check: Check::NONE,
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
        kept_as(content, false)
    }

    fn kept_as(content: &'static [u8], compressible: bool) -> Hot {
        Hot {
            content: Bytes::from_static(content),
            meta: Rc::new(Meta {
                validators: Validators::new(1, content.len() as u64, (0, 0), (0, 0)),
                etag: "\"t\"".into(),
                etag_field: Bytes::from_static(b"\"t\""),
                last_modified: Bytes::new(),
                content_type: Bytes::from_static(b"text/plain"),
                compressible,
            }),
        }
    }

    /// A lookup for a client that takes files as they are.
    fn look(service: u64, root: &std::fs::File, rel: &str, arrived: Tick, wait: bool) -> Lookup {
        lookup(service, root, rel, arrived, wait, || true)
    }

    fn hit(found: Lookup) -> Option<Hot> {
        match found {
            Lookup::Hit(hot) => Some(hot),
            Lookup::Miss => None,
            Lookup::Wait => panic!("waits only when allowed to"),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("barehttp-hot-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a"), b"one").unwrap();
        std::fs::write(dir.join("b"), b"two").unwrap();
        dir
    }

    #[test]
    fn a_kept_file_is_served_from_memory_until_it_changes() {
        let dir = scratch("change");
        let root = std::fs::File::open(&dir).unwrap();
        let stat = |name: &str| statat(&root, name, AtFlags::empty()).unwrap();
        let find = |service, name| hit(look(service, &root, name, Tick::next(), false));

        assert!(find(7, "a").is_none(), "nothing kept yet");
        keep(7, "a", &stat("a"), hot(b"one"), 1 << 20);
        let kept = find(7, "a").expect("kept and unchanged");
        // The very bytes kept, not a fresh read of the file.
        assert_eq!(kept.content.as_ptr(), b"one".as_ptr());
        assert!(find(8, "a").is_none(), "another service's root");

        // A change to the file drops the entry for good.
        std::fs::write(dir.join("a"), b"ONE!").unwrap();
        assert!(find(7, "a").is_none());
        std::fs::write(dir.join("a"), b"one").unwrap();
        assert!(find(7, "a").is_none(), "dropped, not revived");

        // A compressible file is kept as it is. A client that takes it
        // compressed misses without a check, and the entry stays; the
        // question is not asked of other files.
        keep(7, "b", &stat("b"), kept_as(b"two", true), 1 << 20);
        let compressed = lookup(7, &root, "b", Tick::next(), false, || false);
        assert!(hit(compressed).is_none());
        assert!(find(7, "b").is_some());
        // No check either: a check would drop the entry of a file changed
        // since, and a request read before the last check still finds it.
        let early = Tick::next();
        assert!(hit(look(7, &root, "b", early, false)).is_some());
        std::fs::write(dir.join("b"), b"TWO!").unwrap();
        let compressed = lookup(7, &root, "b", Tick::next(), false, || false);
        assert!(hit(compressed).is_none());
        assert!(hit(look(7, &root, "b", early, false)).is_some());
        keep(7, "a", &stat("a"), hot(b"one"), 1 << 20);
        let plain = lookup(7, &root, "a", Tick::next(), false, || panic!("asked"));
        assert!(hit(plain).is_some());

        // The budget counts content, path and overhead: room for one entry.
        let one = 3 + 1 + ENTRY_OVERHEAD;
        keep(7, "a", &stat("a"), hot(b"one"), one);
        keep(7, "b", &stat("b"), hot(b"two"), one);
        assert!(find(7, "a").is_none(), "least recently used went");
        assert!(find(7, "b").is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A check serves the requests that arrived before it, and only those.
    #[test]
    fn one_check_serves_every_request_read_before_it() {
        let dir = scratch("shared");
        let root = std::fs::File::open(&dir).unwrap();
        let stat = |name: &str| statat(&root, name, AtFlags::empty()).unwrap();
        keep(9, "a", &stat("a"), hot(b"one"), 1 << 20);

        let early = Tick::next();
        assert!(hit(look(9, &root, "a", early, false)).is_some());
        // Changed after that check: a request read before it may still be
        // answered from it, one read after it may not.
        std::fs::write(dir.join("a"), b"ONE!").unwrap();
        assert!(hit(look(9, &root, "a", early, false)).is_some());
        let late = Tick::next();
        assert!(hit(look(9, &root, "a", late, false)).is_none());
        assert!(hit(look(9, &root, "a", early, false)).is_none(), "dropped");

        // Requests of one read share a check without waiting for others.
        keep(9, "b", &stat("b"), hot(b"two"), 1 << 20);
        let batch = Tick::next();
        for _ in 0..3 {
            assert!(hit(look(9, &root, "b", batch, true)).is_some());
        }
        // One connection alone checks at once, but for a probe now and then.
        let waits = (0..2 * PROBE_EVERY)
            .filter(|_| {
                let arrived = Tick::next();
                match look(9, &root, "b", arrived, true) {
                    Lookup::Wait => {
                        assert!(hit(look(9, &root, "b", arrived, false)).is_some());
                        true
                    }
                    found => {
                        assert!(hit(found).is_some());
                        false
                    }
                }
            })
            .count();
        assert_eq!(waits, 2);

        // Once a check has answered a request of another read, requests
        // that need a check wait for one that serves them all.
        let (other, own) = (Tick::next(), Tick::next());
        assert!(hit(look(9, &root, "b", own, false)).is_some());
        assert!(hit(look(9, &root, "b", other, true)).is_some());
        let (first, second) = (Tick::next(), Tick::next());
        assert!(matches!(look(9, &root, "b", first, true), Lookup::Wait));
        assert!(matches!(look(9, &root, "b", second, true), Lookup::Wait));
        assert!(hit(look(9, &root, "b", first, false)).is_some());
        // That check followed both reads: the second is answered from it,
        // even though the file changed since.
        std::fs::write(dir.join("b"), b"TWO!").unwrap();
        assert!(hit(look(9, &root, "b", second, true)).is_some());
        let last = Tick::next();
        assert!(matches!(look(9, &root, "b", last, true), Lookup::Wait));
        assert!(hit(look(9, &root, "b", last, false)).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
