//! Compressed representations of hot files, kept per worker thread so a
//! popular file is compressed once and no lock is shared between workers.
//! Keyed by the identity entity-tag (which names the file's inode, size and
//! change time, so a rewrite is never answered from an older copy) and the
//! coding; bounded in bytes, least recently used out first.

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;

use crate::coding::Coding;

#[derive(Default)]
struct Cache {
    entries: HashMap<(String, Coding), (Bytes, u64)>,
    bytes: usize,
    tick: u64,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The cached representation, if any.
pub fn get(tag: &str, coding: Coding) -> Option<Bytes> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.tick += 1;
        let tick = cache.tick;
        let entry = cache.entries.get_mut(&(tag.to_string(), coding))?;
        entry.1 = tick;
        Some(entry.0.clone())
    })
}

/// Keeps a representation, evicting the least recently used ones to stay
/// within `budget` bytes. A representation larger than the budget is not kept.
pub fn put(tag: &str, coding: Coding, data: Bytes, budget: usize) {
    if data.len() > budget {
        return;
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        while cache.bytes + data.len() > budget {
            let Some(oldest) = cache
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((gone, _)) = cache.entries.remove(&oldest) {
                cache.bytes -= gone.len();
            }
        }
        cache.tick += 1;
        let tick = cache.tick;
        cache.bytes += data.len();
        if let Some((old, _)) = cache
            .entries
            .insert((tag.to_string(), coding), (data, tick))
        {
            cache.bytes -= old.len();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_least_recently_used_first() {
        put("a", Coding::Gzip, Bytes::from(vec![0; 40]), 100);
        put("b", Coding::Gzip, Bytes::from(vec![0; 40]), 100);
        assert!(get("a", Coding::Gzip).is_some());
        put("c", Coding::Gzip, Bytes::from(vec![0; 40]), 100);
        assert!(
            get("b", Coding::Gzip).is_none(),
            "b was least recently used"
        );
        assert!(get("a", Coding::Gzip).is_some() && get("c", Coding::Gzip).is_some());
        assert!(get("a", Coding::Brotli).is_none());
        put("huge", Coding::Gzip, Bytes::from(vec![0; 200]), 100);
        assert!(get("huge", Coding::Gzip).is_none());
    }
}
