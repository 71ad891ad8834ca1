//! The details of the last failed call on each thread: the HTTP status and `Retry-After`.

use std::cell::Cell;

use crate::Error;

thread_local! {
    static LAST: Cell<(i32, i64)> = const { Cell::new((0, -1)) };
}

/// Forgets the details; every fallible entry point calls it when it starts.
pub(crate) fn clear() {
    LAST.with(|last| last.set((0, -1)));
}

/// Keeps the details of `error`, the failure the current call returns.
pub(crate) fn record(error: &Error) {
    let status = error.status().map_or(0, i32::from);
    let retry_after = error
        .retry_after()
        .map_or(-1, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    LAST.with(|last| last.set((status, retry_after)));
}

/// The HTTP status of the answer behind the last failed hmx call on this
/// thread; 0 when that failure had no HTTP answer (a timeout, a bad
/// argument) or the last fallible call succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn hmx_last_http_status() -> i32 {
    super::boundary_value(0, || LAST.with(|last| last.get().0))
}

/// The wait the cloud asked for in the answer behind the last failed hmx call
/// on this thread (`Retry-After`, or DRF's "Expected available in N
/// seconds"), in seconds; -1 when it named none.
#[unsafe(no_mangle)]
pub extern "C" fn hmx_last_retry_after_s() -> i64 {
    super::boundary_value(-1, || LAST.with(|last| last.get().1))
}
