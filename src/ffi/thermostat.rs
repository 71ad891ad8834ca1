//! One thermostat as a C handle: its state (see `state.rs`), named controls, and the
//! reads and writes of `hmx_local_*` through one `Thermostat` that keeps the
//! parameter list it has read.

use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;

use serde_json::Value;

use super::handles::{self, Owned};
use super::local::{parameters_json, parse_values, request_arg, thermostat, written_json};
use super::state::hmx_state;
use super::strings::hand_out_secret;
use super::{boundary, boundary_out, hmx_status, optional_str_arg, str_arg};
use crate::Error;
use crate::local::{Mode, Thermostat, Written, parse_controls};
use crate::totp::Scheme;

/// One thermostat on the LAN, from `hmx_thermostat_new`. Opaque; free with
/// `hmx_free` (which wipes its key). It keeps the parameter list it has read
/// (by `hmx_thermostat_state`, `_parameters` or its first write), so later
/// writes take their type codes from it without reading it again. One handle
/// may be used by many threads at once: requests to one device address go
/// one at a time with a quiet second between them, across every handle and
/// `hmx_local_*` call in the process.
#[allow(non_camel_case_types)]
pub struct hmx_thermostat {
    _private: [u8; 0],
}

/// What an `hmx_thermostat` is: the Rust client.
impl Owned for Thermostat {
    fn address(&self) -> usize {
        ptr::from_ref(self) as usize
    }
}

/// The thermostat behind a C pointer.
fn handle(thermostat: *const hmx_thermostat) -> Result<Arc<Thermostat>, Error> {
    handles::arg(thermostat, "thermostat", "hmx thermostat")
}

/// Makes a handle for the thermostat at `host` (an IP address or name,
/// optional `:port`; IPv6 in brackets when a port follows) whose serial is
/// `sn`. Nothing is sent yet. `totp_key` (the cloud's `totp_key`) signs
/// writes, which a unit with LAN locking on needs; NULL: writes go unsigned.
/// `scheme` is the token scheme for signed writes, by name: `"raw-2000"`
/// (also NULL), `"raw-unix"`, `"base32-2000"` or `"base32-unix"` (ASCII case
/// ignored); `hmx_thermostat_probe` tells which one a unit accepts.
/// `timeout_ms` bounds each request, connecting included; 0: 5 s.
///
/// On success `*thermostat_out` is a handle to free with `hmx_free`. A host
/// with a scheme or path, an `sn` that is not 1 to 64 ASCII letters and
/// digits, an unknown scheme name, NULL `host`, `sn` or `thermostat_out`, or
/// invalid UTF-8 is `HMX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// Strings NULL or NUL-terminated; `thermostat_out` NULL or writable;
/// `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_new(
    host: *const c_char,
    sn: *const c_char,
    totp_key: *const c_char,
    scheme: *const c_char,
    timeout_ms: u32,
    thermostat_out: *mut *mut hmx_thermostat,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(thermostat_out, "thermostat_out", err_buf, err_len, || {
            let scheme = optional_str_arg(scheme, "scheme")?;
            let mut t = thermostat(host, sn, totp_key, timeout_ms)?;
            if let Some(scheme) = scheme {
                t = t.scheme(scheme.parse::<Scheme>()?);
            }
            Ok(handles::hand_out(t) as *mut hmx_thermostat)
        })
    }
}

/// Reads the unit's state: its telemetry (`{"cmd":4}`) and parameter list
/// (`{"cmd":1}`, which the handle keeps for later writes), two requests
/// paced as always. A unit that answers cmd 1 without a list hmx reads
/// (Welrok D2W) still gets a state, from its telemetry alone. On success
/// `*state_out` is filled (see `hmx_state`); nothing to free.
///
/// # Safety
/// `thermostat` NULL or from `hmx_thermostat_new`; `state_out` NULL or
/// writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_state(
    thermostat: *const hmx_thermostat,
    state_out: *mut hmx_state,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(state_out, "state_out", err_buf, err_len, || {
            Ok(hmx_state::from(&handle(thermostat)?.state()?))
        })
    }
}

/// Runs one named write: the handle is checked, then `write` runs with it.
///
/// # Safety
/// `err_buf` NULL or `err_len` writable bytes.
unsafe fn write(
    thermostat: *const hmx_thermostat,
    err_buf: *mut c_char,
    err_len: usize,
    write: impl FnOnce(&Thermostat) -> Result<Written, Error>,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary(err_buf, err_len, || {
            write(&*handle(thermostat)?).map(|_| ())
        })
    }
}

