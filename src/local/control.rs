//! [`Control`]: named writes (setpoint in °C, power, mode, brightness, child lock), checked against the unit's own list before anything is sent.

use std::fmt;
use std::str::FromStr;

use super::parameters::{self, BRIGHTNESS, Parameter};
use super::state::{
    ALWAYS_ON_OFF, CHILD_LOCK, CONTROL, MODE, Mode, POWER_OFF, SETPOINT, SetpointScale,
    lists_no_setpoint,
};
use super::thermostat::{Thermostat, Written};
use crate::error::Error;
use crate::sync::lock;

/// Highest brightness any unit documents (Welrok 0–10; Terneo 0–9).
pub const MAX_BRIGHTNESS: u8 = 10;

/// One named change to a unit, written as the parameter its docs name,
/// with the type code the unit itself lists.
///
/// | control | parameter | value |
/// |---|---|---|
/// | `Setpoint(°C)` | 31, the current mode's setpoint | in the unit's scale ([`SetpointScale`]) |
/// | `Power(on)` | 125 | thermostats `0` = on; relay units (no setpoint 31 or 5: Welrok MS) `1` = on |
/// | `Mode(Schedule / Manual)` | 2 | `0` / `1` |
/// | `Brightness(n)` | 23 | 0 to 10 |
/// | `ChildLock(on)` | 124 | `1` = locked |
///
/// **A setpoint never changes the mode.** hmx writes 31 alone: the vendor
/// tables call it the setting of the current mode, and a unit running its
/// schedule holds it as a temporary setpoint until the schedule's next
/// period, as when its buttons are pressed (read from the docs, not yet
/// confirmed on hardware). To hold a temperature, ask for manual mode in
/// the same write: `[Control::Mode(Mode::Manual), Control::Setpoint(21.5)]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Control {
    /// The setpoint in °C, within the unit's limits and exactly representable.
    Setpoint(f64),
    /// Switch the unit (a relay unit: its relay) on or off.
    Power(bool),
    /// Schedule or manual; the others need their own times and are refused.
    Mode(Mode),
    /// Display brightness.
    Brightness(u8),
    /// Lock the unit's buttons.
    ChildLock(bool),
}

impl Control {
    /// The name used in `NAME=VALUE`: `setpoint`, `power`, `mode`, `brightness` or `child_lock`.
    pub fn name(&self) -> &'static str {
        match self {
            Control::Setpoint(_) => "setpoint",
            Control::Power(_) => "power",
            Control::Mode(_) => "mode",
            Control::Brightness(_) => "brightness",
            Control::ChildLock(_) => "child_lock",
        }
    }

    /// The parameter write (`id`, value text) for this control on a unit
    /// that lists `parameters`, range-checked; `InvalidArgument` saying why
    /// when the unit lacks the parameter or cannot take the value.
    pub fn assignment(&self, parameters: &[Parameter]) -> Result<(u16, String), Error> {
        let is_relay = lists_no_setpoint(parameters);
        let id = match self {
            Control::Setpoint(_) => SETPOINT,
            Control::Power(_) => POWER_OFF,
            Control::Mode(_) => MODE,
            Control::Brightness(_) => BRIGHTNESS,
            Control::ChildLock(_) => CHILD_LOCK,
        };
        let Some(listed) = parameters::find(parameters, id) else {
            if id == SETPOINT && !is_relay {
                return Err(Error::invalid(
                    "setpoint: the unit does not list parameter 31 (the current setpoint; Terneo firmware 2.3 lacks it); write manual mode's setpoint, parameter 5 (floor) or 4 (air), with set(); nothing was sent",
                ));
            }
            return Err(Error::invalid(format!(
                "{}: the unit does not list parameter {id}, so it has no such control; nothing was sent",
                self.name()
            )));
        };
        let value = match *self {
            Control::Setpoint(celsius) => setpoint(listed, parameters, celsius)?,
            Control::Power(on) => flag(on == is_relay),
            Control::Mode(Mode::Schedule) => 0,
            Control::Mode(Mode::Manual) => 1,
            Control::Mode(other) => {
                return Err(Error::invalid(format!(
                    "mode: hmx sets schedule or manual; {} needs its own times (parameters 0 and 1, or the unit's timer), written with set()",
                    other.name()
                )));
            }
            Control::Brightness(level) if level > MAX_BRIGHTNESS => {
                return Err(Error::invalid(format!(
                    "brightness {level} is above {MAX_BRIGHTNESS} (Terneo units take 0 to 9, Welrok 0 to 10)"
                )));
            }
            Control::Brightness(level) => i64::from(level),
            Control::ChildLock(on) => flag(on),
        };
        Ok((id, value.to_string()))
    }
}

fn flag(on: bool) -> i64 {
    i64::from(on)
}

