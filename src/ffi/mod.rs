//! The C ABI: a thin skin over the Rust API, declared in the generated `include/hmx.h`.
//!
//! Conventions (also in the README, "C API conventions"): every fallible
//! function returns an `hmx_status`; out-parameters are written only on
//! success; every pointer is checked for NULL and every string for UTF-8;
//! every entry point runs inside [`boundary`], so no panic crosses into C.

mod status;

mod builder;
mod client;
mod device;
mod handles;
mod last_error;
mod local;
mod totp;

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Error, ErrorKind};

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
    last_error::clear();
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => (hmx_status::HMX_STATUS_OK, String::new()),
        Ok(Err(e)) => {
            last_error::record(&e);
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

impl From<ErrorKind> for hmx_status {
    fn from(kind: ErrorKind) -> hmx_status {
        match kind {
            ErrorKind::InvalidArgument => hmx_status::HMX_STATUS_INVALID_ARGUMENT,
            ErrorKind::Auth => hmx_status::HMX_STATUS_AUTH,
            ErrorKind::RateLimited => hmx_status::HMX_STATUS_RATE_LIMITED,
            ErrorKind::Network => hmx_status::HMX_STATUS_NETWORK,
            ErrorKind::Timeout => hmx_status::HMX_STATUS_TIMEOUT,
            ErrorKind::Tls => hmx_status::HMX_STATUS_TLS,
            ErrorKind::Http => hmx_status::HMX_STATUS_HTTP,
            ErrorKind::Protocol => hmx_status::HMX_STATUS_PROTOCOL,
            ErrorKind::NotFound => hmx_status::HMX_STATUS_NOT_FOUND,
            ErrorKind::Blocked => hmx_status::HMX_STATUS_BLOCKED,
        }
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
    unsafe { boundary(err_buf, err_len, || panic!("hmx_test_panic was called")) }
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
