//! One thermostat as a C handle: its state in °C, named controls, and the
//! reads and writes of `hmx_local_*` through one `Thermostat` that keeps the
//! parameter list it has read.

use std::ffi::c_char;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::handles::{self, Owned};
use super::local::{parameters_json, parse_values, written_json};
use super::strings::hand_out_secret;
use super::{boundary, boundary_out, boundary_value, hmx_status, optional_str_arg, str_arg};
use crate::local::{ControlType, Mode, State, Thermostat, Written, parse_controls};
use crate::totp::Scheme;
use crate::{Error, TotpKey};

#[allow(dead_code)] // for the header, as every constant below
/// `hmx_state.mode`: the week's schedule (telemetry `m.1` = 0).
pub const HMX_MODE_SCHEDULE: i32 = 0;
#[allow(dead_code)]
/// `hmx_state.mode`: stand-by (Welrok OZ).
pub const HMX_MODE_STANDBY: i32 = 1;
#[allow(dead_code)]
/// `hmx_state.mode`: a fixed setpoint.
pub const HMX_MODE_MANUAL: i32 = 3;
#[allow(dead_code)]
/// `hmx_state.mode`: away (holiday) setpoint between two dates.
pub const HMX_MODE_AWAY: i32 = 4;
#[allow(dead_code)]
/// `hmx_state.mode`: a temporary setpoint until the schedule's next period.
pub const HMX_MODE_TEMPORARY: i32 = 5;
#[allow(dead_code)]
/// `hmx_state.mode`: a timer (Welrok OZ).
pub const HMX_MODE_TIMER: i32 = 6;
#[allow(dead_code)]
/// `hmx_state.control`: regulated by the floor sensor.
pub const HMX_CONTROL_FLOOR: i32 = 0;
#[allow(dead_code)]
/// `hmx_state.control`: regulated by the air sensor.
pub const HMX_CONTROL_AIR: i32 = 1;
#[allow(dead_code)]
/// `hmx_state.control`: air, with the floor kept within limits.
pub const HMX_CONTROL_EXTENDED: i32 = 2;

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

/// A unit's state, as `hmx_thermostat_state` fills it. Every value has a
/// `has_` flag: units leave fields out (Welrok units drop temperatures and
/// the mode while off, relays have no temperatures), and an absent value is
/// `false`/0 with its flag false. Temperatures are °C: from the telemetry in
/// 1/16 °C (so 24.9375 is exact), the setpoint without `t.5` from parameter
/// 31 in the unit's own scale.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct hmx_state {
    /// Whether `floor_c` is known.
    pub has_floor_c: bool,
    /// Floor sensor, °C (telemetry `t.1`).
    pub floor_c: f64,
    /// Whether `air_c` is known.
    pub has_air_c: bool,
    /// Air sensor, °C (`t.2`).
    pub air_c: f64,
    /// Whether `setpoint_c` is known.
    pub has_setpoint_c: bool,
    /// The setpoint in force, °C (`t.5`, else parameter 31; unknown while 31
    /// holds the "always on/off" value 127/-127).
    pub setpoint_c: f64,
    /// Whether `relay_on` is known.
    pub has_relay_on: bool,
    /// The load's relay is closed (`f.0` on thermostats, `f.10` on relay units).
    pub relay_on: bool,
    /// Whether `powered` is known.
    pub has_powered: bool,
    /// The unit is switched on (`f.16` = 0, else parameter 125 = 0; Welrok
    /// D2W: `m.1` = 0). Welrok MS has no such state: its 125 is the relay.
    pub powered: bool,
    /// Whether `mode` is known.
    pub has_mode: bool,
    /// What the unit runs by: an `HMX_MODE_*` code (telemetry `m.1`), or
    /// another code the vendor docs do not name; `hmx_mode_name` names it.
    pub mode: i32,
    /// Whether `control` is known.
    pub has_control: bool,
    /// Which sensor it regulates by: an `HMX_CONTROL_*` code (`m.0`, else
    /// parameter 3), or another; `hmx_control_type_name` names it.
    pub control: i32,
    /// Whether `lan_lock` is known.
    pub has_lan_lock: bool,
    /// LAN locking: writes need a token (`m.3` bit 2, else parameter 114).
    pub lan_lock: bool,
    /// Whether `cloud_lock` is known.
    pub has_cloud_lock: bool,
    /// Cloud locking (`m.3` bit 1, else parameter 115).
    pub cloud_lock: bool,
    /// Whether `child_lock` is known.
    pub has_child_lock: bool,
    /// The buttons are locked (parameter 124).
    pub child_lock: bool,
    /// Whether `brightness` is known.
    pub has_brightness: bool,
    /// Display brightness (parameter 23): 0-9 on Terneo, 0-10 on Welrok.
    pub brightness: u8,
    /// Whether `wifi_dbm` is known.
    pub has_wifi_dbm: bool,
    /// Wi-Fi signal, dBm (`o.0`).
    pub wifi_dbm: i32,
    /// Whether `load_power_w` is known.
    pub has_load_power_w: bool,
    /// The connected load in watts, from parameter 17 when it is 1 to 150
    /// (x10 W); unknown above (the vendors' formulas differ) and at 0 (not set).
    pub load_power_w: u32,
}

/// A value and whether it is there: `false` and the default when it is not.
fn known<T: Default>(value: Option<T>) -> (bool, T) {
    (value.is_some(), value.unwrap_or_default())
}