/// Sets the setpoint in °C (parameter 31, the current mode's setpoint; the
/// mode is left as it is, so a unit running its schedule holds it until the
/// next period: ask for manual mode in the same write with
/// `hmx_thermostat_control(t, "mode=manual setpoint=21.5", ...)`). The value
/// must be exact in the unit's scale (whole degrees, or tenths on units that
/// list 31 as int16), not 127/-127 ("always on/off"), and within the limits
/// the unit lists; otherwise `HMX_STATUS_INVALID_ARGUMENT` saying why, and
/// nothing is written. Every named write reads the parameter list first if
/// the handle has none yet, is signed when the handle has a key (the
/// device's clock is read just before), and is `HMX_STATUS_BLOCKED` when
/// the unit refuses it (LAN locking on, the key or scheme wrong).
///
/// # Safety
/// `thermostat` NULL or from `hmx_thermostat_new`; `err_buf` NULL or
/// `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_set_setpoint(
    thermostat: *const hmx_thermostat,
    celsius: f64,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe { write(thermostat, err_buf, err_len, |t| t.set_setpoint(celsius)) }
}

/// Switches the unit on or off (parameter 125: on thermostats 0 is on; on
/// relay units, which list no setpoint, 125 is the relay and 1 is on). As
/// `hmx_thermostat_set_setpoint` for the rest.
///
/// # Safety
/// As for `hmx_thermostat_set_setpoint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_set_power(
    thermostat: *const hmx_thermostat,
    on: bool,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe { write(thermostat, err_buf, err_len, |t| t.set_power(on)) }
}

/// Sets the mode (parameter 2): `HMX_MODE_SCHEDULE` or `HMX_MODE_MANUAL`.
/// The other modes need their own times and are `HMX_STATUS_INVALID_ARGUMENT`,
/// as is a value that is no mode code; nothing is written then. As
/// `hmx_thermostat_set_setpoint` for the rest.
///
/// # Safety
/// As for `hmx_thermostat_set_setpoint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_set_mode(
    thermostat: *const hmx_thermostat,
    mode: i32,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        write(thermostat, err_buf, err_len, |t| {
            let mode = u8::try_from(mode).map(Mode::from_code).map_err(|_| {
                Error::invalid(format!(
                    "mode {mode} is not a mode code: use HMX_MODE_SCHEDULE or HMX_MODE_MANUAL"
                ))
            })?;
            t.set_mode(mode)
        })
    }
}

/// Sets the display brightness (parameter 23), 0 to 10 (Terneo units take
/// 0 to 9); above 10 is `HMX_STATUS_INVALID_ARGUMENT`. As
/// `hmx_thermostat_set_setpoint` for the rest.
///
/// # Safety
/// As for `hmx_thermostat_set_setpoint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_set_brightness(
    thermostat: *const hmx_thermostat,
    level: u8,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe { write(thermostat, err_buf, err_len, |t| t.set_brightness(level)) }
}

/// Locks (true) or unlocks the unit's buttons (parameter 124). As
/// `hmx_thermostat_set_setpoint` for the rest.
///
/// # Safety
/// As for `hmx_thermostat_set_setpoint`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_set_child_lock(
    thermostat: *const hmx_thermostat,
    on: bool,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe { write(thermostat, err_buf, err_len, |t| t.set_child_lock(on)) }
}

/// Writes several named controls in one request, given as text separated by
/// white space or commas: `"mode=manual setpoint=21.5"`. Names:
/// `setpoint=°C`, `power=on|off`, `mode=schedule|manual`, `brightness=0..10`,
/// `child_lock=on|off`; `on`/`off` may be `1`/`0` or `true`/`false`, and case
/// is ignored. Text that does not parse, an empty text, or any control the
/// unit cannot take is `HMX_STATUS_INVALID_ARGUMENT`, and nothing is written.
/// As `hmx_thermostat_set_setpoint` for the rest.
///
/// # Safety
/// As for `hmx_thermostat_set_setpoint`; `controls` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_control(
    thermostat: *const hmx_thermostat,
    controls: *const c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        write(thermostat, err_buf, err_len, |t| {
            t.control(&parse_controls(str_arg(controls, "controls")?)?)
        })
    }
}

/// Writes parameters by id, as `hmx_local_set` does (`values_json` in the
/// same form, e.g. `{"23":"5","31":22}`; each value sent with the type code
/// the unit lists for that id; an id it does not list, a value out of its
/// type's range, or an empty object is `HMX_STATUS_INVALID_ARGUMENT` before
/// anything is written), but with the list the handle keeps: read only when
/// it has none yet. Signed when the handle has a key. `*reply_json_out` is
/// the unit's answer, `{"success":"true"}` or `{"par":[[id,type,"value"],...]}`
/// (free with `hmx_free`).
///
/// # Safety
/// `thermostat` NULL or from `hmx_thermostat_new`; `values_json` NULL or
/// NUL-terminated; `reply_json_out` NULL or writable; `err_buf` NULL or
/// `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_set(
    thermostat: *const hmx_thermostat,
    values_json: *const c_char,
    reply_json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(reply_json_out, "reply_json_out", err_buf, err_len, || {
            let t = handle(thermostat)?;
            let values = parse_values(str_arg(values_json, "values_json")?)?;
            Ok(hand_out_secret(&written_json(t.set(&values)?).to_string()))
        })
    }
}

