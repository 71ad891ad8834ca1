//! [`State`]: what a unit's telemetry and parameter list say, in °C and named values, every field optional.

use serde::Serialize;
use serde_json::{Map, Value};

use super::parameters::{self, Parameter};
use super::thermostat::Thermostat;
use crate::error::Error;

/// The setpoint parameter: "setting temperature of the current mode".
pub const SETPOINT: u16 = 31;
/// Manual mode's floor setpoint.
pub const MANUAL_FLOOR: u16 = 5;
/// Mode parameter: 0 schedule, 1 manual.
pub const MODE: u16 = 2;
/// Control type parameter: 0 floor, 1 air, 2 extended.
pub const CONTROL: u16 = 3;
/// Load power parameter, in the vendor's units (see [`State::load_power_w`]).
pub const LOAD_POWER: u16 = 17;
/// Child lock parameter.
pub const CHILD_LOCK: u16 = 124;
/// Power parameter: on thermostats `"1"` = off; on relay units (Welrok MS) the relay, `"1"` = on.
pub const POWER_OFF: u16 = 125;

/// Setpoints 29 and 31 take these raw values for "load always on/off"
/// (Welrok OZ docs), whatever the unit's scale: never a temperature.
pub(super) const ALWAYS_ON_OFF: [i64; 2] = [127, -127];

/// How a unit writes setpoints: told by the type code it lists for parameter 31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetpointScale {
    /// int8/uint8: whole degrees (Terneo, Welrok AZ and OZ before June 2025).
    Whole,
    /// int16: tenths of a degree (Welrok OZ with an air sensor).
    Tenths,
}

impl SetpointScale {
    /// The scale of the unit that lists `parameters`, from parameter 31's
    /// type code: 1 or 2 whole °C, 3 °C×10. `None` when 31 is not listed
    /// (relay units) or has another type code.
    pub fn of(parameters: &[Parameter]) -> Option<SetpointScale> {
        match parameters::find(parameters, SETPOINT)?.type_code {
            1 | 2 => Some(SetpointScale::Whole),
            3 => Some(SetpointScale::Tenths),
            _ => None,
        }
    }

    /// Raw steps per degree: 1 or 10.
    pub fn steps(self) -> i64 {
        match self {
            SetpointScale::Whole => 1,
            SetpointScale::Tenths => 10,
        }
    }

    /// A raw value in this scale as °C.
    pub fn celsius(self, raw: i64) -> f64 {
        raw as f64 / self.steps() as f64
    }

    /// °C as a raw value in this scale, when it is one exactly: 21.5 on a
    /// whole-degree unit is `InvalidArgument`, never rounded.
    pub fn raw(self, celsius: f64) -> Result<i64, Error> {
        let scaled = celsius * self.steps() as f64;
        let raw = scaled.round();
        if !celsius.is_finite() || (scaled - raw).abs() > 1e-6 || raw.abs() > 1e6 {
            let step = match self {
                SetpointScale::Whole => "whole degrees",
                SetpointScale::Tenths => "tenths of a degree",
            };
            return Err(Error::invalid(format!(
                "{celsius} °C cannot be written exactly: the unit takes setpoints in {step}"
            )));
        }
        Ok(raw as i64)
    }
}

/// What the unit runs by: telemetry `m.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 0: the week's schedule.
    Schedule,
    /// 1: stand-by (Welrok OZ).
    Standby,
    /// 3: a fixed setpoint.
    Manual,
    /// 4: away (holiday) setpoint between two dates.
    Away,
    /// 5: a temporary setpoint until the schedule's next period.
    Temporary,
    /// 6: a timer (Welrok OZ).
    Timer,
    /// A code the vendor docs do not name.
    Other(u8),
}

impl Mode {
    /// The mode for a telemetry `m.1` code.
    pub fn from_code(code: u8) -> Mode {
        match code {
            0 => Mode::Schedule,
            1 => Mode::Standby,
            3 => Mode::Manual,
            4 => Mode::Away,
            5 => Mode::Temporary,
            6 => Mode::Timer,
            other => Mode::Other(other),
        }
    }

    /// The telemetry `m.1` code.
    pub fn code(self) -> u8 {
        match self {
            Mode::Schedule => 0,
            Mode::Standby => 1,
            Mode::Manual => 3,
            Mode::Away => 4,
            Mode::Temporary => 5,
            Mode::Timer => 6,
            Mode::Other(code) => code,
        }
    }

    /// `schedule`, `standby`, `manual`, `away`, `temporary`, `timer`, or `other`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Schedule => "schedule",
            Mode::Standby => "standby",
            Mode::Manual => "manual",
            Mode::Away => "away",
            Mode::Temporary => "temporary",
            Mode::Timer => "timer",
            Mode::Other(_) => "other",
        }
    }
}

