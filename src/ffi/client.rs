//! Clients from C: making one, logging in and listing devices.

use std::ffi::c_char;
use std::ptr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::device::{self, hmx_device_list};
use super::handles::{self, Owned};
use super::strings::hand_out_secret;
use super::{boundary_out, hmx_status, optional_str_arg, str_arg};
use crate::{Client, Error, Token};

/// A connection to one cloud, from `hmx_client_new`. Opaque; free with
/// `hmx_free`. One client may be used by many threads at once.
#[allow(non_camel_case_types)]
pub struct hmx_client {
    _private: [u8; 0],
}

impl Owned for Client {
    fn address(&self) -> usize {
        ptr::from_ref(self) as usize
    }
}

/// The client behind `client`: the process-wide default one for NULL.
fn resolve(client: *const hmx_client) -> Result<Arc<Client>, Error> {
    static DEFAULT: OnceLock<Arc<Client>> = OnceLock::new();
    if client.is_null() {
        return Ok(DEFAULT.get_or_init(|| Arc::new(Client::new())).clone());
    }
    handles::arg(client, "client", "hmx client")
}

/// Hands C a client, to be freed by `hmx_free`.
pub(crate) fn hand_out_client(client: Client) -> *mut hmx_client {
    handles::hand_out(client) as *mut hmx_client
}

/// Makes a client. `base_url` NULL means `https://my.hmarex.com`; `timeout_ms`
/// 0 means the defaults (10 s to connect, 30 s a request), otherwise it bounds
/// each request, connecting included; `root_ca_pem` NULL means the public
/// roots. An unparsable or non-https remote URL, or a PEM without a usable
/// certificate, is `HMX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// String arguments must be NULL or NUL-terminated; `client_out` NULL or
/// writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_new(
    base_url: *const c_char,
    timeout_ms: u32,
    root_ca_pem: *const c_char,
    client_out: *mut *mut hmx_client,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(client_out, "client_out", err_buf, err_len, || {
            let mut builder = Client::builder();
            if let Some(url) = optional_str_arg(base_url, "base_url")? {
                builder = builder.base_url(url);
            }
            if timeout_ms > 0 {
                let t = Duration::from_millis(timeout_ms.into());
                builder = builder.timeout(t).connect_timeout(t);
            }
            if let Some(pem) = optional_str_arg(root_ca_pem, "root_ca_pem")? {
                builder = builder.root_ca_pem(pem);
            }
            Ok(hand_out_client(builder.build()?))
        })
    }
}

/// Logs in (`POST /api/login/`) and returns the session token in
/// `*token_out`, a NUL-terminated string to free with `hmx_free` (which wipes
/// it). `client` NULL uses a process-wide default client (Terneo's cloud).
///
/// # Safety
/// As for `hmx_client_new`; `client` must be NULL or from `hmx_client_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_login(
    client: *const hmx_client,
    email: *const c_char,
    password: *const c_char,
    token_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(token_out, "token_out", err_buf, err_len, || {
            let email = str_arg(email, "email")?;
            let password = str_arg(password, "password")?;
            let token = resolve(client)?.login(email, password)?;
            Ok(hand_out_secret(token.as_str()))
        })
    }
}

/// Lists every device on every page (`GET /api/device/`) with `token`. On
/// success `*list_out` is a list to free with `hmx_free` (which wipes the
/// keys). `client` NULL uses the process-wide default client.
///
/// # Safety
/// As for `hmx_login`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_list_devices(
    client: *const hmx_client,
    token: *const c_char,
    list_out: *mut *mut hmx_device_list,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(list_out, "list_out", err_buf, err_len, || {
            let token = Token::new(str_arg(token, "token")?)?;
            let devices = resolve(client)?.list_devices(&token)?;
            Ok(device::hand_out(devices))
        })
    }
}
