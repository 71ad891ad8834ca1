//! TOTP tokens and signed local-API request bodies from C.

use std::ffi::c_char;
use std::ptr;

use super::strings::hand_out_secret;
use super::{boundary, boundary_out, boundary_value, hmx_status, out_arg, str_arg};
use crate::{Error, local, totp};

/// Digits in a device token; `hmx_totp` needs a buffer of at least this plus one.
pub const HMX_TOTP_DIGITS: u32 = 9;
#[allow(dead_code)] // for the header
/// Seconds a device token is valid.
pub const HMX_TOTP_PERIOD: u32 = 30;
#[allow(dead_code)] // for the header
/// 2000-01-01T00:00:00Z as Unix time: the device clock's zero.
pub const HMX_DEVICE_EPOCH_UNIX: u64 = 946_684_800;

/// Writes the 9-digit token for `device_time` (seconds since
/// 2000-01-01T00:00:00Z) under `totp_key` (its bytes as given, not base32) into
/// `code_buf`, NUL-terminated. `code_len` must be at least 10. Allocates nothing.
///
/// # Safety
/// `totp_key` NULL or NUL-terminated; `code_buf` NULL or `code_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_totp(
    totp_key: *const c_char,
    device_time: u32,
    code_buf: *mut c_char,
    code_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            out_arg(code_buf, "code_buf")?;
            if code_len <= HMX_TOTP_DIGITS as usize {
                return Err(Error::invalid("code_len must be at least 10"));
            }
            let key = str_arg(totp_key, "totp_key")?;
            let digits = totp::code(key.as_bytes(), device_time).digits();
            ptr::copy_nonoverlapping(digits.as_ptr(), code_buf.cast::<u8>(), digits.len());
            *code_buf.add(digits.len()) = 0;
            Ok(())
        })
    }
}

/// Device time from this machine's clock: seconds since 2000-01-01T00:00:00Z
/// (0 if the clock is before 2000).
#[unsafe(no_mangle)]
pub extern "C" fn hmx_device_time_now() -> u32 {
    boundary_value(0, totp::device_time_now)
}

/// Builds the signed body for the device's local API:
/// `{"sn":..,"time":"<device_time>","auth":"<token>", <data_json's members>}`.
/// `data_json` must be a JSON object without `sn`, `time` or `auth`. On
/// success `*body_out` is a string to free with `hmx_free`.
///
/// # Safety
/// Strings NULL or NUL-terminated; `body_out` NULL or writable; `err_buf`
/// NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_sign_request(
    totp_key: *const c_char,
    sn: *const c_char,
    device_time: u32,
    data_json: *const c_char,
    body_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(body_out, "body_out", err_buf, err_len, || {
            let key = str_arg(totp_key, "totp_key")?;
            let sn = str_arg(sn, "sn")?;
            let data = str_arg(data_json, "data_json")?;
            let body = local::sign_request(key.as_bytes(), sn, device_time, data)?;
            Ok(hand_out_secret(&body))
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn constants_match_totp() {
        assert_eq!(super::HMX_TOTP_DIGITS, crate::totp::DIGITS);
        assert_eq!(super::HMX_TOTP_PERIOD, crate::totp::PERIOD);
        assert_eq!(super::HMX_DEVICE_EPOCH_UNIX, crate::totp::DEVICE_EPOCH_UNIX);
    }
}
