//! C's view of the last failed call on each thread: its HTTP status and `Retry-After`.

use super::{boundary_value, last_failure};

/// The HTTP status of the answer behind the last failed hmx call on this
/// thread; 0 when that failure had no HTTP answer (a timeout, a bad
/// argument) or the last fallible call succeeded.
#[unsafe(no_mangle)]
pub extern "C" fn hmx_last_http_status() -> i32 {
    boundary_value(0, || last_failure().0)
}

/// The wait the cloud asked for in the answer behind the last failed hmx call
/// on this thread (`Retry-After`, or DRF's "Expected available in N
/// seconds"), in seconds; -1 when it named none.
#[unsafe(no_mangle)]
pub extern "C" fn hmx_last_retry_after_s() -> i64 {
    boundary_value(-1, || last_failure().1)
}
