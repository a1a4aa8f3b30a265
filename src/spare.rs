//! Spare boxes kept per thread. A value that is moved often (a request on
//! its way to a handler, a response on its way back) lives in a box so that
//! a move copies one pointer, and the box is used again by the next value
//! made on the same thread, so making one allocates nothing.

use std::cell::RefCell;
use std::thread::LocalKey;

/// The most spare boxes a thread keeps of one kind.
const KEEP: usize = 64;

/// A thread's spare boxes of one kind; declare one with `thread_local!`.
pub(crate) struct Spares<T>(RefCell<Vec<Box<T>>>);

impl<T> Spares<T> {
    pub(crate) const fn new() -> Spares<T> {
        Spares(RefCell::new(Vec::new()))
    }
}

/// A spare box, if the thread has one.
pub(crate) fn take<T: 'static>(spares: &'static LocalKey<Spares<T>>) -> Option<Box<T>> {
    spares
        .try_with(|s| s.0.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
}

/// Keeps `spare` for later, if there is room (and the thread is not being
/// torn down). Its contents must already be cleared.
pub(crate) fn give<T: 'static>(spares: &'static LocalKey<Spares<T>>, spare: Box<T>) {
    let _ = spares.try_with(|s| {
        if let Ok(mut kept) = s.0.try_borrow_mut() {
            if kept.len() < KEEP {
                kept.push(spare);
            }
        }
    });
}
