//! Client settings from C: a builder with one setter per `ClientBuilder` setting.

use std::ffi::c_char;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::{hand_out_client, hmx_client};
use super::handles::{self, Owned};
use super::{boundary, boundary_out, hmx_status, optional_str_arg, str_arg};
use crate::sync::lock;
use crate::{Client, ClientBuilder, Error, Roots};

/// Settings for a client, from `hmx_client_builder_new`. Opaque; free with
/// `hmx_free`. Setters store a value and `hmx_client_builder_build` checks
/// them all, as `ClientBuilder::build` does in Rust; build as often as you like.
#[allow(non_camel_case_types)]
pub struct hmx_client_builder {
    _private: [u8; 0],
}

/// What an `hmx_client_builder` is: the settings so far.
impl Owned for Mutex<ClientBuilder> {
    fn address(&self) -> usize {
        ptr::from_ref(self) as usize
    }
}

/// The settings behind a C pointer.
fn settings(builder: *const hmx_client_builder) -> Result<Arc<Mutex<ClientBuilder>>, Error> {
    handles::arg(builder, "builder", "hmx client builder")
}

/// Runs one setter entry point: applies `setter` to the settings behind
/// `builder`, which stay as they were if it fails.
fn set(
    builder: *mut hmx_client_builder,
    setter: impl FnOnce(ClientBuilder) -> Result<ClientBuilder, Error>,
) -> hmx_status {
    // SAFETY: no error buffer; the builder is reached only through the registry.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            let settings = settings(builder)?;
            let mut settings = lock(&settings);
            *settings = setter(settings.clone())?;
            Ok(())
        })
    }
}

/// Makes a builder with the defaults of `hmx_client_new(NULL, 0, NULL, ...)`:
/// Terneo's cloud, 10 s to connect, 30 s a request, public roots, `Accept-Language: en`.
///
/// # Safety
/// `builder_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_new(
    builder_out: *mut *mut hmx_client_builder,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(builder_out, "builder_out", ptr::null_mut(), 0, || {
            let settings = Mutex::new(Client::builder());
            Ok(handles::hand_out(settings) as *mut hmx_client_builder)
        })
    }
}

/// The cloud to talk to, e.g. `HMX_WELROK_URL`: `https://` only, or `http://`
/// for loopback hosts. Checked by `hmx_client_builder_build`.
///
/// # Safety
/// `builder` NULL or from `hmx_client_builder_new`; `url` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_base_url(
    builder: *mut hmx_client_builder,
    url: *const c_char,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    set(builder, |b| Ok(b.base_url(unsafe { str_arg(url, "url") }?)))
}

/// Bound on each request, from connecting to the last body byte, in
/// milliseconds; default 30000. 0 is refused by `hmx_client_builder_build`.
///
/// # Safety
/// `builder` NULL or from `hmx_client_builder_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_timeout_ms(
    builder: *mut hmx_client_builder,
    request_ms: u32,
) -> hmx_status {
    set(builder, |b| {
        Ok(b.timeout(Duration::from_millis(request_ms.into())))
    })
}

/// Bound on connecting (TCP and TLS handshake), in milliseconds; default
/// 10000, and never more than the request timeout. 0 is refused by
/// `hmx_client_builder_build`.
///
/// # Safety
/// `builder` NULL or from `hmx_client_builder_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_connect_timeout_ms(
    builder: *mut hmx_client_builder,
    connect_ms: u32,
) -> hmx_status {
    set(builder, |b| {
        Ok(b.connect_timeout(Duration::from_millis(connect_ms.into())))
    })
}

/// Trust only the certificates in this PEM text instead of the public roots.
/// Checked by `hmx_client_builder_build`.
///
/// # Safety
/// `builder` NULL or from `hmx_client_builder_new`; `pem` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_root_ca_pem(
    builder: *mut hmx_client_builder,
    pem: *const c_char,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    set(builder, |b| {
        Ok(b.root_ca_pem(unsafe { str_arg(pem, "pem") }?))
    })
}

/// The `Accept-Language` header, which picks the language of the cloud's
/// messages; default `"en"`. Checked by `hmx_client_builder_build`.
///
/// # Safety
/// `builder` NULL or from `hmx_client_builder_new`; `lang` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_accept_language(
    builder: *mut hmx_client_builder,
    lang: *const c_char,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    set(builder, |b| {
        Ok(b.accept_language(unsafe { str_arg(lang, "lang") }?))
    })
}

/// Send requests through this proxy: `http://[user:password@]host[:port]`
/// (with `CONNECT`), or `socks5h://`, `socks5://`, `socks4a://`, `socks4://`
/// (the rules of the Rust `ClientBuilder::proxy`; https base URLs only; the
/// proxy never sees the password, the token or a key). NULL: no proxy, whatever the environment says. Without
/// this call the environment decides (`https_proxy`, `HTTPS_PROXY`,
/// `all_proxy`, `ALL_PROXY`, minus `NO_PROXY`). Checked by `hmx_client_builder_build`.
///
/// # Safety
/// `builder` NULL or from `hmx_client_builder_new`; `url` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_proxy(
    builder: *mut hmx_client_builder,
    url: *const c_char,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    set(builder, |b| {
        match unsafe { optional_str_arg(url, "url") }? {
            Some(url) => Ok(b.proxy(url)),
            None => Ok(b.no_proxy()),
        }
    })
}

/// Trust the operating system's certificate store (on Linux `SSL_CERT_FILE`
/// or `SSL_CERT_DIR` when set, else the distribution's bundle) instead of the
/// public roots built into hmx. A later `hmx_client_builder_root_ca_pem`
/// replaces it, as this replaces an earlier PEM.
///
/// # Safety
/// `builder` NULL or from `hmx_client_builder_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_system_roots(
    builder: *mut hmx_client_builder,
) -> hmx_status {
    set(builder, |b| Ok(b.roots(Roots::System)))
}

/// Checks the settings and makes a client, as `ClientBuilder::build` does: a
/// bad URL, a zero timeout, an unusable language or PEM is
/// `HMX_STATUS_INVALID_ARGUMENT` with the reason in `err_buf`. The builder is
/// unchanged and may build again.
///
/// # Safety
/// `builder` NULL or from `hmx_client_builder_new`; `client_out` NULL or
/// writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_client_builder_build(
    builder: *const hmx_client_builder,
    client_out: *mut *mut hmx_client,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(client_out, "client_out", err_buf, err_len, || {
            let settings = lock(&*settings(builder)?).clone();
            Ok(hand_out_client(settings.build()?))
        })
    }
}
