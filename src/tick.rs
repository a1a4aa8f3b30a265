//! A worker thread's count of its socket reads, of its checks of kept
//! files and of its own changes to the files it serves, which puts them
//! in one order.
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
    /// When this thread last changed a file it serves (see
    /// [`Tick::files_changed`]).
    static CHANGED: Cell<Tick> = const { Cell::new(Tick::UNKNOWN) };
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

    /// Counts a change this thread has just made to the files it serves
    /// (an upload put in place, a file deleted). A check made before it
    /// looked at the files as they were, so it may not serve a request
    /// answered after it, even one that arrived earlier: a request
    /// pipelined behind an upload on the same connection must see the
    /// upload.
    pub(crate) fn files_changed() {
        let tick = Tick::next();
        CHANGED.with(|changed| changed.set(tick));
    }

    /// What a check must follow to serve a request that arrived at `self`:
    /// `self`, or this thread's last change to its files if that came
    /// later.
    pub(crate) fn or_later_change(self) -> Tick {
        let changed = CHANGED.with(Cell::get);
        if changed.thread == self.thread && changed.count > self.count {
            changed
        } else {
            self
        }
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

    #[test]
    fn a_change_to_the_files_outdates_the_checks_before_it() {
        let arrival = Tick::next();
        let check = Tick::next();
        assert_eq!(arrival.or_later_change(), arrival, "no change yet");
        Tick::files_changed();
        let since = arrival.or_later_change();
        assert!(!check.follows(since), "the check came before the change");
        assert!(Tick::next().follows(since), "a check after it serves");
        let later = Tick::next();
        assert_eq!(later.or_later_change(), later, "a read after the change");
        assert_eq!(Tick::UNKNOWN.or_later_change(), Tick::UNKNOWN);
    }
}