impl Serialize for Mode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Mode::Other(code) => s.serialize_u8(*code),
            named => s.serialize_str(named.name()),
        }
    }
}

/// Which sensor the unit regulates by: telemetry `m.0`, else parameter 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlType {
    /// 0: the floor sensor.
    Floor,
    /// 1: the air sensor.
    Air,
    /// 2: air, with the floor kept within limits ("extended").
    Extended,
    /// A code the vendor docs do not name.
    Other(u8),
}

impl ControlType {
    /// The type for a code.
    pub fn from_code(code: u8) -> ControlType {
        match code {
            0 => ControlType::Floor,
            1 => ControlType::Air,
            2 => ControlType::Extended,
            other => ControlType::Other(other),
        }
    }

    /// The code, as telemetry `m.0` and parameter 3 give it.
    pub fn code(self) -> u8 {
        match self {
            ControlType::Floor => 0,
            ControlType::Air => 1,
            ControlType::Extended => 2,
            ControlType::Other(code) => code,
        }
    }

    /// `floor`, `air`, `extended` or `other`.
    pub fn name(self) -> &'static str {
        match self {
            ControlType::Floor => "floor",
            ControlType::Air => "air",
            ControlType::Extended => "extended",
            ControlType::Other(_) => "other",
        }
    }
}

impl Serialize for ControlType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ControlType::Other(code) => s.serialize_u8(*code),
            named => s.serialize_str(named.name()),
        }
    }
}

/// A unit's state in °C and named values. Every field is optional: units
/// leave fields out (Welrok units drop temperatures and the mode while
/// off; relays have no temperatures), and a field a unit omits is `None`,
/// never an error.
///
/// Temperatures come from the telemetry in 1/16 °C on every known unit
/// (so a value like 24.9375 is exact, not noise); the setpoint, when the
/// telemetry lacks `t.5`, from parameter 31 in the unit's own scale
/// ([`SetpointScale`]). In JSON (`serde`), absent fields are `null`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct State {
    /// Floor sensor, °C (`t.1`).
    pub floor_c: Option<f64>,
    /// Air sensor, °C (`t.2`).
    pub air_c: Option<f64>,
    /// The setpoint in force, °C (`t.5`, else parameter 31; `None` while
    /// 31 holds the "always on/off" value 127/−127).
    pub setpoint_c: Option<f64>,
    /// Whether the load's relay is closed (`f.0` on thermostats, `f.10` on relay units).
    pub relay_on: Option<bool>,
    /// Whether the unit is switched on (`f.16` = 0, else parameter 125 = 0;
    /// Welrok D2W: `m.1` = 0). Welrok MS has no such state: its 125 is the relay.
    pub powered: Option<bool>,
    /// What the unit runs by (`m.1`).
    pub mode: Option<Mode>,
    /// Which sensor it regulates by (`m.0`, else parameter 3).
    pub control: Option<ControlType>,
    /// LAN locking: writes need a token (`m.3` bit 2, else parameter 114).
    pub lan_lock: Option<bool>,
    /// Cloud locking (`m.3` bit 1, else parameter 115).
    pub cloud_lock: Option<bool>,
    /// The buttons are locked (parameter 124).
    pub child_lock: Option<bool>,
    /// Display brightness (parameter 23): 0–9 on Terneo, 0–10 on Welrok.
    pub brightness: Option<u8>,
    /// Wi-Fi signal, dBm (`o.0`).
    pub wifi_dbm: Option<i32>,
    /// The connected load in watts, as the owner set it (parameter 17:
    /// p × 10 up to 150, else 20p − 1500; `None` when 0, not set). Welrok's
    /// docs give that formula; Terneo's print "1500 + p × 20" above 150,
    /// which jumps from 1500 W to 4520 W at 151 and would put the real SX
    /// capture's 156 at 4620 W, past the unit's 16 A rating, so hmx reads it
    /// as the same continuous formula (1620 W there).
    pub load_power_w: Option<u32>,
}

/// Telemetry with D2W's nested groups (`{"telemetry":{"t":{"0":576}}}`) flattened to `t.0`.
struct Telemetry {
    flat: Map<String, Value>,
    nested: bool,
}

impl Telemetry {
    fn new(answer: &Map<String, Value>) -> Telemetry {
        let (mut flat, mut nested) = (Map::new(), false);
        if let Some(Value::Object(groups)) = answer.get("telemetry") {
            nested = true;
            for (group, members) in groups {
                if let Value::Object(members) = members {
                    for (n, value) in members {
                        flat.insert(format!("{group}.{n}"), value.clone());
                    }
                }
            }
        } else {
            flat = answer.clone();
        }
        Telemetry { flat, nested }
    }

    fn int(&self, key: &str) -> Option<i64> {
        loose_i64(self.flat.get(key)?)
    }