/// Parameter 31's raw value for `celsius`: representable in the unit's
/// scale, not a special value, and within the limits the unit lists for
/// the sensor it regulates by.
fn setpoint(listed: &Parameter, parameters: &[Parameter], celsius: f64) -> Result<i64, Error> {
    let Some(scale) = SetpointScale::of(parameters) else {
        return Err(Error::invalid(format!(
            "setpoint: the unit lists parameter 31 with type code {}, so hmx cannot tell its scale; nothing was sent",
            listed.type_code
        )));
    };
    let raw = scale.raw(celsius)?;
    if ALWAYS_ON_OFF.contains(&raw) {
        return Err(Error::invalid(format!(
            "{celsius} °C would be written as {raw}, which the unit reads as \"load always {}\", not a temperature",
            if raw > 0 { "on" } else { "off" }
        )));
    }
    let value = |id| -> Option<i64> { parameters::find(parameters, id)?.value.trim().parse().ok() };
    let by_air = matches!(value(CONTROL), Some(1 | 2));
    let (limits, which) = match (by_air, value(34), value(33)) {
        (true, Some(low), Some(high)) => (Some((low, high)), "air limits (parameters 34 and 33)"),
        _ => (
            value(27).zip(value(26)),
            "floor limits (parameters 27 and 26)",
        ),
    };
    if let Some((low, high)) = limits.filter(|(low, high)| low <= high) {
        let tenths = raw * (10 / scale.steps());
        if tenths < low * 10 || tenths > high * 10 {
            return Err(Error::invalid(format!(
                "setpoint {celsius} °C is outside the unit's {which}, {low} to {high} °C; nothing was sent"
            )));
        }
    }
    Ok(raw)
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |b: bool| if b { "on" } else { "off" };
        match self {
            Control::Setpoint(c) => write!(f, "setpoint={c}"),
            Control::Power(b) => write!(f, "power={}", on(*b)),
            Control::Mode(m) => write!(f, "mode={}", m.name()),
            Control::Brightness(n) => write!(f, "brightness={n}"),
            Control::ChildLock(b) => write!(f, "child_lock={}", on(*b)),
        }
    }
}

impl FromStr for Control {
    type Err = Error;

    /// `NAME=VALUE`: `setpoint=21.5` (°C), `power=on|off`,
    /// `mode=schedule|manual`, `brightness=0..10`, `child_lock=on|off`
    /// (`child-lock` too). Names and words ignore ASCII case; `on`/`off`
    /// may be `1`/`0` or `true`/`false`.
    fn from_str(text: &str) -> Result<Control, Error> {
        let bad = |why: &str| Error::invalid(format!("{text:?}: {why}"));
        let Some((name, value)) = text.split_once('=') else {
            return Err(bad("not NAME=VALUE (e.g. setpoint=21.5)"));
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        let switch = || match value.to_ascii_lowercase().as_str() {
            "on" | "1" | "true" => Ok(true),
            "off" | "0" | "false" => Ok(false),
            _ => Err(bad("use on or off")),
        };
        match name.as_str() {
            "setpoint" => value
                .parse::<f64>()
                .ok()
                .filter(|c| c.is_finite())
                .map(Control::Setpoint)
                .ok_or_else(|| bad("the setpoint is a number of °C, e.g. 21.5")),
            "power" => switch().map(Control::Power),
            "child_lock" | "child-lock" => switch().map(Control::ChildLock),
            "brightness" => value
                .parse::<u8>()
                .ok()
                .map(Control::Brightness)
                .ok_or_else(|| bad("brightness is a whole number, 0 to 10")),
            "mode" => match value.to_ascii_lowercase().as_str() {
                "schedule" => Ok(Control::Mode(Mode::Schedule)),
                "manual" => Ok(Control::Mode(Mode::Manual)),
                _ => Err(bad("hmx sets mode=schedule or mode=manual")),
            },
            _ => Err(bad(
                "unknown control: use setpoint, power, mode, brightness or child_lock (or a parameter number)",
            )),
        }
    }
}

/// Controls written as text, separated by white space or commas:
/// `"mode=manual setpoint=21.5"`. An empty text is `InvalidArgument`.
///
/// ```
/// use hmx::local::{Control, Mode, parse_controls};
/// assert_eq!(parse_controls("mode=manual, setpoint=21.5")?,
///            vec![Control::Mode(Mode::Manual), Control::Setpoint(21.5)]);
/// assert!(parse_controls("setpoint=warm").is_err());
/// # Ok::<(), hmx::Error>(())
/// ```
pub fn parse_controls(text: &str) -> Result<Vec<Control>, Error> {
    let controls = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|part| !part.is_empty())
        .map(str::parse)
        .collect::<Result<Vec<Control>, Error>>()?;
    if controls.is_empty() {
        return Err(Error::invalid("nothing to write"));
    }
    Ok(controls)
}

