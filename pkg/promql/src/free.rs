//! Freeing large intermediate values off the query's path.
//!
//! A query over thousands of series ends up owning tens of thousands of label strings and
//! sample vectors; freeing them takes milliseconds the answer need not wait for. [`FreeLater`]
//! holds such a value and, when dropped, hands it to a blocking task of the current Tokio
//! runtime to free, when it is large enough to be worth it (small values, or no runtime at
//! hand, are freed inline as usual). Freeing costs the same CPU either way; only the waiting
//! moves off the critical path.

use std::ops::{Deref, DerefMut};

/// Items (series) from which a value is freed in the background.
pub(crate) const BACKGROUND_FREE_ITEMS: usize = 1000;

/// A value freed by a background task when dropped, if it holds at least
/// [`BACKGROUND_FREE_ITEMS`] items. Dereferences to the value.
pub(crate) struct FreeLater<T: Send + 'static> {
    value: Option<T>,
    items: usize,
}

impl<T: Send + 'static> FreeLater<T> {
    /// Wraps `value`, which holds `items` series (or other units of similar size).
    pub(crate) fn new(value: T, items: usize) -> Self {
        Self {
            value: Some(value),
            items,
        }
    }
}

impl<T: Send + 'static> Deref for FreeLater<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_ref().expect("present until dropped")
    }
}

impl<T: Send + 'static> DerefMut for FreeLater<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_mut().expect("present until dropped")
    }
}

impl<T: Send + 'static> Drop for FreeLater<T> {
    fn drop(&mut self) {
        let Some(v) = self.value.take() else { return };
        if self.items < BACKGROUND_FREE_ITEMS {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            // Nothing waits for the task: it only frees memory.
            drop(rt.spawn_blocking(move || drop(v)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn small_values_and_values_outside_a_runtime_are_freed_inline() {
        let f = Arc::new(AtomicBool::new(false));
        drop(FreeLater::new(Flag(f.clone()), 1));
        assert!(f.load(Ordering::SeqCst));
        let f = Arc::new(AtomicBool::new(false));
        drop(FreeLater::new(Flag(f.clone()), BACKGROUND_FREE_ITEMS));
        assert!(f.load(Ordering::SeqCst), "no runtime: freed inline");
    }

    #[tokio::test]
    async fn large_values_are_freed_by_a_background_task() {
        let f = Arc::new(AtomicBool::new(false));
        let v = FreeLater::new(Flag(f.clone()), BACKGROUND_FREE_ITEMS);
        assert!(!v.0.load(Ordering::SeqCst), "derefs to the value");
        drop(v);
        for _ in 0..200 {
            if f.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("the background task never freed the value");
    }
}
