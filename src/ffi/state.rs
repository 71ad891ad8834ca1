//! A unit's state for C: `hmx_state` with a presence flag per field, and the mode and control codes with their names.

use std::ffi::c_char;

use super::boundary_value;
use crate::local::{ControlType, Mode, State};

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
