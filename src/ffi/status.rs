//! Status codes: which error is which, their names, and the message in `err_buf`.

use std::ffi::{c_char, c_int};

use crate::error::ErrorKind;

/// The result of every fallible hmx function. The values are stable.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hmx_status {
    /// Success; out-parameters were written.
    HMX_STATUS_OK = 0,
    /// A NULL pointer, invalid UTF-8, a bad URL or PEM, or another unusable argument.
    HMX_STATUS_INVALID_ARGUMENT = 1,
    /// The cloud refused the credentials or the token.
    HMX_STATUS_AUTH = 2,
    /// The cloud answered 429 Too Many Requests.
    HMX_STATUS_RATE_LIMITED = 3,
    /// DNS failure, connection refused, reset or dropped.
    HMX_STATUS_NETWORK = 4,
    /// A connect or request timeout expired.
    HMX_STATUS_TIMEOUT = 5,
    /// Certificate verification or the TLS handshake failed.
    HMX_STATUS_TLS = 6,
    /// An unexpected HTTP status, including any redirect.
    HMX_STATUS_HTTP = 7,
    /// The answer broke the protocol (not JSON, wrong shape, too large, foreign `next`).
    HMX_STATUS_PROTOCOL = 8,
    /// The device looked for is not in the list.
    HMX_STATUS_NOT_FOUND = 9,
    /// hmx panicked internally; the panic was caught. Please report it.
    HMX_STATUS_PANIC = 10,
    /// The thermostat refused the request: LAN locking is on and the token was missing or wrong.
    HMX_STATUS_BLOCKED = 11,
    /// The site file cannot be read or written: corrupt, of a newer format, readable by others.
    HMX_STATUS_STORAGE = 12,
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
            ErrorKind::Storage => hmx_status::HMX_STATUS_STORAGE,
        }
    }
}

const NAMES: [&str; 13] = [
    "HMX_STATUS_OK\0",
    "HMX_STATUS_INVALID_ARGUMENT\0",
    "HMX_STATUS_AUTH\0",
    "HMX_STATUS_RATE_LIMITED\0",
    "HMX_STATUS_NETWORK\0",
    "HMX_STATUS_TIMEOUT\0",
    "HMX_STATUS_TLS\0",
    "HMX_STATUS_HTTP\0",
    "HMX_STATUS_PROTOCOL\0",
    "HMX_STATUS_NOT_FOUND\0",
    "HMX_STATUS_PANIC\0",
    "HMX_STATUS_BLOCKED\0",
    "HMX_STATUS_STORAGE\0",
];

/// The name of a status, e.g. `"HMX_STATUS_AUTH"`, or `"HMX_STATUS_UNKNOWN"`
/// for a value that is none. A static string, never to be freed. Takes a plain
/// `int` so that any value a caller holds is safe to pass.
#[unsafe(no_mangle)]
pub extern "C" fn hmx_status_name(status: c_int) -> *const c_char {
    let name = usize::try_from(status)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("HMX_STATUS_UNKNOWN\0");
    name.as_ptr().cast()
}

/// Writes `message` into `buf` (NUL-terminated, cut on a UTF-8 boundary to fit
/// `len`); an empty message leaves `buf` as the empty string.
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes.
pub(crate) unsafe fn write_message(buf: *mut c_char, len: usize, message: &str) {
    if buf.is_null() || len == 0 {
        return;
    }
    let mut n = message.len().min(len - 1);
    while !message.is_char_boundary(n) {
        n -= 1;
    }
    // SAFETY: n < len bytes fit, and the terminating NUL goes at index n < len.
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_follow_the_enum() {
        let name = |i| {
            unsafe { CStr::from_ptr(hmx_status_name(i)) }
                .to_str()
                .unwrap()
        };
        assert_eq!(
            name(hmx_status::HMX_STATUS_PANIC as i32),
            "HMX_STATUS_PANIC"
        );
        assert_eq!(name(hmx_status::HMX_STATUS_AUTH as i32), "HMX_STATUS_AUTH");
        assert_eq!(
            name(hmx_status::HMX_STATUS_BLOCKED as i32),
            "HMX_STATUS_BLOCKED"
        );
        assert_eq!(
            name(hmx_status::HMX_STATUS_STORAGE as i32),
            "HMX_STATUS_STORAGE"
        );
        assert_eq!(name(13), "HMX_STATUS_UNKNOWN");
        assert_eq!(name(-1), "HMX_STATUS_UNKNOWN");
    }

    #[test]
    fn messages_are_cut_on_char_boundaries() {
        let mut buf = [0x55 as c_char; 6];
        unsafe { write_message(buf.as_mut_ptr(), buf.len(), "abcdé") };
        assert_eq!(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_bytes(), b"abcd");
        unsafe { write_message(buf.as_mut_ptr(), 1, "xyz") };
        assert_eq!(buf[0], 0);
    }
}
