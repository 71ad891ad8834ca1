//! Every unit in tests/fixtures/ through the typed state and the named controls.
//!
//! As in tests/fixtures.rs, each `*.json` is one case found at run time. The
//! expected values are worked out here from the recorded answers (1/16 °C
//! telemetry, the unit's own type code for parameter 31), not taken from
//! the library.
#![cfg(feature = "test-util")]

mod common;

use common::units::{fixture, fixtures};

use std::time::Duration;

use hmx::ErrorKind;
use hmx::local::{Control, ControlType, Mode, State, Thermostat, Written};
use hmx::testing::{DEMO_KEY, Fixture, MockThermostat};
use hmx::totp::Scheme;
use serde_json::{Map, Value};

fn load(name: &str) -> Fixture {
    fixture(name)
}

fn lan_locked(f: &Fixture) -> bool {
    f.parameters()
        .is_some_and(|l| l.iter().any(|p| p.0 == 114 && p.2 == "1"))
}

/// The stand-in answering as `f` (locked with the demo key when its list says so) and a client for it.
fn start(f: &Fixture) -> (MockThermostat, Thermostat) {
    let mut builder = MockThermostat::builder().fixture(f);
    if lan_locked(f) {
        builder = builder.locked(DEMO_KEY, Scheme::default());
    }
    let device = builder.start().unwrap();
    let mut t = device.client().min_interval(Duration::from_millis(5));
    // Only a locked unit gets a key: signing reads the clock, which the SX capture lacks.
    if lan_locked(f) {
        t = t.key(hmx::TotpKey::new(DEMO_KEY.into()));
    }
    (device, t)
}

fn telemetry(f: &Fixture) -> Map<String, Value> {
    f.answer(4)
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default()
}

