//! A global allocator that wipes every heap block before it is freed (feature `zeroize-heap`).
//!
//! hmx wipes its own secret buffers, but ureq, rustls and `http` copy the
//! request headers and the decrypted response into buffers they free
//! unwiped. With this feature every block the process frees through Rust's
//! allocator is zeroed first, including the old block of a `realloc` that
//! moves. It costs a pass over each freed byte. Off by default, so Rust users
//! keep their own allocator; the C library and the Python module build it on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

use zeroize::Zeroize;

/// Zeroes each block before handing it back to `A` (the system allocator by default).
#[derive(Debug, Default, Clone, Copy)]
pub struct ZeroizeOnFree<A = System>(pub A);

unsafe impl<A: GlobalAlloc> GlobalAlloc for ZeroizeOnFree<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` is live for `layout.size()` bytes until dealloc.
        unsafe {
            wipe(block, layout.size());
            self.0.dealloc(block, layout);
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Never the inner realloc: when it moves the data it frees the old
        // block unwiped. Allocate, copy, then wipe and free the old block.
        // SAFETY: the new layout is valid by GlobalAlloc::realloc's contract.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let moved = self.0.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

/// Zeroes `len` bytes at `block` with writes the optimiser may not remove.
///
/// # Safety
/// `block` must be valid for `len` writable bytes.
unsafe fn wipe(block: *mut u8, len: usize) {
    #[cfg(feature = "test-util")]
    let wiping = inspect::wiping();
    #[cfg(not(feature = "test-util"))]
    let wiping = true;
    // SAFETY: the caller's contract.
    let bytes = unsafe { std::slice::from_raw_parts_mut(block, len) };
    if wiping {
        bytes.zeroize();
    }
    #[cfg(feature = "test-util")]
    inspect::freed(bytes);
}

#[cfg(feature = "zeroize-heap")]
#[global_allocator]
static GLOBAL: ZeroizeOnFree = ZeroizeOnFree(System);

/// Test hooks: look at every block as it is freed (after the wipe), and
/// turn the wipe off to show what would be left behind. Feature `test-util`.
#[cfg(feature = "test-util")]
pub mod inspect {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    static INSPECTOR: AtomicUsize = AtomicUsize::new(0);
    static WIPE: AtomicBool = AtomicBool::new(true);

    /// Calls `inspector` with every block freed from now on, after it was
    /// wiped; `None` stops. The inspector must not allocate.
    pub fn set_inspector(inspector: Option<fn(&[u8])>) {
        INSPECTOR.store(inspector.map_or(0, |f| f as usize), Ordering::SeqCst);
    }

    /// Turns wiping on (the default) or off, to measure what it removes.
    pub fn set_wiping(on: bool) {
        WIPE.store(on, Ordering::SeqCst);
    }

    pub(super) fn wiping() -> bool {
        WIPE.load(Ordering::Relaxed)
    }

    pub(super) fn freed(block: &[u8]) {
        let f = INSPECTOR.load(Ordering::Relaxed);
        if f != 0 {
            // SAFETY: only ever stored from a `fn(&[u8])` above.
            let f: fn(&[u8]) = unsafe { std::mem::transmute::<usize, fn(&[u8])>(f) };
            f(block);
        }
    }
}