impl Thermostat {
    /// Writes `controls` in one request, signed when a key is set. Each is
    /// checked against the unit's own parameter list (read first if this
    /// `Thermostat` has none yet) as [`Control`] describes; the first that
    /// does not fit is `InvalidArgument`, and nothing is sent.
    ///
    /// ```no_run
    /// use hmx::local::{Control, Mode, Thermostat};
    /// let t = Thermostat::new("192.168.1.40", "058016000543464839373520000159")?;
    /// t.control(&[Control::Mode(Mode::Manual), Control::Setpoint(21.0)])?;
    /// # Ok::<(), hmx::Error>(())
    /// ```
    pub fn control(&self, controls: &[Control]) -> Result<Written, Error> {
        if controls.is_empty() {
            return Err(Error::invalid("nothing to write"));
        }
        let cached = lock(&self.listed).clone();
        let listed = match cached {
            Some(list) => list,
            None => self.parameters()?,
        };
        let values = controls
            .iter()
            .map(|c| c.assignment(&listed))
            .collect::<Result<Vec<_>, Error>>()
            .map_err(|e| self.context(e))?;
        self.set(&values)
    }

    /// The setpoint in °C (parameter 31; the mode is left as it is: see [`Control`]).
    pub fn set_setpoint(&self, celsius: f64) -> Result<Written, Error> {
        self.control(&[Control::Setpoint(celsius)])
    }

    /// Switches the unit on or off (parameter 125).
    pub fn set_power(&self, on: bool) -> Result<Written, Error> {
        self.control(&[Control::Power(on)])
    }

    /// Schedule or manual mode (parameter 2).
    pub fn set_mode(&self, mode: Mode) -> Result<Written, Error> {
        self.control(&[Control::Mode(mode)])
    }

    /// Display brightness, 0 to 10 (parameter 23).
    pub fn set_brightness(&self, level: u8) -> Result<Written, Error> {
        self.control(&[Control::Brightness(level)])
    }

    /// Locks or unlocks the unit's buttons (parameter 124).
    pub fn set_child_lock(&self, on: bool) -> Result<Written, Error> {
        self.control(&[Control::ChildLock(on)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn setpoints_follow_the_units_scale_and_limits() {
        let oz = par(&[(31, 3, "230"), (3, 2, "0"), (26, 1, "45"), (27, 1, "5")]);
        let sx = par(&[(31, 1, "23"), (26, 1, "45"), (27, 1, "5")]);
        assert_eq!(
            Control::Setpoint(21.5).assignment(&oz).unwrap(),
            (31, "215".into())
        );
        assert_eq!(
            Control::Setpoint(21.0).assignment(&sx).unwrap(),
            (31, "21".into())
        );
        assert!(Control::Setpoint(21.5).assignment(&sx).is_err());
        assert!(Control::Setpoint(45.5).assignment(&oz).is_err());
        assert!(Control::Setpoint(4.0).assignment(&sx).is_err());
        assert!(
            Control::Setpoint(12.7)
                .assignment(&par(&[(31, 3, "230")]))
                .is_err()
        );
        let air = par(&[
            (31, 3, "230"),
            (3, 2, "1"),
            (26, 1, "45"),
            (27, 1, "5"),
            (33, 1, "35"),
            (34, 1, "5"),
        ]);
        assert!(Control::Setpoint(40.0).assignment(&air).is_err());
        assert!(Control::Setpoint(40.0).assignment(&oz).is_ok());
    }

    #[test]
    fn power_is_inverted_on_relays_and_missing_parameters_refuse() {
        let thermostat = par(&[(31, 1, "23"), (125, 7, "0")]);
        let relay = par(&[(125, 7, "0"), (3, 2, "0")]);
        let ax = par(&[(5, 1, "30"), (125, 7, "0")]);
        assert_eq!(Control::Power(true).assignment(&ax).unwrap().1, "0");
        assert!(Control::Setpoint(20.0).assignment(&ax).is_err());
        assert_eq!(Control::Power(true).assignment(&thermostat).unwrap().1, "0");
        assert_eq!(Control::Power(true).assignment(&relay).unwrap().1, "1");
        assert!(Control::ChildLock(true).assignment(&relay).is_err());
        assert!(Control::Setpoint(20.0).assignment(&relay).is_err());
        assert!(
            Control::Mode(Mode::Away)
                .assignment(&par(&[(2, 2, "0")]))
                .is_err()
        );
        assert!(
            Control::Brightness(11)
                .assignment(&par(&[(23, 2, "5")]))
                .is_err()
        );
    }

    #[test]
    fn controls_parse_from_text() {
        assert_eq!(
            "Power=OFF".parse::<Control>().unwrap(),
            Control::Power(false)
        );
        assert_eq!(
            "child-lock=1".parse::<Control>().unwrap(),
            Control::ChildLock(true)
        );
        for bad in [
            "setpoint=inf",
            "power=maybe",
            "mode=away",
            "colour=red",
            "23=5",
            "brightness=-1",
        ] {
            assert!(bad.parse::<Control>().is_err(), "{bad}");
        }
        assert!(parse_controls(" , ").is_err());
        for c in parse_controls("setpoint=21.5 power=on mode=manual brightness=3 child_lock=off")
            .unwrap()
        {
            assert_eq!(c.to_string().parse::<Control>().unwrap(), c);
        }
    }
}