    fn flag(&self, key: &str) -> Option<bool> {
        match self.int(key)? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn sixteenths(&self, key: &str) -> Option<f64> {
        self.int(key).map(|raw| raw as f64 / 16.0)
    }
}

/// A number (or boolean) the unit may send as a JSON number, a boolean or a numeric string.
fn loose_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn listed(parameters: Option<&[Parameter]>, id: u16) -> Option<i64> {
    parameters::find(parameters?, id)?.value.trim().parse().ok()
}

fn listed_flag(parameters: Option<&[Parameter]>, id: u16) -> Option<bool> {
    match listed(parameters, id)? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// Whether a list is a relay unit's: no setpoint at all, neither the
/// current one (31) nor manual mode's floor setpoint (5), which Terneo AX
/// firmware 2.3 lists without 31. Welrok MS lists neither.
pub(super) fn lists_no_setpoint(parameters: &[Parameter]) -> bool {
    [SETPOINT, MANUAL_FLOOR]
        .iter()
        .all(|id| parameters::find(parameters, *id).is_none())
}

/// Whether a unit is a relay: by its list when there is one, else by D2W's
/// nested telemetry shape.
fn is_relay(telemetry: &Telemetry, parameters: Option<&[Parameter]>) -> bool {
    match parameters {
        Some(list) => lists_no_setpoint(list),
        None => telemetry.nested,
    }
}

impl State {
    /// The state that a telemetry answer (`{"cmd":4}`, as sent) and, when
    /// known, the parameter list (`{"cmd":1}`) give. Without the list,
    /// fields only the list carries (child lock, brightness, load power)
    /// are `None`, and so are the relay and power fields of a unit whose
    /// telemetry alone cannot tell a relay from a thermostat.
    pub fn from_answers(telemetry: &Map<String, Value>, parameters: Option<&[Parameter]>) -> State {
        let tel = Telemetry::new(telemetry);
        let relay = is_relay(&tel, parameters);
        // Without a list, flat telemetry names a thermostat by its temperatures or control type.
        let thermostat = !relay
            && (parameters.is_some()
                || ["t.1", "t.2", "t.5", "m.0"]
                    .iter()
                    .any(|k| tel.flat.contains_key(*k)));
        let lock = tel.int("m.3").filter(|m| (0..=3).contains(m));
        let mut state = State {
            wifi_dbm: tel.int("o.0").and_then(|v| i32::try_from(v).ok()),
            lan_lock: lock
                .map(|m| m & 2 != 0)
                .or_else(|| listed_flag(parameters, 114)),
            cloud_lock: lock
                .map(|m| m & 1 != 0)
                .or_else(|| listed_flag(parameters, 115)),
            child_lock: listed_flag(parameters, CHILD_LOCK),
            brightness: listed(parameters, parameters::BRIGHTNESS)
                .and_then(|v| u8::try_from(v).ok()),
            load_power_w: listed(parameters, LOAD_POWER)
                .filter(|p| (1..=i64::from(u16::MAX)).contains(p))
                .map(|p| if p <= 150 { p * 10 } else { p * 20 - 1500 })
                .and_then(|w| u32::try_from(w).ok()),
            ..State::default()
        };
        if relay {
            state.relay_on = tel.flag("f.10");
            if tel.nested {
                state.powered = tel.flag("m.1").map(|off| !off);
            }
        }
        if thermostat {
            state.floor_c = tel.sixteenths("t.1");
            state.air_c = tel.sixteenths("t.2");
            state.setpoint_c = tel.sixteenths("t.5").or_else(|| {
                let list = parameters?;
                let raw = listed(Some(list), SETPOINT).filter(|r| !ALWAYS_ON_OFF.contains(r))?;
                Some(SetpointScale::of(list)?.celsius(raw))
            });
            state.relay_on = tel.flag("f.0");
            state.powered = tel
                .flag("f.16")
                .or_else(|| listed_flag(parameters, POWER_OFF))
                .map(|off| !off);
            state.mode = tel
                .int("m.1")
                .and_then(|m| u8::try_from(m).ok())
                .map(Mode::from_code);
            state.control = tel
                .int("m.0")
                .or_else(|| listed(parameters, CONTROL))
                .and_then(|m| u8::try_from(m).ok())
                .map(ControlType::from_code);
        }
        state
    }
}

impl Thermostat {
    /// The unit's [`State`]: reads the telemetry (`{"cmd":4}`) and the
    /// parameter list (`{"cmd":1}`), two requests paced as always. A unit
    /// that answers cmd 1 without a list hmx reads (Welrok D2W) still gets
    /// a state, from its telemetry alone; a cmd 1 that fails (timeout,
    /// garbage, a list with broken entries) is the error.
    ///
    /// ```no_run
    /// let t = hmx::local::Thermostat::new("192.168.1.40", "058016000543464839373520000159")?;
    /// let state = t.state()?;
    /// if let (Some(floor), Some(set)) = (state.floor_c, state.setpoint_c) {
    ///     println!("floor {floor:.1} °C, set to {set:.1} °C");
    /// }
    /// # Ok::<(), hmx::Error>(())
    /// ```
    pub fn state(&self) -> Result<State, Error> {
        let telemetry = self.telemetry()?;
        let parameters = self.parameters_if_listed()?;
        Ok(State::from_answers(&telemetry, parameters.as_deref()))
    }

    /// `{"cmd":1}` as a list, or `None` when the unit answers without one it can read.
    fn parameters_if_listed(&self) -> Result<Option<Vec<Parameter>>, Error> {
        let answer = self.read(1)?;
        // A unit without a list (D2W's object of values, or none) still has
        // a state; a list with broken entries is an error, as for parameters().
        if !matches!(answer.get("par"), Some(Value::Array(_))) {
            return Ok(None);
        }
        let list = parameters::parse_parameters(&answer).map_err(|e| self.context(e))?;
        *crate::sync::lock(&self.listed) = Some(list.clone());
        Ok(Some(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn par(list: &[(u16, u8, &str)]) -> Vec<Parameter> {
        list.iter()
            .map(|&(id, type_code, value)| Parameter {
                id,
                type_code,
                value: value.into(),
            })
            .collect()
    }

    #[test]
    fn scales_come_from_the_type_code() {
        assert_eq!(
            SetpointScale::of(&par(&[(31, 1, "23")])),
            Some(SetpointScale::Whole)
        );
        assert_eq!(
            SetpointScale::of(&par(&[(31, 3, "230")])),
            Some(SetpointScale::Tenths)
        );
        assert_eq!(SetpointScale::of(&par(&[(31, 7, "1")])), None);
        assert_eq!(SetpointScale::of(&par(&[(23, 2, "5")])), None);
        assert_eq!(SetpointScale::Tenths.raw(21.5).unwrap(), 215);
        assert_eq!(SetpointScale::Tenths.raw(-0.3).unwrap(), -3);
        assert_eq!(SetpointScale::Whole.raw(22.0).unwrap(), 22);
        assert!(SetpointScale::Whole.raw(21.5).is_err());
        assert!(SetpointScale::Tenths.raw(21.55).is_err());
        assert!(SetpointScale::Tenths.raw(f64::NAN).is_err());
        assert!(SetpointScale::Whole.raw(f64::INFINITY).is_err());
    }

    #[test]
    fn an_off_welrok_unit_gives_absent_fields() {
        let state = State::from_answers(
            &obj(json!({"sn": "x", "m.0": "0", "m.3": "2", "f.0": "0", "f.16": "1", "o.0": "-57"})),
            None,
        );
        assert_eq!(state.floor_c, None);
        assert_eq!(state.setpoint_c, None);
        assert_eq!(state.mode, None);
        assert_eq!(state.powered, Some(false));
        assert_eq!(state.lan_lock, Some(true));
        assert_eq!(state.cloud_lock, Some(false));
        assert_eq!(state.wifi_dbm, Some(-57));
    }

    #[test]
    fn the_setpoint_falls_back_to_parameter_31_in_its_scale() {
        let tel = obj(json!({"m.0": "0"}));
        let oz = State::from_answers(&tel, Some(&par(&[(31, 3, "230")])));
        let sx = State::from_answers(&tel, Some(&par(&[(31, 1, "23")])));
        assert_eq!(oz.setpoint_c, Some(23.0));
        assert_eq!(sx.setpoint_c, oz.setpoint_c);
        let always = State::from_answers(&tel, Some(&par(&[(31, 3, "127")])));
        assert_eq!(always.setpoint_c, None);
    }

    #[test]
    fn relays_read_their_own_flags() {
        let ms = State::from_answers(
            &obj(json!({"m.1": "1", "f.0": "1", "f.10": "1", "m.3": "0"})),
            Some(&par(&[(125, 7, "1"), (23, 2, "5"), (17, 4, "200")])),
        );
        assert_eq!(ms.relay_on, Some(true));
        assert_eq!(ms.mode, None);
        assert_eq!(ms.powered, None);
        assert_eq!(ms.brightness, Some(5));
        assert_eq!(ms.load_power_w, Some(2500));
        let d2w = State::from_answers(
            &obj(
                json!({"deviceId": 0, "telemetry": {"m": {"1": 0, "3": 3}, "f": {"10": true}, "o": {"0": -58}}}),
            ),
            None,
        );
        assert_eq!(d2w.relay_on, Some(true));
        assert_eq!(d2w.powered, Some(true));
        assert_eq!((d2w.lan_lock, d2w.cloud_lock), (Some(true), Some(true)));
        assert_eq!(d2w.wifi_dbm, Some(-58));
    }
}
