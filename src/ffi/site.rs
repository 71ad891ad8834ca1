//! A site from C: the account's thermostats by name in one file, through
//! the Rust `Site` and its rules (sync, finding moved devices and changed
//! keys, health), one call at a time per site.

use std::ffi::c_char;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::hmx_client;
use super::handles::{self, Owned};
use super::state::hmx_state;
use super::strings::hand_out_secret;
use super::thermostat::hmx_thermostat;
use super::{boundary, boundary_out, hmx_status, optional_str_arg, str_arg};
use crate::local::{self, parse_controls};
use crate::site::Site;
use crate::sync::lock;
use crate::totp::Scheme;
use crate::{Client, Error};

/// The thermostats of one account, kept in one file, from `hmx_site_open`.
/// Opaque; free with `hmx_free` (which wipes the keys, the token and the
/// password it holds). One site may be used by many threads at once, but its
/// calls run one at a time, in turn: a call waits while another thread's
/// sync or control on the same site runs. Two sites (in one process or in
/// two) may share a file: every change is saved at once, under a lock.
#[allow(non_camel_case_types)]
pub struct hmx_site {
    _private: [u8; 0],
}

/// What an `hmx_site` is: the Rust site behind a lock. `None` only if a
/// setting panicked while it had the site out of its place.
struct Shared(Mutex<Option<Site>>);

impl Owned for Shared {
    fn address(&self) -> usize {
        ptr::from_ref(self) as usize
    }
}

/// Runs `f` on the site behind `site`, holding its lock.
pub(super) fn with_site<T>(
    site: *const hmx_site,
    f: impl FnOnce(&mut Site) -> Result<T, Error>,
) -> Result<T, Error> {
    let shared: Arc<Shared> = handles::arg(site, "site", "hmx site")?;
    let mut guard = lock(&shared.0);
    let site = guard.as_mut().ok_or_else(|| {
        Error::invalid("the site is unusable after an internal error: free it and open it again")
    })?;
    f(site)
}

/// Replaces the site behind `site` with `f` of it (the Rust settings take
/// the site by value).
fn rebuild(site: *mut hmx_site, f: impl FnOnce(Site) -> Site) -> Result<(), Error> {
    let shared: Arc<Shared> = handles::arg(site, "site", "hmx site")?;
    let mut guard = lock(&shared.0);
    let taken = guard.take().ok_or_else(|| {
        Error::invalid("the site is unusable after an internal error: free it and open it again")
    })?;
    *guard = Some(f(taken));
    Ok(())
}

/// `value` as JSON text handed to C, to be freed with `hmx_free`.
fn hand_out_json(value: &impl serde::Serialize, what: &str) -> Result<*mut c_char, Error> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::protocol(format!("{what} as JSON: {e}")))?;
    Ok(hand_out_secret(&text))
}

/// Opens the site kept in the file at `path` (UTF-8); NULL: the default
/// place, `$HMX_SITE`, else `$XDG_CONFIG_HOME/hmx/site.json`, else
/// `~/.config/hmx/site.json`. A missing file is an empty site (nothing is
/// written until a change). A file that is corrupt, not a site file, of a
/// newer format, or readable or writable by others (it holds keys and a
/// token: it must be mode 0600) is `HMX_STATUS_STORAGE` with a message
/// naming the file, and is left as it was; so is no default place (none of
/// `HMX_SITE`, `XDG_CONFIG_HOME` and `HOME` set).
///
/// The settings (`hmx_site_set_*`) start at their defaults: the vendor's
/// cloud (Terneo's), no password, discovery on port 23500 for 35 s, 5 s a
/// request and a second between requests to one device. They are never
/// saved. On success `*site_out` is a site to free with `hmx_free`.
///
/// # Safety
/// `path` NULL or NUL-terminated; `site_out` NULL or writable; `err_buf`
/// NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_open(
    path: *const c_char,
    site_out: *mut *mut hmx_site,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(site_out, "site_out", err_buf, err_len, || {
            let site = match optional_str_arg(path, "path")? {
                Some(path) => Site::open(path)?,
                None => Site::open_default()?,
            };
            Ok(handles::hand_out(Shared(Mutex::new(Some(site)))) as *mut hmx_site)
        })
    }
}

/// The file the site is kept in, as UTF-8 text in `*path_out` (free with
/// `hmx_free`; a byte of the path that is not UTF-8 shows as U+FFFD).
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `path_out` NULL or writable;
/// `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_path(
    site: *const hmx_site,
    path_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(path_out, "path_out", err_buf, err_len, || {
            with_site(site, |s| Ok(hand_out_secret(&s.path().to_string_lossy())))
        })
    }
}

