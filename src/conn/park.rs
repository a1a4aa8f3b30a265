//! Parked connections: keep-alive connections that have been quiet for a
//! while give up their task, their buffers and their place in the runtime's
//! reactor, and wait in a per-worker `epoll` set instead. A parked
//! connection costs one [`Parked`] record (about a hundred bytes) rather
//! than a task of a few KiB, which is what lets a worker hold many thousands
//! of idle clients in little memory. When the client sends again the
//! connection gets a fresh task; when its idle deadline passes it is closed
//! here.
//!
//! Parking happens only after a connection has been silent for a while, so
//! a client that sends its next request promptly never pays for a new
//! task. Parking and waking again cost about 8 µs of CPU, as much as a
//! plaintext request, so while a worker has few connections a quiet one
//! keeps its task for [`PARK_AFTER`]: parking after 10 ms, a client that
//! paused 20 ms between requests cost twice the CPU per request, and 64
//! connections fetching 1 MiB files parked between most of their requests.
//! Past [`AWAKE_LIMIT`] connection tasks on a worker, memory comes first
//! and quiet connections park after [`PARK_SOON`]: a burst of thousands of
//! connections that go idle never holds thousands of tasks at once (the
//! allocator keeps the peak even after they park).

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::buffer::spare_capacity;
use rustix::event::{Timespec, epoll};
use rustix::net::{RecvFlags, recv};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, sleep_until};

use crate::trace::Trace;

/// How long an idle connection keeps its task and buffers before parking,
/// while its worker has at most [`AWAKE_LIMIT`] connection tasks.
pub const PARK_AFTER: Duration = Duration::from_millis(250);

/// How long it keeps them when the worker has more.
pub const PARK_SOON: Duration = Duration::from_millis(10);

/// Connection tasks a worker may have before its quiet ones park soon.
pub const AWAKE_LIMIT: usize = 128;

thread_local! {
    /// Connection tasks alive on this thread, parked ones not counted.
    static AWAKE: Cell<usize> = const { Cell::new(0) };
}

/// Counts a connection task on its thread for as long as it lives.
#[derive(Debug)]
pub struct Awake(());

impl Awake {
    /// Counts one more task on this thread.
    pub fn count() -> Awake {
        AWAKE.with(|n| n.set(n.get() + 1));
        Awake(())
    }
}

impl Drop for Awake {
    fn drop(&mut self) {
        AWAKE.with(|n| n.set(n.get() - 1));
    }
}

/// How long a connection that has just gone quiet keeps its task.
pub fn park_delay() -> Duration {
    if AWAKE.with(Cell::get) > AWAKE_LIMIT {
        PARK_SOON
    } else {
        PARK_AFTER
    }
}

/// Readiness events taken from the set per wake-up.
const EVENTS: usize = 256;

/// `epoll_wait` without blocking: the runtime already said events are there.
const NO_WAIT: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// An idle connection without a task.
pub(crate) struct Parked {
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
    pub served: u64,
    pub trace: Option<Box<Trace>>,
    /// When the idle (or first-request) timeout closes it.
    pub deadline: Instant,
}

/// One worker's parked connections. `T` travels with each connection
/// (the server keeps its connection-count tickets there).
pub(crate) struct Parking<T> {
    epoll: AsyncFd<OwnedFd>,
    slots: RefCell<Slots<T>>,
    /// The deadline the run loop sleeps toward, to know when a newly parked
    /// connection needs it to wake earlier.
    armed: Cell<Option<Instant>>,
    rearm: Notify,
    /// Set once the run loop has ended: later arrivals are closed at once.
    closed: Cell<bool>,
}

struct Slots<T> {
    entries: Vec<Option<(Parked, T)>>,
    /// Bumped each time an entry is reused, so stale events and deadlines
    /// for an earlier occupant are recognised and ignored.
    generations: Vec<u32>,
    free: Vec<u32>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
}

fn key(index: u32, generation: u32) -> u64 {
    (u64::from(index) << 32) | u64::from(generation)
}

fn split(key: u64) -> (usize, u32) {
    ((key >> 32) as usize, key as u32)
}

impl<T> Slots<T> {
    /// Takes the entry `key` names, if it is still the same occupant.
    fn take(&mut self, key: u64) -> Option<(Parked, T)> {
        let (index, generation) = split(key);
        if self.generations.get(index) != Some(&generation) {
            return None;
        }
        let entry = self.entries[index].take()?;
        self.generations[index] = generation.wrapping_add(1);
        self.free.push(index as u32);
        Some(entry)
    }
}

impl<T> Parking<T> {
    /// A new, empty set; must be made inside the worker's runtime.
    pub fn new() -> io::Result<Parking<T>> {
        let fd = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        // Deprecated because a borrowed descriptor could be closed behind
        // the reactor's back; this one is an `OwnedFd` that only the
        // `AsyncFd` holds, which is the sound case.
        #[allow(deprecated)]
        let epoll = AsyncFd::with_interest(fd, Interest::READABLE)?;
        Ok(Parking {
            epoll,
            slots: RefCell::new(Slots {
                entries: Vec::new(),
                generations: Vec::new(),
                free: Vec::new(),
                deadlines: BinaryHeap::new(),
            }),
            armed: Cell::new(None),
            rearm: Notify::new(),
            closed: Cell::new(false),
        })
    }

