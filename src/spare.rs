//! Values kept in boxes that are used again. A value that is moved often
//! (a request on its way to a handler, a response on its way back) lives
//! in a box so that a move copies one pointer; when it is dropped, its box
//! goes back to its thread's spares for the next value of its kind, so
//! making one allocates nothing.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
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

/// What a value needs to live in a [`Reused`] box.
pub(crate) trait Reuse: Sized + 'static {
    /// The thread's spare boxes of this kind.
    fn spares() -> &'static LocalKey<Spares<Self>>;

    /// Drops what the value holds, leaving it as a new one would be.
    fn clear(&mut self);
}

/// A value in a box that goes back to its thread's spares when dropped.
pub(crate) struct Reused<T: Reuse>(Option<Box<T>>);

impl<T: Reuse> Reused<T> {
    /// A spare box prepared by `reuse` if the thread has one, else `make()`
    /// in a new box.
    pub(crate) fn new(reuse: impl FnOnce(&mut T), make: impl FnOnce() -> T) -> Reused<T> {
        let spare = T::spares()
            .try_with(|s| s.0.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten();
        let value = match spare {
            Some(mut value) => {
                reuse(&mut value);
                value
            }
            None => Box::new(make()),
        };
        Reused(Some(value))
    }
}

impl<T: Reuse> Drop for Reused<T> {
    fn drop(&mut self) {
        let Some(mut value) = self.0.take() else {
            return;
        };
        value.clear();
        // Kept if there is room and the thread is not being torn down.
        let _ = T::spares().try_with(|s| {
            if let Ok(mut kept) = s.0.try_borrow_mut() {
                if kept.len() < KEEP {
                    kept.push(value);
                }
            }
        });
    }
}

impl<T: Reuse> Deref for Reused<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0
            .as_deref()
            .expect("a reused value holds its box until dropped")
    }
}

impl<T: Reuse> DerefMut for Reused<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_deref_mut()
            .expect("a reused value holds its box until dropped")
    }
}

impl<T: Reuse + std::fmt::Debug> std::fmt::Debug for Reused<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