/// The cloud client to fetch keys with (for `hmx_site_sync` and when a
/// device refuses its key): a client from `hmx_client_new` or
/// `hmx_client_builder_build`, with its URL, roots, proxy and timeouts. The
/// site keeps its own reference: the client may be freed after this call.
/// Without this call: the vendor's cloud (Terneo's) with the environment's
/// proxy. A saved token is used only with the cloud it came from. NULL
/// `site` or `client`, or a pointer that is not a live site or client, is
/// `HMX_STATUS_INVALID_ARGUMENT`. Not saved.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `client` NULL or from hmx.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_set_client(
    site: *mut hmx_site,
    client: *const hmx_client,
) -> hmx_status {
    // SAFETY: no error buffer; both handles are reached only through the registry.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            let client: Arc<Client> = handles::arg(client, "client", "hmx client")?;
            rebuild(site, |s| s.cloud(client))
        })
    }
}

/// The account password, for a login when the site has no saved token or
/// the cloud refuses it. The site keeps a copy, wiped when it is freed or
/// the password is set again; it is never saved and never in a message.
/// NULL or invalid UTF-8 is `HMX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `password` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_set_password(
    site: *mut hmx_site,
    password: *const c_char,
) -> hmx_status {
    // SAFETY: no error buffer; the caller's contract on `password`.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            let password = str_arg(password, "password")?.to_string();
            rebuild(site, |s| s.password(password))
        })
    }
}

/// Where and how long to listen for the devices' announcements, by
/// `hmx_site_sync` and when a device does not answer at its saved address:
/// `port` 0 is 23500, `wait_ms` 0 is 35000 (devices announce about every
/// 30 s, so a shorter wait may miss some). Not saved.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_set_discovery(
    site: *mut hmx_site,
    port: u16,
    wait_ms: u32,
) -> hmx_status {
    let port = if port == 0 {
        local::DISCOVERY_PORT
    } else {
        port
    };
    let wait = match wait_ms {
        0 => local::DISCOVERY_WAIT,
        ms => Duration::from_millis(ms.into()),
    };
    // SAFETY: no error buffer; the site is reached only through the registry.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            rebuild(site, |s| s.discovery(port, wait))
        })
    }
}

/// Bound on each device request, connecting included (`timeout_ms`; 0:
/// 5000), and the quiet time between two requests to one device
/// (`min_interval_ms`; 0: 1000), for every device call of the site and the
/// thermostat handles `hmx_site_thermostat` makes. Not saved.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_set_timeouts(
    site: *mut hmx_site,
    timeout_ms: u32,
    min_interval_ms: u32,
) -> hmx_status {
    let or = |ms: u32, default: Duration| match ms {
        0 => default,
        ms => Duration::from_millis(ms.into()),
    };
    let timeout = or(timeout_ms, local::DEFAULT_TIMEOUT);
    let min_interval = or(min_interval_ms, local::DEFAULT_MIN_INTERVAL);
    // SAFETY: no error buffer; the site is reached only through the registry.
    unsafe {
        boundary(ptr::null_mut(), 0, || {
            rebuild(site, |s| s.timeout(timeout, min_interval))
        })
    }
}

/// Builds the site from the cloud and the LAN, and saves it: every page of
/// the account's devices and keys (the saved token first; a login with the
/// password only when there is none or the cloud refuses it), then the
/// announcements heard during the discovery wait, joined by serial number.
/// `email` NULL: the account the site was synced from (none yet is
/// `HMX_STATUS_INVALID_ARGUMENT`). No token and no password, or a refused
/// one, is `HMX_STATUS_AUTH`; the cloud's other failures are as for
/// `hmx_list_devices` (with `hmx_last_http_status`).
///
/// `*report_json_out` (free with `hmx_free`) lists serial numbers:
/// `{"joined":[...],"cloud_only":[...],"lan_only":[...],"logged_in":true}`
/// (in the cloud and heard on the LAN; in the cloud only; heard only, with
/// no key; whether a login was made). Announcements carry only an address:
/// a device answering on another port than 80 needs `hmx_site_set_address`.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `email` NULL or NUL-terminated;
/// `report_json_out` NULL or writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_sync(
    site: *mut hmx_site,
    email: *const c_char,
    report_json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(report_json_out, "report_json_out", err_buf, err_len, || {
            let email = optional_str_arg(email, "email")?;
            let report = with_site(site, |s| s.sync(email))?;
            hand_out_json(&report, "the sync report")
        })
    }
}

/// Every device of the site, in the order first synced, as a JSON array in
/// `*json_out` (free with `hmx_free`); no key, only whether there is one:
/// `[{"sn":"...","name":"Kitchen","has_key":true,"scheme":"raw-2000",
/// "address":"192.168.1.40","hw":"sx","last_seen":1767225600,
/// "in_cloud":true,"on_lan":true,"health":{"failures":0,
/// "failing_since":null,"last_success":1767225600,"last_latency_ms":180}}]`
/// (unknown values `null`; times in seconds since 1970). An empty site is `[]`.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `json_out` NULL or writable;
/// `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_devices_json(
    site: *const hmx_site,
    json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(json_out, "json_out", err_buf, err_len, || {
            with_site(site, |s| hand_out_json(&s.devices(), "the devices"))
        })
    }
}

