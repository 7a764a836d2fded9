//! A free list of f32 buffers for the CPU fast path. One iteration at 512 px allocates and frees
//! about 0.5 GiB of activations and gradients; buffers that large come straight from the kernel
//! and go back on free, so each iteration paid a page fault per 4 KiB to get them again. The
//! pool hands the previous iteration's buffers to the next instead.

use std::sync::{Mutex, MutexGuard};

/// Spare buffers, for images of one size (a new size empties it, so a finished large render
/// leaves nothing behind for a small one).
#[derive(Debug, Default)]
pub struct BufferPool {
    inner: Mutex<(usize, Vec<Vec<f32>>)>,
}

impl BufferPool {
    fn lock(&self) -> MutexGuard<'_, (usize, Vec<Vec<f32>>)> {
        // Holding only plain buffers, a poisoned pool is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a pass over an image of `pixels` pixels: spares of another size are dropped.
    pub fn begin(&self, pixels: usize) {
        let mut inner = self.lock();
        if inner.0 != pixels {
            *inner = (pixels, Vec::new());
        }
    }

    /// A zero-filled buffer of `len` values, reusing the smallest spare that is large enough.
    pub fn get(&self, len: usize) -> Vec<f32> {
        let spare = {
            let mut inner = self.lock();
            let best =
                inner.1.iter().enumerate().filter(|(_, b)| b.capacity() >= len).min_by_key(|(_, b)| b.capacity());
            best.map(|(i, _)| i).map(|i| inner.1.swap_remove(i))
        };
        let mut buffer = spare.unwrap_or_default();
        buffer.clear();
        buffer.resize(len, 0.0);
        buffer
    }

    /// Returns a buffer for later passes.
    pub fn put(&self, buffer: Vec<f32>) {
        if buffer.capacity() > 0 {
            self.lock().1.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_zeroed_and_a_new_size_drops_the_spares() {
        let pool = BufferPool::default();
        pool.begin(100);
        let mut a = pool.get(10);
        a.fill(7.0);
        let ptr = a.as_ptr();
        pool.put(a);
        let b = pool.get(8);
        assert_eq!(b.as_ptr(), ptr, "reused");
        assert!(b.iter().all(|&v| v == 0.0) && b.len() == 8);
        pool.put(b);
        pool.begin(200);
        assert!(pool.lock().1.is_empty());
    }
}
