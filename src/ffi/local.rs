//! The thermostat on the LAN from C: discovery, and requests to its `api.cgi`.

use std::ffi::c_char;
use std::ptr;
use std::time::Duration;

use serde_json::Value;

use super::handles::{self, Owned};
use super::strings::{CStrings, hand_out_secret};
use super::{boundary_out, hmx_status, optional_str_arg, str_arg};
use crate::local::{self, Found, Parameter, Thermostat, Written};
use crate::{Error, TotpKey};

/// One device heard on the LAN. The strings belong to the list.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct hmx_found {
    /// The serial number; never NULL.
    pub sn: *const c_char,
    /// The address its newest announcement came from, e.g. `"192.168.1.23"`; never NULL.
    pub ip: *const c_char,
    /// The hardware family (`"sx"`, `"ax"`, ...); NULL when the packet had none.
    pub hw: *const c_char,
    /// The connection state (`"cloudCon"`, `"wiFiCon"`, ...); NULL when the packet had none.
    pub connection: *const c_char,
    /// Wi-Fi signal in dBm; 0 when the packet had none.
    pub wifi_dbm: i32,
    /// Whether the device says it uses the cloud; false when the packet did not say.
    pub cloud: bool,
}

/// The devices heard, one per serial number, in the order first heard. Free with `hmx_free`.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct hmx_found_list {
    /// How many devices `items` holds.
    pub len: usize,
    /// The devices; NULL when `len` is 0.
    pub items: *const hmx_found,
}

/// The C view of a discovery result and the strings it points into.
pub(crate) struct FoundList {
    c_list: hmx_found_list,
    _items: Vec<hmx_found>,
    _strings: CStrings,
}

// SAFETY: the raw pointers point into the list's own heap buffers, which are
// never mutated after construction; sharing them between threads is sound.
unsafe impl Send for FoundList {}
unsafe impl Sync for FoundList {}

impl FoundList {
    fn new(found: &[Found]) -> FoundList {
        let mut strings = CStrings::with_capacity(found.len() * 4);
        let items: Vec<hmx_found> = found
            .iter()
            .map(|f| hmx_found {
                sn: strings.keep(&f.sn),
                ip: strings.keep(&f.ip.to_string()),
                hw: strings.keep_some(f.hw.as_deref()),
                connection: strings.keep_some(f.connection.as_deref()),
                wifi_dbm: f.wifi.unwrap_or(0),
                cloud: f.cloud.unwrap_or(false),
            })
            .collect();
        FoundList {
            c_list: hmx_found_list {
                len: items.len(),
                items: items.first().map_or(ptr::null(), ptr::from_ref),
            },
            _items: items,
            _strings: strings,
        }
    }
}

impl Owned for FoundList {
    fn address(&self) -> usize {
        ptr::from_ref(&self.c_list) as usize
    }
}

/// Listens for the UDP announcements thermostats broadcast (about every 30
/// s) on `port` (0: 23500) for `duration_ms` and returns one entry per serial
/// number with the address of its newest announcement. The socket shares the
/// port with other listeners (a home-automation hub). On success `*list_out`
/// is a list to free with `hmx_free`; a port that cannot be bound is
/// `HMX_STATUS_NETWORK`.
///
/// # Safety
/// `list_out` NULL or writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_discover(
    port: u16,
    duration_ms: u32,
    list_out: *mut *mut hmx_found_list,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(list_out, "list_out", err_buf, err_len, || {
            let port = if port == 0 {
                local::DISCOVERY_PORT
            } else {
                port
            };
            let found = local::discover(port, Duration::from_millis(duration_ms.into()))?;
            Ok(handles::hand_out(FoundList::new(&found)) as *mut hmx_found_list)
        })
    }
}

/// A client for one call: what every `hmx_local_*` function starts with,
/// and `hmx_thermostat_new` too.
///
/// # Safety
/// As for the entry points: NULL or NUL-terminated strings.
pub(super) unsafe fn thermostat(
    host: *const c_char,
    sn: *const c_char,
    totp_key: *const c_char,
    timeout_ms: u32,
) -> Result<Thermostat, Error> {
    // SAFETY: forwarded contract.
    let (host, sn, key) = unsafe {
        (
            str_arg(host, "host")?,
            str_arg(sn, "sn")?,
            optional_str_arg(totp_key, "totp_key")?,
        )
    };
    let mut t = Thermostat::new(host, sn)?;
    if let Some(key) = key {
        t = t.key(TotpKey::new(key.to_string()));
    }
    if timeout_ms > 0 {
        t = t.timeout(Duration::from_millis(timeout_ms.into()));
    }
    Ok(t)
}

/// `request_json` as JSON, for `Thermostat::request` (which checks its shape).
///
/// # Safety
/// `request_json` NULL or NUL-terminated.
pub(super) unsafe fn request_arg(request_json: *const c_char) -> Result<Value, Error> {
    // SAFETY: forwarded contract.
    let request = unsafe { str_arg(request_json, "request_json") }?;
    serde_json::from_str(request)
        .map_err(|e| Error::invalid(format!("request_json is not JSON: {e}")))
}

