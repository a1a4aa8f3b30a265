//! A vector that keeps its first `N` items inline, so the common case of a
//! few header fields needs no heap allocation per request.

use std::ops::{Deref, DerefMut};

/// Up to `N` items inline; past that, all of them move to the heap. The
/// inline slots past `len` always hold [`Blank::BLANK`].
#[derive(Debug, Clone)]
pub struct InlineVec<T, const N: usize> {
    inline: [T; N],
    len: usize,
    spill: Vec<T>,
}

/// The value of an unused inline slot. A constant, so an empty vector is
/// filled by a plain copy: building the slots one constructor call at a
/// time was 5% of a pipelined request. It must own nothing (no heap
/// memory, nothing to release), since a blank is never dropped.
pub trait Blank: Sized {
    /// The filler.
    const BLANK: Self;
}

impl<T: Blank, const N: usize> Default for InlineVec<T, N> {
    fn default() -> Self {
        InlineVec {
            inline: [const { T::BLANK }; N],
            len: 0,
            spill: Vec::new(),
        }
    }
}

impl<T: Blank, const N: usize> InlineVec<T, N> {
    /// An empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every item, keeping the inline room.
    pub fn clear(&mut self) {
        for slot in &mut self.inline[..self.len] {
            *slot = T::BLANK;
        }
        self.len = 0;
        // Checked first: replacing an empty vector still runs its drop.
        if self.spill.capacity() != 0 {
            self.spill = Vec::new();
        }
    }

    /// Appends an item.
    pub fn push(&mut self, item: T) {
        if self.len < N {
            // The slot holds a blank, which owns nothing: it is forgotten
            // rather than dropped (for a response field, a drop is a call
            // through the `Bytes` vtable).
            std::mem::forget(std::mem::replace(&mut self.inline[self.len], item));
            self.len += 1;
            return;
        }
        if self.spill.is_empty() {
            self.spill.reserve(N * 2);
            self.spill.extend(
                self.inline
                    .iter_mut()
                    .map(|slot| std::mem::replace(slot, T::BLANK)),
            );
        }
        self.spill.push(item);
    }
}

impl<T, const N: usize> Deref for InlineVec<T, N> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

impl<T, const N: usize> DerefMut for InlineVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        if self.spill.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.spill
        }
    }
}

impl<T: PartialEq, const N: usize> PartialEq for InlineVec<T, N> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Eq, const N: usize> Eq for InlineVec<T, N> {}

#[cfg(test)]
mod tests {
    use super::*;

    impl Blank for u32 {
        const BLANK: u32 = 0;
    }

    #[test]
    fn spills_in_order() {
        let mut v: InlineVec<u32, 2> = InlineVec::new();
        for i in 0..5 {
            v.push(i);
            assert_eq!(&*v, &(0..=i).collect::<Vec<_>>()[..]);
        }
    }
}
