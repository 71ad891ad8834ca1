//! Client settings from C: a builder with one setter per `ClientBuilder` setting.

use std::ffi::c_char;
use std::ptr;
use std::sync::Mutex;
use std::time::Duration;

use super::client::{hand_out_client, hmx_client};
use super::handles::{self, Handle};
use super::{boundary, hmx_status, optional_str_arg, out_arg, str_arg};
use crate::{Client, ClientBuilder, Error, Roots};

/// Settings for a client, from `hmx_client_builder_new`. Opaque; free with
/// `hmx_free`. Setters store a value and `hmx_client_builder_build` checks
/// them all, as `ClientBuilder::build` does in Rust; build as often as you like.
#[allow(non_camel_case_types)]
pub struct hmx_client_builder {
    _private: [u8; 0],
}

/// The builder behind a C pointer, locked for the duration of `f`.
fn with_builder<T>(
    builder: *const hmx_client_builder,
    f: impl FnOnce(&mut ClientBuilder) -> T,
) -> Result<T, Error> {
    if builder.is_null() {
        return Err(Error::invalid("builder is NULL"));
    }
    handles::with_builder(builder as usize, |b| {
        let mut b = b.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut b)
    })
    .ok_or_else(|| Error::invalid("builder is not a live hmx client builder"))
}

/// Applies one `ClientBuilder` setter to the builder behind `builder`.
fn set(
    builder: *mut hmx_client_builder,
    setter: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<(), Error> {
    with_builder(builder, |b| *b = setter(b.clone()))
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
        boundary(ptr::null_mut(), 0, || {
            out_arg(builder_out, "builder_out")?;
            let builder = Box::new(Mutex::new(Client::builder()));
            *builder_out = handles::hand_out(Handle::Builder(builder)) as *mut hmx_client_builder;
            Ok(())
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
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            let url = str_arg(url, "url")?;
            set(builder, |b| b.base_url(url))
        })
    }
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
    // SAFETY: no pointer is read but through the registry.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            set(builder, |b| {
                b.timeout(Duration::from_millis(request_ms.into()))
            })
        })
    }
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
    // SAFETY: no pointer is read but through the registry.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            set(builder, |b| {
                b.connect_timeout(Duration::from_millis(connect_ms.into()))
            })
        })
    }
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
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            let pem = str_arg(pem, "pem")?;
            set(builder, |b| b.root_ca_pem(pem))
        })
    }
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
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            let lang = str_arg(lang, "lang")?;
            set(builder, |b| b.accept_language(lang))
        })
    }
}

/// Send requests through this HTTP proxy, `http://[user:password@]host[:port]`,
/// with `CONNECT` (https base URLs only; the proxy never sees the password,
/// the token or a key). NULL: no proxy, whatever the environment says. Without
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
    unsafe {
        boundary(ptr::null_mut(), 0, || match optional_str_arg(url, "url")? {
            Some(url) => set(builder, |b| b.proxy(url)),
            None => set(builder, ClientBuilder::no_proxy),
        })
    }
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
    // SAFETY: no pointer is read but through the registry.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            set(builder, |b| b.roots(Roots::System))
        })
    }
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
        boundary(err_buf, err_len, || {
            out_arg(client_out, "client_out")?;
            let settings = with_builder(builder, |b| b.clone())?;
            *client_out = hand_out_client(settings.build()?);
            Ok(())
        })
    }
}
