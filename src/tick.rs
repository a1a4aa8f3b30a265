//! A worker thread's count of its socket reads and of its checks of kept
//! files, which puts the two in one order.
//!
//! A check counted after the read that brought a request looked at the disk
//! after the request arrived, so it saw every change the client could have
//! known of when sending it: the request may rely on that check instead of
//! making its own (see `files::hot`). Counts are kept per thread, and a
//! tick from one thread never orders events of another.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// A point in one thread's sequence of reads and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tick {
    /// The thread, numbered from 1; 0 for [`Tick::UNKNOWN`].
    thread: u64,
    /// Reads and checks on the thread up to this one.
    count: u64,
}

thread_local! {
    static CLOCK: Cell<Tick> = const { Cell::new(Tick::UNKNOWN) };
}

impl Tick {
    /// When nothing is known of a request's arrival: no check follows it.
    pub(crate) const UNKNOWN: Tick = Tick {
        thread: 0,
        count: 0,
    };

    /// Counts an event: a socket read that has just returned, or a check
    /// about to look at the disk.
    pub(crate) fn next() -> Tick {
        CLOCK.with(|clock| {
            let mut tick = clock.get();
            if tick.thread == 0 {
                static THREADS: AtomicU64 = AtomicU64::new(1);
                tick.thread = THREADS.fetch_add(1, Ordering::Relaxed);
            }
            tick.count += 1;
            clock.set(tick);
            tick
        })
    }

    /// Whether this check came after `arrival`, on the same thread.
    pub(crate) fn follows(self, arrival: Tick) -> bool {
        self.thread != 0 && self.thread == arrival.thread && self.count > arrival.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_follow_only_earlier_reads_of_their_own_thread() {
        let first = Tick::next();
        let check = Tick::next();
        let second = Tick::next();
        assert!(check.follows(first));
        assert!(!check.follows(second), "the read came after the check");
        assert!(!check.follows(check));
        assert!(!check.follows(Tick::UNKNOWN));
        assert!(!Tick::UNKNOWN.follows(first));
        let elsewhere = std::thread::spawn(|| {
            let arrival = Tick::next();
            (arrival, Tick::next())
        })
        .join()
        .unwrap();
        assert!(elsewhere.1.follows(elsewhere.0));
        assert!(!Tick::next().follows(elsewhere.0), "another thread's read");
        assert!(!elsewhere.1.follows(first), "another thread's check");
    }
}