    /// Parks a connection. On failure it is closed (dropped).
    pub fn park(&self, parked: Parked, extra: T) {
        if self.closed.get() {
            return;
        }
        let deadline = parked.deadline;
        let mut slots = self.slots.borrow_mut();
        let index = match slots.free.pop() {
            Some(i) => i as usize,
            None => {
                slots.entries.push(None);
                slots.generations.push(0);
                slots.entries.len() - 1
            }
        };
        let key = key(index as u32, slots.generations[index]);
        let flags = epoll::EventFlags::IN | epoll::EventFlags::RDHUP | epoll::EventFlags::ONESHOT;
        if let Err(e) = epoll::add(
            self.epoll.get_ref(),
            &parked.stream,
            epoll::EventData::new_u64(key),
            flags,
        ) {
            log::debug!("{}: could not park the connection: {e}", parked.peer);
            slots.free.push(index as u32);
            return;
        }
        slots.entries[index] = Some((parked, extra));
        slots.deadlines.push(Reverse((deadline, key)));
        // Stale deadlines of woken connections pile up in the heap; rebuild
        // it when they outnumber the live ones.
        let live = slots.entries.len() - slots.free.len();
        if slots.deadlines.len() > 2 * live + 1024 {
            let Slots {
                entries,
                generations,
                deadlines,
                ..
            } = &mut *slots;
            deadlines.retain(|Reverse((_, key))| {
                let (i, g) = split(*key);
                generations[i] == g && entries[i].is_some()
            });
        }
        drop(slots);
        if self.armed.get().is_none_or(|armed| deadline < armed) {
            self.rearm.notify_one();
        }
    }

    /// Wakes parked connections whose clients sent something (or hung up)
    /// by handing them to `resume`, and closes those whose deadline passed,
    /// until the server shuts down; then closes every parked connection.
    pub async fn run(&self, resume: impl Fn(Parked, T), mut shutdown: watch::Receiver<bool>) {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(EVENTS);
        loop {
            if *shutdown.borrow() {
                break;
            }
            let next = self.slots.borrow().deadlines.peek().map(|d| d.0.0);
            self.armed.set(next);
            tokio::select! {
                ready = self.epoll.readable() => {
                    let Ok(mut guard) = ready else { break };
                    events.clear();
                    match epoll::wait(self.epoll.get_ref(), spare_capacity(&mut events), Some(&NO_WAIT)) {
                        Ok(_) if events.len() < EVENTS => guard.clear_ready(),
                        Ok(_) => {}
                        Err(e) => {
                            log::error!("waiting on parked connections failed: {e}");
                            guard.clear_ready();
                        }
                    }
                    for event in &events {
                        let taken = self.slots.borrow_mut().take(event.data.u64());
                        let Some((mut parked, extra)) = taken else { continue };
                        let _ = epoll::delete(self.epoll.get_ref(), &parked.stream);
                        if hung_up(event.flags, &parked.stream) {
                            if let Some(trace) = &mut parked.trace {
                                trace.closing("client closed its side (EOF)");
                            }
                            drop((parked, extra));
                        } else {
                            resume(parked, extra);
                        }
                    }
                }
                _ = sleep_until(next.unwrap_or_else(far_future)), if next.is_some() => {
                    self.expire(Instant::now());
                }
                _ = self.rearm.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        self.closed.set(true);
        self.close_all("server shutting down");
    }

    /// Closes the connections whose deadline is at or before `now`.
    fn expire(&self, now: Instant) {
        loop {
            let mut slots = self.slots.borrow_mut();
            let Some(&Reverse((deadline, key))) = slots.deadlines.peek() else {
                return;
            };
            if deadline > now {
                return;
            }
            slots.deadlines.pop();
            let taken = slots.take(key);
            drop(slots);
            if let Some((mut parked, extra)) = taken {
                if let Some(trace) = &mut parked.trace {
                    trace.closing("idle timeout");
                }
                drop((parked, extra));
            }
        }
    }

    fn close_all(&self, reason: &'static str) {
        let entries = std::mem::take(&mut self.slots.borrow_mut().entries);
        for (mut parked, extra) in entries.into_iter().flatten() {
            if let Some(trace) = &mut parked.trace {
                trace.closing(reason);
            }
            drop((parked, extra));
        }
        let mut slots = self.slots.borrow_mut();
        slots.generations.clear();
        slots.free.clear();
        slots.deadlines.clear();
    }
}

/// Whether a parked connection woke only to say goodbye: the client
/// closed (or the socket failed) with nothing left to read, so there is no
/// request to wake a task for.
fn hung_up(flags: epoll::EventFlags, stream: &std::net::TcpStream) -> bool {
    use epoll::EventFlags as F;
    if !flags.intersects(F::RDHUP | F::HUP | F::ERR) {
        return false;
    }
    let mut byte = [0u8; 1];
    let peek = RecvFlags::PEEK | RecvFlags::DONTWAIT;
    !matches!(recv(stream, &mut byte, peek), Ok((n, _)) if n > 0)
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_connections_park_soon_only_on_a_crowded_worker() {
        assert_eq!(park_delay(), PARK_AFTER, "no task on this thread yet");
        let mut tasks: Vec<Awake> = (0..AWAKE_LIMIT).map(|_| Awake::count()).collect();
        assert_eq!(park_delay(), PARK_AFTER, "at the limit");
        tasks.push(Awake::count());
        assert_eq!(park_delay(), PARK_SOON, "past it");
        tasks.pop();
        assert_eq!(
            park_delay(),
            PARK_AFTER,
            "a task that ends is no longer counted"
        );
    }
}