/// A telemetry member as a number: strings on Terneo and most Welrok units.
fn number(telemetry: &Map<String, Value>, key: &str) -> Option<f64> {
    match telemetry.get(key)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn listed(f: &Fixture, id: u16) -> Option<(u8, String)> {
    f.parameters()?
        .into_iter()
        .find(|p| p.0 == id)
        .map(|p| (p.1, p.2))
}

/// Parameter 31 in °C by its type code: int16 tenths, int8/uint8 whole degrees.
fn setpoint_31(f: &Fixture) -> Option<f64> {
    let (code, value) = listed(f, 31)?;
    let raw: f64 = value.parse().ok()?;
    match code {
        3 => Some(raw / 10.0),
        1 | 2 => Some(raw),
        _ => None,
    }
}

#[test]
fn every_fixture_gives_a_state_in_celsius() {
    for (name, f) in fixtures() {
        let (_device, t) = start(&f);
        let state = t.state().unwrap_or_else(|e| panic!("{name}: {e}"));
        let tel = telemetry(&f);
        let relay = f.parameters().map_or(tel.contains_key("telemetry"), |l| {
            !l.iter().any(|p| p.0 == 31 || p.0 == 5)
        });
        if relay {
            assert_eq!(
                (state.floor_c, state.setpoint_c, state.mode),
                (None, None, None),
                "{name}"
            );
        } else {
            assert_eq!(
                state.floor_c,
                number(&tel, "t.1").map(|v| v / 16.0),
                "{name}"
            );
            assert_eq!(state.air_c, number(&tel, "t.2").map(|v| v / 16.0), "{name}");
            let want = number(&tel, "t.5").map(|v| v / 16.0).or(setpoint_31(&f));
            assert_eq!(state.setpoint_c, want, "{name}");
            let mode = number(&tel, "m.1").map(|m| Mode::from_code(m as u8));
            assert_eq!(state.mode, mode, "{name}");
        }
        let wifi = number(&tel, "o.0").or_else(|| {
            let nested = tel.get("telemetry")?.get("o")?.get("0")?;
            nested.as_f64()
        });
        assert_eq!(state.wifi_dbm.map(f64::from), wifi, "{name}");
        let brightness = listed(&f, 23).map(|(_, v)| v.parse::<u8>().unwrap());
        assert_eq!(state.brightness, brightness, "{name}");
        // Parameter 17: p × 10 W up to 150, then 20p − 1500 (0: not set).
        let load = listed(&f, 17).map(|(_, v)| v.parse::<u32>().unwrap());
        let watts = load
            .filter(|p| *p > 0)
            .map(|p| if p <= 150 { p * 10 } else { p * 20 - 1500 });
        assert_eq!(state.load_power_w, watts, "{name}");
        eprintln!("{name}: {}", serde_json::to_string(&state).unwrap());
    }
}

#[test]
fn a_brightness_written_back_by_name_is_accepted() {
    for (name, f) in fixtures() {
        let Some((_, value)) = listed(&f, 23) else {
            eprintln!("{name}: no brightness to write back");
            continue;
        };
        let (device, t) = start(&f);
        let level: u8 = value.parse().unwrap();
        t.set_brightness(level)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(device.applied(), [(23, value)], "{name}");
        assert_eq!(t.state().unwrap().brightness, Some(level), "{name}");
    }
}

#[test]
fn oz_and_sx_give_the_same_celsius_for_the_same_setpoint() {
    let oz = load("oz.json");
    let sx = load("sx-standin.json");
    // The OZ's telemetry says t.5 = 368/16 and its list 31 = 230 (°C×10): both 23.0.
    let (_oz_device, oz_t) = start(&oz);
    assert_eq!(oz_t.state().unwrap().setpoint_c, Some(23.0));
    // Without t.5 (a unit that dropped it while off), the list's 31 gives the same.
    let mut oz_off = oz.clone();
    let mut tel = telemetry(&oz);
    tel.shift_remove("t.5");
    oz_off
        .answers
        .insert("cmd4".into(), serde_json::to_string(&tel).unwrap());
    let (_d, t) = start(&oz_off);
    assert_eq!(t.state().unwrap().setpoint_c, Some(23.0));

    // 23 °C written to each goes out in each unit's own scale and type code.
    for (f, raw) in [(&oz, "230"), (&sx, "23")] {
        let (device, t) = start(f);
        t.set_setpoint(23.0).unwrap();
        assert_eq!(device.applied(), [(31, raw.to_string())], "{}", f.model);
        let code = listed(f, 31).unwrap().0;
        assert!(
            device
                .bodies()
                .last()
                .unwrap()
                .contains(&format!("[31,{code},\"{raw}\"]")),
            "{:?}",
            device.bodies()
        );
    }
}

#[test]
fn an_off_unit_gives_a_state_with_fields_absent() {
    let mut az = load("az.json");
    let mut tel = telemetry(&az);
    for gone in ["t.1", "t.5", "m.1"] {
        tel.shift_remove(gone);
    }
    tel.insert("f.16".into(), "1".into());
    az.answers
        .insert("cmd4".into(), serde_json::to_string(&tel).unwrap());
    let (_device, t) = start(&az);
    let state = t.state().unwrap();
    assert_eq!((state.floor_c, state.mode), (None, None));
    assert_eq!(state.powered, Some(false));
    assert_eq!(state.control, Some(ControlType::Floor));
    // The setpoint falls back to the list (AZ: int8, whole °C).
    assert_eq!(state.setpoint_c, setpoint_31(&az));
    // An empty telemetry is a state with nothing in it, not an error.
    let mut empty = load("sx.json");
    empty.answers.remove("cmd4");
    let (_d, t) = start(&empty);
    let state = t.state().unwrap();
    assert_eq!(state.floor_c, None);
    assert_eq!(state.setpoint_c, setpoint_31(&empty));
    assert_eq!(State::from_answers(&Map::new(), None), State::default());
}

#[test]
fn values_a_unit_cannot_take_are_refused_before_sending() {
    let sx = load("sx-standin.json");
    let (device, t) = start(&sx);
    t.parameters().unwrap();
    device.reset_stats();
    for control in [
        Control::Setpoint(21.5), // whole degrees only
        Control::Setpoint(46.0), // above the unit's floor limit (26)
        Control::Brightness(11),
        Control::Mode(Mode::Away),
    ] {
        let e = t.control(&[control]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{control}: {e}");
        assert!(e.message().starts_with("thermostat "), "{e}");
    }
    assert!(device.bodies().is_empty(), "{:?}", device.bodies());
    // OZ takes tenths, but 12.7 °C would be its "always on" value 127.
    let (oz_device, oz) = start(&load("oz.json"));
    let e = oz.set_setpoint(12.7).unwrap_err();
    assert!(e.message().contains("always on"), "{e}");
    assert!(oz_device.applied().is_empty());
    assert!(matches!(oz.set_setpoint(21.5), Ok(Written::Parameters(_))));
    assert_eq!(oz_device.applied(), [(31, "215".to_string())]);
}

#[test]
fn mode_and_setpoint_go_in_one_write_and_a_setpoint_alone_keeps_the_mode() {
    let (device, t) = start(&load("sx-standin.json"));
    t.set_setpoint(22.0).unwrap();
    assert_eq!(device.applied(), [(31, "22".to_string())]);
    let before = device.bodies().len();
    t.control(&[Control::Mode(Mode::Manual), Control::Setpoint(24.0)])
        .unwrap();
    let writes: Vec<String> = device.bodies()[before..]
        .iter()
        .filter(|b| b.contains("\"par\""))
        .cloned()
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(device.parameter(2).as_deref(), Some("1"));
    assert_eq!(device.parameter(31).as_deref(), Some("24"));
}

#[test]
fn power_and_child_lock_follow_each_units_docs() {
    // Thermostats: 125 is "power off"; Welrok MS (no setpoint): 125 is the relay, 1 = on.
    for (file, on) in [("sx-standin.json", "0"), ("ms.json", "1")] {
        let (device, t) = start(&load(file));
        t.set_power(true).unwrap();
        assert_eq!(device.parameter(125).as_deref(), Some(on), "{file}");
        t.set_child_lock(true).unwrap();
        assert_eq!(device.parameter(124).as_deref(), Some("1"), "{file}");
    }
    // D2W lists no typed parameters: the controls say so, nothing is sent.
    let (device, t) = start(&load("d2w.json"));
    let e = t.set_power(true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(device.applied().is_empty());
}

#[test]
fn a_write_shows_in_the_next_state_as_a_unit_reports_it() {
    // The stand-in's telemetry follows its writes (t.5, m.1, f.16, m.3), as a unit's does.
    let (_device, t) = start(&load("sx-standin.json"));
    t.control(&[
        Control::Mode(Mode::Manual),
        Control::Setpoint(22.0),
        Control::Power(false),
    ])
    .unwrap();
    let state = t.state().unwrap();
    assert_eq!(
        (state.mode, state.setpoint_c, state.powered),
        (Some(Mode::Manual), Some(22.0), Some(false))
    );
    let (_device, oz) = start(&load("oz.json"));
    oz.set_setpoint(21.5).unwrap();
    assert_eq!(oz.state().unwrap().setpoint_c, Some(21.5));
    // Locked with a key: the lock bits say so.
    let device = MockThermostat::builder()
        .fixture(&load("oz.json"))
        .locked(DEMO_KEY, Scheme::RAW_UNIX)
        .start()
        .unwrap();
    assert_eq!(device.client().state().unwrap().lan_lock, Some(true));
}