/// The one device `query` names, as one object of `hmx_site_devices_json`
/// in `*json_out` (free with `hmx_free`). A query is a name (case ignored;
/// the start of a name will do when only one name starts so), a serial
/// number or a saved address, as for every `query` below. None matching is
/// `HMX_STATUS_NOT_FOUND`; a start of several names is
/// `HMX_STATUS_INVALID_ARGUMENT` listing them; so is an empty query.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `query` NULL or NUL-terminated;
/// `json_out` NULL or writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_get_json(
    site: *const hmx_site,
    query: *const c_char,
    json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(json_out, "json_out", err_buf, err_len, || {
            let query = str_arg(query, "query")?;
            with_site(site, |s| hand_out_json(s.get(query)?, "the device"))
        })
    }
}

/// A thermostat handle (see `hmx_thermostat_new`) for the device `query`
/// names, at its saved address, with its key and token scheme and the
/// site's timeouts; free it with `hmx_free`. The handle is on its own: it
/// does not look for a device that moved, fetch a changed key or keep the
/// device's health (`hmx_site_state` and `hmx_site_control` do). A device
/// never heard on the LAN has no address: `HMX_STATUS_NOT_FOUND`.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `query` NULL or NUL-terminated;
/// `thermostat_out` NULL or writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_thermostat(
    site: *const hmx_site,
    query: *const c_char,
    thermostat_out: *mut *mut hmx_thermostat,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(thermostat_out, "thermostat_out", err_buf, err_len, || {
            let query = str_arg(query, "query")?;
            let t = with_site(site, |s| s.thermostat(query))?;
            Ok(handles::hand_out(t) as *mut hmx_thermostat)
        })
    }
}

/// Reads the state of the device `query` names, as `hmx_thermostat_state`
/// does, and finds its way back as the Rust `Site::call` does: when the
/// device does not answer at its saved address (or another device answers
/// there) the site listens for its announcement (at most the discovery
/// wait) and asks again at its new address; when it refuses the key and the
/// site has an account, the keys are fetched again (saved token first) and,
/// if its key changed, it is asked again. A success resets the device's
/// failure count; three unanswered requests in a row within 10 minutes give
/// a message saying the unit looks wedged (the status stays the failure's).
/// What changed (address, key, health) is saved before returning. On
/// success `*state_out` is filled.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `query` NULL or NUL-terminated;
/// `state_out` NULL or writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_state(
    site: *mut hmx_site,
    query: *const c_char,
    state_out: *mut hmx_state,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(state_out, "state_out", err_buf, err_len, || {
            let query = str_arg(query, "query")?;
            let state = with_site(site, |s| s.state(query))?;
            Ok(hmx_state::from(&state))
        })
    }
}

/// Writes named controls to the device `query` names, in one request:
/// `controls` as for `hmx_thermostat_control` (`"mode=manual
/// setpoint=21.5"`), checked against the unit's own list (a value it cannot
/// take is `HMX_STATUS_INVALID_ARGUMENT` and nothing is written), signed with
/// the device's key and scheme. Finds its way back as `hmx_site_state` does,
/// except that a write that may have reached the device is never sent again
/// at another address. Text that does not parse is
/// `HMX_STATUS_INVALID_ARGUMENT` before anything is sent.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `query` and `controls` NULL or
/// NUL-terminated; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_control(
    site: *mut hmx_site,
    query: *const c_char,
    controls: *const c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary(err_buf, err_len, || {
            let query = str_arg(query, "query")?;
            let controls = parse_controls(str_arg(controls, "controls")?)?;
            with_site(site, |s| s.control(query, &controls)).map(|_| ())
        })
    }
}

/// Sets the token scheme the device `query` names accepts (as
/// `hmx_thermostat_probe` found, or as you know): `"raw-2000"`, `"raw-unix"`,
/// `"base32-2000"` or `"base32-unix"` (ASCII case ignored; another is
/// `HMX_STATUS_INVALID_ARGUMENT`), and saves the site.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `query` and `scheme` NULL or
/// NUL-terminated; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_set_scheme(
    site: *mut hmx_site,
    query: *const c_char,
    scheme: *const c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary(err_buf, err_len, || {
            let query = str_arg(query, "query")?;
            let scheme: Scheme = str_arg(scheme, "scheme")?.parse()?;
            with_site(site, |s| s.set_scheme(query, scheme))
        })
    }
}

/// Sets the address the device `query` names is reached at, `ip` or
/// `ip:port` (as for `hmx_thermostat_new`: a unit with a fixed address, one
/// found by hand, or one answering on another port than 80, which
/// announcements do not tell), and saves the site. An address with a scheme
/// or path is `HMX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `site` NULL or from `hmx_site_open`; `query` and `address` NULL or
/// NUL-terminated; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_site_set_address(
    site: *mut hmx_site,
    query: *const c_char,
    address: *const c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary(err_buf, err_len, || {
            let query = str_arg(query, "query")?;
            let address = str_arg(address, "address")?;
            with_site(site, |s| s.set_address(query, address))
        })
    }
}
