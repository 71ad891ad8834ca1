//! The one poison-tolerant lock every shared table in hmx goes through.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking the guard back from a poisoned lock.
///
/// hmx's locks guard tables (handles, pacing gates, settings) whose every
/// update is a single insert, remove or assignment, so a panic elsewhere
/// cannot leave one half-changed: the data stays usable and a panic in one
/// thread must not turn into panics in every other.
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