impl From<&State> for hmx_state {
    fn from(s: &State) -> hmx_state {
        let (has_floor_c, floor_c) = known(s.floor_c);
        let (has_air_c, air_c) = known(s.air_c);
        let (has_setpoint_c, setpoint_c) = known(s.setpoint_c);
        let (has_relay_on, relay_on) = known(s.relay_on);
        let (has_powered, powered) = known(s.powered);
        let (has_mode, mode) = known(s.mode.map(|m| i32::from(m.code())));
        let (has_control, control) = known(s.control.map(|c| i32::from(c.code())));
        let (has_lan_lock, lan_lock) = known(s.lan_lock);
        let (has_cloud_lock, cloud_lock) = known(s.cloud_lock);
        let (has_child_lock, child_lock) = known(s.child_lock);
        let (has_brightness, brightness) = known(s.brightness);
        let (has_wifi_dbm, wifi_dbm) = known(s.wifi_dbm);
        let (has_load_power_w, load_power_w) = known(s.load_power_w);
        hmx_state {
            has_floor_c,
            floor_c,
            has_air_c,
            air_c,
            has_setpoint_c,
            setpoint_c,
            has_relay_on,
            relay_on,
            has_powered,
            powered,
            has_mode,
            mode,
            has_control,
            control,
            has_lan_lock,
            lan_lock,
            has_cloud_lock,
            cloud_lock,
            has_child_lock,
            child_lock,
            has_brightness,
            brightness,
            has_wifi_dbm,
            wifi_dbm,
            has_load_power_w,
            load_power_w,
        }
    }
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
            let host = str_arg(host, "host")?;
            let sn = str_arg(sn, "sn")?;
            let key = optional_str_arg(totp_key, "totp_key")?;
            let scheme = optional_str_arg(scheme, "scheme")?;
            let mut t = Thermostat::new(host, sn)?;
            if let Some(key) = key {
                t = t.key(TotpKey::new(key.to_string()));
            }
            if let Some(scheme) = scheme {
                t = t.scheme(scheme.parse::<Scheme>()?);
            }
            if timeout_ms > 0 {
                t = t.timeout(Duration::from_millis(timeout_ms.into()));
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

/// The name of a mode code, as Rust's `Mode::name` gives it: `"schedule"`,
/// `"standby"`, `"manual"`, `"away"`, `"temporary"`, `"timer"`, or `"other"`
/// for any other value. A static string, never NULL, never to be freed.
#[unsafe(no_mangle)]
pub extern "C" fn hmx_mode_name(mode: i32) -> *const c_char {
    boundary_value(OTHER.as_ptr().cast(), || {
        let mode = u8::try_from(mode).map_or(Mode::Other(u8::MAX), Mode::from_code);
        static_name(mode.name())
    })
}

/// The name of a control type code, as Rust's `ControlType::name` gives it:
/// `"floor"`, `"air"`, `"extended"`, or `"other"` for any other value. A
/// static string, never NULL, never to be freed.
#[unsafe(no_mangle)]
pub extern "C" fn hmx_control_type_name(control: i32) -> *const c_char {
    boundary_value(OTHER.as_ptr().cast(), || {
        let control =
            u8::try_from(control).map_or(ControlType::Other(u8::MAX), ControlType::from_code);
        static_name(control.name())
    })
}

const OTHER: &str = "other\0";

/// Rust's names with their NUL, for C; a unit test checks that every name
/// Rust gives is here.
const NAMES: [&str; 10] = [
    "schedule\0",
    "standby\0",
    "manual\0",
    "away\0",
    "temporary\0",
    "timer\0",
    "floor\0",
    "air\0",
    "extended\0",
    OTHER,
];

/// `name` NUL-terminated, from [`NAMES`]; `"other"` for a name not there.
fn static_name(name: &str) -> *const c_char {
    NAMES
        .iter()
        .find(|n| n.strip_suffix('\0') == Some(name))
        .unwrap_or(&OTHER)
        .as_ptr()
        .cast()
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
            let request = str_arg(request_json, "request_json")?;
            let request: Value = serde_json::from_str(request)
                .map_err(|e| Error::invalid(format!("request_json is not JSON: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn text(p: *const c_char) -> &'static str {
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn names_and_codes_are_rusts() {
        for code in -300..300 {
            let rust = u8::try_from(code).map_or("other", |c| Mode::from_code(c).name());
            assert_eq!(text(hmx_mode_name(code)), rust, "mode {code}");
            let rust = u8::try_from(code).map_or("other", |c| ControlType::from_code(c).name());
            assert_eq!(text(hmx_control_type_name(code)), rust, "control {code}");
        }
        for (constant, mode) in [
            (HMX_MODE_SCHEDULE, Mode::Schedule),
            (HMX_MODE_STANDBY, Mode::Standby),
            (HMX_MODE_MANUAL, Mode::Manual),
            (HMX_MODE_AWAY, Mode::Away),
            (HMX_MODE_TEMPORARY, Mode::Temporary),
            (HMX_MODE_TIMER, Mode::Timer),
        ] {
            assert_eq!(constant, i32::from(mode.code()));
        }
        for (constant, control) in [
            (HMX_CONTROL_FLOOR, ControlType::Floor),
            (HMX_CONTROL_AIR, ControlType::Air),
            (HMX_CONTROL_EXTENDED, ControlType::Extended),
        ] {
            assert_eq!(constant, i32::from(control.code()));
        }
    }

    #[test]
    fn absent_fields_are_flagged_false_and_zero() {
        let state = State {
            floor_c: Some(24.9375),
            mode: Some(Mode::Other(9)),
            brightness: Some(0),
            ..State::default()
        };
        let c = hmx_state::from(&state);
        assert!(c.has_floor_c && c.floor_c == 24.9375);
        assert!(c.has_mode && c.mode == 9);
        assert!(c.has_brightness && c.brightness == 0);
        assert!(!c.has_air_c && c.air_c == 0.0);
        assert!(!c.has_powered && !c.powered);
        assert_eq!(hmx_state::from(&State::default()), hmx_state::default());
    }
}
