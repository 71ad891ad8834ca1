//! The C ABI's skin: the boundary every entry point runs inside, and its argument checks.
//!
//! What each file takes from the others; no two take from each other, in a
//! circle or otherwise:
//!
//! ```text
//! builder    → client, handles, mod.rs            (one file per concern,
//! client     → device, handles, strings, mod.rs    each with its C types,
//! device     → handles, strings, mod.rs            their handles::Owned
//! local      → handles, strings, mod.rs            and entry points)
//! thermostat → state, local, handles, strings, mod.rs
//! site       → client, thermostat, state, handles, strings, mod.rs
//! site_many  → site, status, strings, mod.rs
//! state      → mod.rs
//! totp       → strings, mod.rs
//! last_error → mod.rs
//! strings    → handles                            (the bottom: what every
//! handles    → mod.rs                              entry point shares)
//! mod.rs     → status
//! status     → nothing
//! ```
//!
//! Between concern files the only edges are builder → client → device, each
//! for the C type it hands out (a builder builds a client, a client lists
//! devices), thermostat → local for the JSON shapes both hand out,
//! thermostat and site → state for `hmx_state`, and site → client,
//! thermostat for the C types it takes and hands out (a site fetches keys
//! with a client, and makes thermostat handles), and site_many → site for
//! the handle it calls many devices through and → status for the status
//! names in its per-device results. A new C type
//! touches only its own file. mod.rs also re-exports four entry
//! points for the crate's own tests.
//!
//! A thin skin over the Rust API, declared in the generated `include/hmx.h`.
//! Conventions (also in the README, "C API conventions"): every fallible
//! function returns an `hmx_status`; out-parameters are written only on
//! success; every pointer is checked for NULL and every string for UTF-8;
//! every entry point runs inside [`boundary`], so no panic crosses into C.

// cbindgen writes the header's functions in this order.
mod status;

mod builder;
mod client;
mod device;
mod handles;
mod last_error;
mod local;
mod site;
mod site_many;
mod state;
mod strings;
mod thermostat;
mod totp;

use std::cell::Cell;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Error;

pub use status::hmx_status;
#[cfg(test)]
pub(crate) use {
    client::hmx_client_new,
    handles::hmx_free,
    totp::{hmx_sign_request, hmx_totp},
};

// The version constants exist for the header; Rust code reads crate::VERSION.
#[allow(dead_code)]
/// The major version, as in `Cargo.toml` (checked by a test).
pub const HMX_VERSION_MAJOR: u32 = 0;
#[allow(dead_code)]
/// The minor version, as in `Cargo.toml` (checked by a test).
pub const HMX_VERSION_MINOR: u32 = 1;
#[allow(dead_code)]
/// The patch version, as in `Cargo.toml` (checked by a test).
pub const HMX_VERSION_PATCH: u32 = 0;

/// Runs one entry point's body: maps its error to a status and a message in
/// `err_buf` (and the HTTP details for `hmx_last_http_status`), clears
/// `err_buf` on success, and turns a panic into `HMX_STATUS_PANIC`.
///
/// # Safety
/// `err_buf` must be NULL or point to `err_len` writable bytes.
pub(crate) unsafe fn boundary(
    err_buf: *mut c_char,
    err_len: usize,
    body: impl FnOnce() -> Result<(), Error>,
) -> hmx_status {
    LAST_FAILURE.set((0, -1));
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => (hmx_status::HMX_STATUS_OK, String::new()),
        Ok(Err(e)) => {
            LAST_FAILURE.set(http_details(&e));
            (hmx_status::from(e.kind()), e.to_string())
        }
        Err(_) => (
            hmx_status::HMX_STATUS_PANIC,
            "internal error: hmx panicked; please report it".to_string(),
        ),
    };
    // SAFETY: the caller's contract on err_buf/err_len.
    unsafe { status::write_message(err_buf, err_len, &message) };
    status
}

/// [`boundary`] for an entry point with one out-parameter, `out` (called
/// `name`): it is checked first, and written with `body`'s value only on success.
///
/// # Safety
/// As for [`boundary`]; `out` must be NULL or writable.
pub(crate) unsafe fn boundary_out<T>(
    out: *mut T,
    name: &str,
    err_buf: *mut c_char,
    err_len: usize,
    body: impl FnOnce() -> Result<T, Error>,
) -> hmx_status {
    // SAFETY: the caller's contract; `out` is written only once checked.
    unsafe {
        boundary(err_buf, err_len, || {
            out_arg(out, name)?;
            out.write(body()?);
            Ok(())
        })
    }
}

thread_local! {
    /// The HTTP status (0: none) and `Retry-After` seconds (-1: none) of the
    /// last failed call on this thread, for `hmx_last_*`; every call through
    /// [`boundary`] clears it when it starts.
    static LAST_FAILURE: Cell<(i32, i64)> = const { Cell::new((0, -1)) };
}

/// The HTTP details of `error`, as [`last_failure`] returns them.
fn http_details(error: &Error) -> (i32, i64) {
    let status = error.status().map_or(0, i32::from);
    let retry_after = error
        .retry_after()
        .map_or(-1, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    (status, retry_after)
}

/// The HTTP status and `Retry-After` seconds of the last failed call on this
/// thread: `(0, -1)` when it had none or the last fallible call succeeded.
pub(crate) fn last_failure() -> (i32, i64) {
    LAST_FAILURE.get()
}

/// [`boundary`] for entry points that return a value rather than a status:
/// a panic yields `fallback`.
pub(crate) fn boundary_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Borrows a C string argument: NULL or invalid UTF-8 is `InvalidArgument`.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Error::invalid(format!("{name} is not valid UTF-8")))
}

/// Like [`str_arg`], but NULL means "not given".
///
/// # Safety
/// As for [`str_arg`].
pub(crate) unsafe fn optional_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(ptr, name) }.map(Some)
    }
}

/// Checks an out-parameter before any work is done.
pub(crate) fn out_arg<T>(ptr: *mut T, name: &str) -> Result<(), Error> {
    if ptr.is_null() {
        Err(Error::invalid(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// The library version, e.g. `"0.1.0"`: a static string, never to be freed.
#[unsafe(no_mangle)]
pub extern "C" fn hmx_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Panics on purpose, to prove that a panic becomes `HMX_STATUS_PANIC` and
/// never unwinds into C. Built only with the `test-util` feature.
///
/// # Safety
/// `err_buf` must be NULL or point to `err_len` writable bytes.
#[cfg(feature = "test-util")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_test_panic(err_buf: *mut c_char, err_len: usize) -> hmx_status {
    // SAFETY: forwarded contract.
    // The one panic hmx has on purpose: what this function exists to prove.
    #[allow(clippy::panic)]
    unsafe {
        boundary(err_buf, err_len, || panic!("hmx_test_panic was called"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_constants_match_cargo_toml() {
        let parse = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(
            super::HMX_VERSION_MAJOR,
            parse(env!("CARGO_PKG_VERSION_MAJOR"))
        );
        assert_eq!(
            super::HMX_VERSION_MINOR,
            parse(env!("CARGO_PKG_VERSION_MINOR"))
        );
        assert_eq!(
            super::HMX_VERSION_PATCH,
            parse(env!("CARGO_PKG_VERSION_PATCH"))
        );
    }
}