/// Sends one request, as `hmx_local_request` does: `request_json` is a JSON
/// object without `sn`, `time` and `auth`; exactly `{"cmd":1}` to
/// `{"cmd":4}` is a read, anything else a write in the device's own form
/// (`{"par":[[23,2,"5"]]}`, values sent as given), signed when the handle has
/// a key. `*reply_json_out` is the answer as JSON text (free with `hmx_free`).
/// Text that is not a JSON object, an empty object, or one with `sn`, `time`
/// or `auth` is `HMX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// As for `hmx_thermostat_set`; `request_json` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_request(
    thermostat: *const hmx_thermostat,
    request_json: *const c_char,
    reply_json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(reply_json_out, "reply_json_out", err_buf, err_len, || {
            let t = handle(thermostat)?;
            let request = request_arg(request_json)?;
            Ok(hand_out_secret(
                &Value::Object(t.request(request)?).to_string(),
            ))
        })
    }
}

/// The telemetry (`{"cmd":4}`) as the unit sent it, every member in its
/// order (`t.N` temperatures in 1/16 °C, `m.N` modes, `f.N` flags, `o.0`
/// RSSI; Welrok D2W nests groups under `telemetry`), as JSON object text in
/// `*json_out` (free with `hmx_free`).
///
/// # Safety
/// `thermostat` NULL or from `hmx_thermostat_new`; `json_out` NULL or
/// writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_telemetry(
    thermostat: *const hmx_thermostat,
    json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(json_out, "json_out", err_buf, err_len, || {
            let telemetry = handle(thermostat)?.telemetry()?;
            Ok(hand_out_secret(&Value::Object(telemetry).to_string()))
        })
    }
}

/// The parameter list (`{"cmd":1}`), read afresh and kept by the handle, as
/// `[[id, type code, "value"], ...]` JSON text in `*json_out` (free with
/// `hmx_free`). A unit that answers without a list hmx reads (Welrok D2W: no
/// type codes) is `HMX_STATUS_PROTOCOL`, saying so.
///
/// # Safety
/// As for `hmx_thermostat_telemetry`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_parameters(
    thermostat: *const hmx_thermostat,
    json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(json_out, "json_out", err_buf, err_len, || {
            let list = parameters_json(&handle(thermostat)?.parameters()?);
            Ok(hand_out_secret(&list.to_string()))
        })
    }
}

/// The unit's clock in `*time_out`, seconds since 2000-01-01T00:00:00Z:
/// `{"cmd":3}`, or the telemetry's `time` on firmware without it; neither
/// is `HMX_STATUS_PROTOCOL`.
///
/// # Safety
/// `thermostat` NULL or from `hmx_thermostat_new`; `time_out` NULL or
/// writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_device_time(
    thermostat: *const hmx_thermostat,
    time_out: *mut u32,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(time_out, "time_out", err_buf, err_len, || {
            handle(thermostat)?.device_time()
        })
    }
}

/// Finds the token scheme the unit accepts, changing nothing: reads the
/// parameters, and writes a harmless one (brightness, 23; else 52 or 53)
/// back unchanged once with each scheme in turn (raw-2000, raw-unix,
/// base32-2000, base32-unix; the base32 ones only for a base32 key), stopping
/// at the first the unit accepts; with LAN locking listed as off it writes
/// nothing. The handle's own scheme is not used. `*report_json_out` is
/// `{"parameter":23,"value":"5","lan_lock":true,"cloud_lock":false,
/// "refused":["raw-2000"],"skipped":[],"accepted":"raw-unix"}` (unknown locks
/// and no accepted scheme `null`; free with `hmx_free`). A handle without a
/// key is `HMX_STATUS_INVALID_ARGUMENT`; a unit that lists none of the
/// parameters is `HMX_STATUS_PROTOCOL`; refusals are the report, not an error.
///
/// # Safety
/// `thermostat` NULL or from `hmx_thermostat_new`; `report_json_out` NULL or
/// writable; `err_buf` NULL or `err_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hmx_thermostat_probe(
    thermostat: *const hmx_thermostat,
    report_json_out: *mut *mut c_char,
    err_buf: *mut c_char,
    err_len: usize,
) -> hmx_status {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        boundary_out(report_json_out, "report_json_out", err_buf, err_len, || {
            let report = handle(thermostat)?.probe()?;
            let json = serde_json::to_string(&report)
                .map_err(|e| Error::protocol(format!("the probe report as JSON: {e}")))?;
            Ok(hand_out_secret(&json))
        })
    }
}