/// Sends one request to the thermostat at `host` (an IP or name, optional
/// `:port`) whose serial is `sn`, and returns its answer as JSON text in
/// `*reply_json_out` (free with `hmx_free`).
///
/// `request_json` is a JSON object without `sn`, `time` and `auth`:
/// `{"cmd":1}` to `{"cmd":4}` read (parameters, schedule, clock, telemetry);
/// anything else is a write, e.g. `{"par":[[23,2,"5"]]}` with the type code the
/// device reports for that id. With `totp_key` a write is signed with the
/// device's own clock, read just before. One request at a time per device
/// and a quiet second between requests, across every call in this process;
/// reads are retried on busy, empty or cut-off answers, writes only after
/// busy. `{"success":"block"}` is `HMX_STATUS_BLOCKED`. `timeout_ms` 0: 5 s.
///
/// # Safety
/// Strings NULL or NUL-terminated (`totp_key` may be NULL: unsigned);
/// `reply_json_out` NULL or writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_local_request(
    host: *const c_char,
    sn: *const c_char,
    totp_key: *const c_char,
    request_json: *const c_char,
    timeout_ms: u32,
    reply_json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(reply_json_out, "reply_json_out", err_buf, err_len, || {
            let request = request_arg(request_json)?;
            let t = thermostat(host, sn, totp_key, timeout_ms)?;
            let reply = t.request(request)?;
            Ok(hand_out_secret(&Value::Object(reply).to_string()))
        })
    }
}

/// Writes parameters as `Thermostat::set` does: `values_json` is an object
/// of id to value, e.g. `{"23":"5","31":22}`; each value is sent with the
/// type code the device itself reports for that id (read first), and an id
/// the device does not list, or a value out of its type's range, is
/// `HMX_STATUS_INVALID_ARGUMENT` before anything is written. The device's
/// answer is returned as for `hmx_local_request`.
///
/// # Safety
/// As for `hmx_local_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_local_set(
    host: *const c_char,
    sn: *const c_char,
    totp_key: *const c_char,
    values_json: *const c_char,
    timeout_ms: u32,
    reply_json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(reply_json_out, "reply_json_out", err_buf, err_len, || {
            let values = str_arg(values_json, "values_json")?;
            let t = thermostat(host, sn, totp_key, timeout_ms)?;
            let values = parse_values(values)?;
            Ok(hand_out_secret(&written_json(t.set(&values)?).to_string()))
        })
    }
}

/// A write's answer as C gets it: `{"success":"true"}`, or `{"par":[...]}`
/// with the list the device answered.
pub(super) fn written_json(written: Written) -> Value {
    match written {
        Written::Accepted => serde_json::json!({"success": "true"}),
        Written::Parameters(list) => serde_json::json!({"par": parameters_json(&list)}),
    }
}

/// Parameters as the device writes them: `[[id, type code, "value"], ...]`.
pub(super) fn parameters_json(list: &[Parameter]) -> Value {
    list.iter()
        .map(|p| serde_json::json!([p.id, p.type_code, p.value]))
        .collect()
}

/// `{"23":"5","31":22}` as (id, value text) pairs.
pub(super) fn parse_values(text: &str) -> Result<Vec<(u16, String)>, Error> {
    let bad = |why: String| Error::invalid(format!("values_json {why}"));
    let map: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|e| bad(format!("is not a JSON object: {e}")))?;
    map.into_iter()
        .map(|(id, value)| {
            let id = id
                .trim()
                .parse::<u16>()
                .map_err(|_| bad(format!("has a key that is not a parameter id: {id:?}")))?;
            let value = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => u8::from(b).to_string(),
                other => {
                    return Err(bad(format!(
                        "has a value that is not text or a number: {other}"
                    )));
                }
            };
            Ok((id, value))
        })
        .collect()
}

/// The parameters as the device lists them (`{"cmd":1}`), each as
/// `[id, type code, "value"]`, in a JSON array text in `*json_out` (free with
/// `hmx_free`).
///
/// # Safety
/// As for `hmx_local_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_local_parameters(
    host: *const c_char,
    sn: *const c_char,
    timeout_ms: u32,
    json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(json_out, "json_out", err_buf, err_len, || {
            let t = thermostat(host, sn, ptr::null(), timeout_ms)?;
            let list = parameters_json(&t.parameters()?);
            Ok(hand_out_secret(&list.to_string()))
        })
    }
}

/// The device's clock, in seconds since 2000-01-01T00:00:00Z: `{"cmd":3}`,
/// or telemetry's `time` on firmware without it.
///
/// # Safety
/// As for `hmx_local_request`; `time_out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_local_device_time(
    host: *const c_char,
    sn: *const c_char,
    timeout_ms: u32,
    time_out: *mut u32,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(time_out, "time_out", err_buf, err_len, || {
            thermostat(host, sn, ptr::null(), timeout_ms)?.device_time()
        })
    }
}
