//! The process's standard output and standard error, written by a thread
//! of their own. A worker hands its lines over and goes on: when the other
//! end is a pipe that nobody reads (a harness that captures the output and
//! reads it only at the end), the pipe fills and that thread waits, not
//! the server. Once [`QUEUE`] batches wait for it, further ones are dropped
//! and their lines counted; the count is reported on stderr when the
//! destination is read again.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Batches that may wait for a destination before more are dropped.
pub const QUEUE: usize = 1024;

/// One destination and the thread that writes to it.
#[derive(Debug)]
pub struct Output {
    /// `None` when the thread could not be started: every batch is then
    /// dropped rather than written in place.
    sender: Option<SyncSender<Vec<u8>>>,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Batches handed over and not yet written.
    pending: AtomicUsize,
    /// Lines dropped since the last report.
    dropped: AtomicU64,
}

impl Output {
    /// Starts the thread that writes with `write` to the stream called `name`.
    fn start(name: &'static str, write: fn(&[u8]) -> std::io::Result<()>) -> Output {
        let (sender, receiver) = sync_channel::<Vec<u8>>(QUEUE);
        let counts = Arc::new(Counts::default());
        let theirs = counts.clone();
        let spawned = std::thread::Builder::new()
            .name("barehttp-output".into())
            .spawn(move || {
                for batch in receiver {
                    let _ = write(&batch);
                    let lost = theirs.dropped.swap(0, Ordering::AcqRel);
                    if lost > 0 {
                        let _ = writeln!(
                            std::io::stderr().lock(),
                            "barehttp: warn: {lost} line(s) of output dropped: {name} was not being read"
                        );
                    }
                    theirs.pending.fetch_sub(1, Ordering::AcqRel);
                }
            });
        Output {
            sender: spawned.ok().map(|_| sender),
            counts,
        }
    }

    /// Hands `batch` to the writing thread, or drops it (and counts its
    /// lines) when the destination is not keeping up.
    pub fn write(&self, batch: Vec<u8>) {
        if batch.is_empty() {
            return;
        }
        let counts = &self.counts;
        counts.pending.fetch_add(1, Ordering::AcqRel);
        let refused = match &self.sender {
            Some(sender) => match sender.try_send(batch) {
                Ok(()) => return,
                Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) => batch,
            },
            None => batch,
        };
        counts.pending.fetch_sub(1, Ordering::AcqRel);
        let lines = memchr::memchr_iter(b'\n', &refused).count().max(1);
        counts.dropped.fetch_add(lines as u64, Ordering::AcqRel);
    }

    /// Waits until every batch handed over has been written, or `deadline`.
    fn drain(&self, deadline: Instant) {
        while self.counts.pending.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

static OUT: OnceLock<Output> = OnceLock::new();
static ERR: OnceLock<Output> = OnceLock::new();

/// The process's standard output.
pub fn stdout() -> &'static Output {
    OUT.get_or_init(|| Output::start("stdout", |b| std::io::stdout().lock().write_all(b)))
}

/// The process's standard error.
pub fn stderr() -> &'static Output {
    ERR.get_or_init(|| Output::start("stderr", |b| std::io::stderr().lock().write_all(b)))
}

/// Waits, up to `wait` in all, for what was handed to stdout and stderr to
/// be written: before the process exits.
pub fn drain(wait: Duration) {
    let deadline = Instant::now() + wait;
    for output in [OUT.get(), ERR.get()].into_iter().flatten() {
        output.drain(deadline);
    }
}
