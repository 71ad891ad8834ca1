//! Working a thermostat on the LAN with the `hmx` command.
//!
//! `hmx discover`, `get` (the state of every recorded unit), `set` (signed,
//! blocked, a busy device, named settings, another token scheme, a value
//! the unit cannot take), a serial found on the LAN, `probe`, and `hmx
//! demo`, the whole chain.
#![cfg(all(feature = "cli", feature = "test-util"))]

mod common;

use common::net::{announce, free_udp_port};
use common::procs::{assert_exit, assert_exit_for, hmx, stderr, stdout};
use common::units::{fixture, fixtures};
use hmx::testing::{DEMO_KEY, DeviceFault, Fixture, MockThermostat, On};
use hmx::totp::Scheme;
use serde_json::{Map, Value, json};

fn locked() -> MockThermostat {
    MockThermostat::builder()
        .locked(DEMO_KEY, Scheme::default())
        .start()
        .unwrap()
}

/// `hmx SUBCOMMAND HOST --sn SN REST...` for `args` = `SUBCOMMAND REST...`.
fn on(device: &MockThermostat, args: &[&str]) -> std::process::Output {
    let mut cmd = hmx();
    cmd.arg(args[0]);
    cmd.arg(device.host()).args(["--sn", device.sn()]);
    cmd.args(&args[1..]).output().unwrap()
}

#[test]
fn discover_lists_each_device_once() {
    let port = free_udp_port();
    let sns = [
        "058016000543464839373520000201",
        "058016000543464839373520000202",
    ];
    let _a = announce(sns[0], 2, port);
    let _b = announce(sns[1], 3, port);
    let out = hmx()
        .args([
            "discover",
            "--seconds",
            "1.5",
            "--json",
            "--port",
            &port.to_string(),
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let found: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut got: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["sn"].as_str().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, sns);
    assert_eq!(found[0]["ip"].as_str().unwrap().rsplit('.').count(), 4);
    let out = hmx()
        .args(["discover", "--seconds=1", "--port", &port.to_string()])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(stdout(&out).starts_with("SERIAL\tIP\tHW\tCONNECTION\tWIFI\tCLOUD\n"));
    assert_eq!(stdout(&out).lines().count(), 3);
}

#[test]
fn get_reads_what_the_device_sends() {
    let device = locked();
    let out = on(&device, &["get", "--json"]);
    assert_exit(&out, 2); // no WHAT
    for (what, want) in [
        ("params", "ID\tTYPE\tVALUE\n"),
        ("telemetry", "t.1\t"),
        ("schedule", "DAY\tFROM\tSETPOINT\n"),
    ] {
        let out = on(&device, &["get", what]);
        assert_exit(&out, 0);
        assert!(stdout(&out).contains(want), "{what}: {}", stdout(&out));
    }
    let out = on(&device, &["get", "time", "--json"]);
    assert_exit(&out, 0);
    let time: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let diff = i64::from(time["time"].as_u64().unwrap() as u32) - i64::from(device.device_time());
    assert!(diff.abs() <= 5, "{diff}");
}

#[test]
fn a_signed_write_a_blocked_one_and_a_busy_device() {
    let device = locked();
    // Blocked without a key or with a wrong one: exit 7, nothing applied.
    let out = on(&device, &["set", "23=2"]);
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("LAN locking is on"),
        "{}",
        stderr(&out)
    );
    let out = on(&device, &["set", "--key", "AAAAAAAAAAAAAAAA", "23=2"]);
    assert_exit(&out, 7);
    assert!(!stderr(&out).contains("AAAAAAAAAAAAAAAA"));
    assert_eq!(device.stats().writes_applied, 0);
    // Signed with the key from HMX_TOTP_KEY.
    let out = hmx()
        .env("HMX_TOTP_KEY", DEMO_KEY)
        .args(["set", &device.host(), "--sn", device.sn(), "23=2", "52=420"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(device.parameter(23).as_deref(), Some("2"));
    assert_eq!(device.parameter(52).as_deref(), Some("420"));
    // Strict before sending: an id the device does not list, a bad pair.
    assert_exit(&on(&device, &["set", "--key", DEMO_KEY, "999=1"]), 2);
    assert_exit(&on(&device, &["set", "--key", DEMO_KEY, "brightness"]), 2);
    // Busy twice, then an answer; busy every time: a timeout (exit 4).
    device.inject(On::Cmd(4), DeviceFault::Busy, 2);
    assert_exit(&on(&device, &["get", "telemetry"]), 0);
    device.inject(On::Cmd(4), DeviceFault::Busy, 3);
    let out = on(&device, &["get", "telemetry"]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains(&device.host()), "{}", stderr(&out));
}

#[test]
fn a_serial_is_found_on_the_lan() {
    let device = MockThermostat::start().unwrap();
    let port = free_udp_port();
    let _a = announce(device.sn(), 2, port);
    // The announcement comes from 127.0.0.2; the stand-in listens on
    // 127.0.0.1 at its own port, so ask only that the lookup works and
    // names the address it found.
    let out = hmx()
        .args(["get", device.sn(), "time", "--discovery-seconds", "3"])
        .args(["--discovery-port", &port.to_string(), "--timeout", "1"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains(&format!("looking for {}", device.sn())));
    assert!(stderr(&out).contains("127.0.0.2"), "{}", stderr(&out));
    // Unheard: exit 6.
    let out = hmx()
        .args(["get", "058016000543464839373520009999", "time"])
        .args([
            "--discovery-seconds",
            "0.5",
            "--discovery-port",
            &port.to_string(),
        ])
        .output()
        .unwrap();
    assert_exit(&out, 6);
}

#[test]
fn probe_names_the_scheme() {
    let device = MockThermostat::builder()
        .locked(DEMO_KEY, Scheme::RAW_UNIX)
        .start()
        .unwrap();
    let out = on(&device, &["probe", "--key", DEMO_KEY]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("accepted: raw-unix"),
        "{}",
        stdout(&out)
    );
    assert_exit(&on(&device, &["probe"]), 2);
}

#[test]
fn demo_runs_the_whole_chain() {
    let out = hmx().arg("demo").output().unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    for step in ["1. Log in", "2. List", "3. Discover", "4. Read", "5. Write"] {
        assert!(text.contains(step), "{text}");
    }
    assert!(text.contains("without the key: refused"), "{text}");
    assert!(
        text.contains("is now 7") || text.contains("is now 3"),
        "{text}"
    );
}

#[test]
fn a_probe_that_finds_no_scheme_exits_7() {
    let device = locked();
    let out = on(&device, &["probe", "--key", "AAAAAAAAAAAAAAAA"]);
    assert_exit(&out, 7);
    assert!(stdout(&out).contains("accepted: none"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("refused every token scheme"),
        "{}",
        stderr(&out)
    );
    assert_eq!(device.stats().writes_applied, 0);
}

#[test]
fn messages_name_the_commands_own_fixes() {
    let device = locked();
    // Blocked: the command's probe, not a Rust method; the address once.
    let out = on(&device, &["set", "--key", "AAAAAAAAAAAAAAAA", "23=2"]);
    assert_exit(&out, 7);
    let err = stderr(&out);
    assert!(err.contains("hmx probe"), "{err}");
    assert!(!err.contains("Thermostat::"), "{err}");
    assert_eq!(err.matches(&device.host()).count(), 1, "{err}");
    // A device that never answers: the bound and the option that sets it.
    device.inject(On::Any, DeviceFault::NoAnswer, 10);
    let out = on(&device, &["get", "telemetry", "--timeout", "0.5"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains("within 500 ms") && err.contains("--timeout"),
        "{err}"
    );
    assert!(!err.contains("(global)"), "{err}");
    assert_eq!(err.matches(&device.host()).count(), 1, "{err}");
}

#[test]
fn telemetry_is_printed_in_the_devices_order() {
    let device = locked();
    let out = on(&device, &["get", "telemetry", "--json"]);
    assert_exit(&out, 0);
    let printed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&stdout(&out)).unwrap();
    let direct = device.client().telemetry().unwrap();
    assert_eq!(
        printed.keys().collect::<Vec<_>>(),
        direct.keys().collect::<Vec<_>>()
    );
    assert_eq!(printed.keys().next().map(String::as_str), Some("sn"));
}

/// The fields of `hmx get HOST state --json`: all of them, every time.
const STATE_FIELDS: [&str; 13] = [
    "floor_c",
    "air_c",
    "setpoint_c",
    "relay_on",
    "powered",
    "mode",
    "control",
    "lan_lock",
    "cloud_lock",
    "child_lock",
    "brightness",
    "wifi_dbm",
    "load_power_w",
];

/// The telemetry a unit recorded, D2W's nested groups flattened to `t.0`.
fn recorded_telemetry(f: &Fixture) -> Map<String, Value> {
    let Some(Ok(Value::Object(answer))) = f.answer(4).map(serde_json::from_str) else {
        return Map::new();
    };
    let Some(Value::Object(groups)) = answer.get("telemetry") else {
        return answer;
    };
    let mut flat = Map::new();
    for (group, members) in groups {
        for (n, value) in members.as_object().into_iter().flatten() {
            flat.insert(format!("{group}.{n}"), value.clone());
        }
    }
    flat
}

/// A recorded number: a JSON number or a numeric string.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// What `hmx get state --json` printed against what the unit recorded: the
/// temperatures are its 1/16 °C telemetry (the setpoint from parameter 31
/// in the unit's scale when the telemetry has no `t.5`), and a field the
/// unit does not send is null.
fn check_state(name: &str, f: &Fixture, state: &Map<String, Value>) {
    for field in STATE_FIELDS {
        assert!(state.contains_key(field), "{name}: no {field} in {state:?}");
    }
    let tel = recorded_telemetry(f);
    let list = f.parameters();
    let listed = |id: u16| {
        list.as_ref()
            .and_then(|l| l.iter().find(|p| p.0 == id).cloned())
    };
    let recorded = |key: &str| tel.get(key).and_then(number);
    let same = |field: &str, want: Option<f64>| {
        let got = &state[field];
        assert_eq!(got.is_null(), want.is_none(), "{name} {field}: {got}");
        assert_eq!(got.as_f64(), want, "{name} {field}");
    };
    // A relay unit lists no setpoint (31 or 5); D2W lists nothing hmx reads.
    let relay = list
        .as_ref()
        .is_none_or(|l| !l.iter().any(|p| p.0 == 31 || p.0 == 5));
    let sixteenths = |key: &str| recorded(key).map(|raw| raw / 16.0).filter(|_| !relay);
    same("floor_c", sixteenths("t.1"));
    same("air_c", sixteenths("t.2"));
    let from_31 = listed(31)
        .filter(|p| !["127", "-127"].contains(&p.2.as_str()) && !relay)
        .map(|(_, code, value)| value.parse::<f64>().unwrap() / if code == 3 { 10.0 } else { 1.0 });
    same("setpoint_c", sixteenths("t.5").or(from_31));
    same("wifi_dbm", recorded("o.0"));
    same("brightness", listed(23).map(|p| p.2.parse().unwrap()));
    let child_lock = listed(124).map(|p| json!(p.2 == "1"));
    assert_eq!(
        state["child_lock"],
        child_lock.unwrap_or(Value::Null),
        "{name}"
    );
    if !tel.contains_key("m.1") {
        assert!(state["mode"].is_null(), "{name}: {state:?}");
    }
}

/// `get state` in both forms and a named write of the brightness it has, on one recorded unit.
fn state_and_a_named_write(name: &str, f: &Fixture) {
    let list = f.parameters();
    let locked = list
        .as_ref()
        .is_some_and(|l| l.iter().any(|p| p.0 == 114 && p.2 == "1"));
    let mut builder = MockThermostat::builder().fixture(f);
    if locked {
        builder = builder.locked(DEMO_KEY, Scheme::default());
    }
    let device = builder.start().unwrap();

    let out = on(&device, &["get", "state", "--json"]);
    assert_exit_for(name, &out, 0);
    let state: Map<String, Value> = serde_json::from_str(&stdout(&out)).unwrap();
    check_state(name, f, &state);

    // The table: a row per field, temperatures to one decimal, "-" where JSON has null.
    let out = on(&device, &["get", "state"]);
    assert_exit_for(name, &out, 0);
    let table = stdout(&out);
    assert_eq!(table.lines().count(), state.len(), "{name}:\n{table}");
    let row = |label: &str| {
        let line = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(label))
            .unwrap_or_else(|| panic!("{name}: no {label} row in\n{table}"));
        line[label.len()..].trim().to_string()
    };
    let floor = state["floor_c"].as_f64();
    assert_eq!(
        row("floor"),
        floor.map_or("-".into(), |c| format!("{c:.1} °C")),
        "{name}"
    );
    assert_eq!(
        row("brightness"),
        state["brightness"].to_string().replace("null", "-")
    );

    // The brightness it has, written back by name: one write, applied as is.
    let Some(brightness) = state["brightness"].as_u64() else {
        // No parameter list hmx reads (D2W): a named write says so, and writes nothing.
        if list.is_none() {
            let out = on(&device, &["set", "brightness=5"]);
            assert_exit_for(name, &out, 5);
            assert_eq!(device.stats().writes_applied, 0, "{name}");
        }
        eprintln!("{name}: state read; no brightness to write back");
        return;
    };
    let setting = format!("brightness={brightness}");
    let mut args = vec!["set", setting.as_str()];
    if locked {
        args.extend(["--key", DEMO_KEY]);
    }
    let out = on(&device, &args);
    assert_exit_for(name, &out, 0);
    assert_eq!(device.applied(), [(23, brightness.to_string())], "{name}");
    assert_eq!(device.stats().writes_applied, 1, "{name}");
    eprintln!("{name}: state read, {setting} written back (signed: {locked})");
}

#[test]
fn get_state_and_a_named_write_on_every_recorded_unit() {
    // One thread per unit: each hmx run paces its own requests a second apart.
    std::thread::scope(|s| {
        for (name, f) in fixtures() {
            s.spawn(move || state_and_a_named_write(&name, &f));
        }
    });
}

#[test]
fn another_token_scheme_is_given_with_scheme() {
    let device = MockThermostat::builder()
        .fixture(&fixture("oz.json"))
        .locked(DEMO_KEY, Scheme::RAW_UNIX)
        .start()
        .unwrap();
    assert_eq!(device.parameter(23).as_deref(), Some("10"));
    // Signed with the default scheme: refused, nothing applied, and the way out named.
    let out = on(&device, &["set", "--key", DEMO_KEY, "brightness=7"]);
    assert_exit(&out, 7);
    assert!(stderr(&out).contains("--scheme"), "{}", stderr(&out));
    assert_eq!(device.stats().writes_applied, 0);
    assert_eq!(device.parameter(23).as_deref(), Some("10"));
    // With the unit's scheme: applied (7, a change to see), then 10 back (any case).
    let out = on(
        &device,
        &[
            "set",
            "--key",
            DEMO_KEY,
            "--scheme",
            "raw-unix",
            "brightness=7",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(device.parameter(23).as_deref(), Some("7"));
    let out = on(
        &device,
        &[
            "set",
            "--key",
            DEMO_KEY,
            "--scheme=RAW-UNIX",
            "brightness=10",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(device.applied(), [(23, "7".into()), (23, "10".into())]);
    // --scheme without a key, or an unknown name: usage errors, nothing sent.
    device.reset_stats();
    let out = on(&device, &["set", "--scheme", "raw-unix", "brightness=7"]);
    assert_exit(&out, 2);
    let out = on(
        &device,
        &[
            "set",
            "--key",
            DEMO_KEY,
            "--scheme",
            "raw-1970",
            "brightness=7",
        ],
    );
    assert_exit(&out, 2);
    for name in ["raw-2000", "raw-unix", "base32-2000", "base32-unix"] {
        assert!(stderr(&out).contains(name), "{}", stderr(&out));
    }
    assert_eq!(device.stats().requests, 0);
}

#[test]
fn probe_finds_another_scheme_or_checks_one() {
    let device = MockThermostat::builder()
        .fixture(&fixture("oz.json"))
        .locked(DEMO_KEY, Scheme::RAW_UNIX)
        .start()
        .unwrap();
    // Every scheme in turn: raw-2000 refused, raw-unix accepted.
    let out = on(&device, &["probe", "--key", DEMO_KEY, "--json"]);
    assert_exit(&out, 0);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["accepted"], "raw-unix", "{report}");
    assert_eq!(report["refused"], json!(["raw-2000"]), "{report}");
    assert_eq!(
        (&report["parameter"], &report["value"]),
        (&json!(23), &json!("10"))
    );
    // Only the scheme given: one write each; refused is exit 7.
    device.reset_stats();
    let out = on(
        &device,
        &["probe", "--key", DEMO_KEY, "--scheme", "raw-unix"],
    );
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("accepted: raw-unix"),
        "{}",
        stdout(&out)
    );
    let out = on(
        &device,
        &["probe", "--key", DEMO_KEY, "--scheme", "raw-2000", "--json"],
    );
    assert_exit(&out, 7);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["refused"], json!(["raw-2000"]), "{report}");
    assert_eq!(report["accepted"], Value::Null, "{report}");
    let s = device.stats();
    assert_eq!((s.writes_applied, s.writes_blocked), (1, 1), "{s:?}");
    assert_eq!(device.parameter(23).as_deref(), Some("10"));
}

#[test]
fn a_setpoint_the_unit_cannot_take_is_refused_and_nothing_sent() {
    let device = MockThermostat::builder()
        .fixture(&fixture("sx-standin.json"))
        .start()
        .unwrap();
    for settings in [
        &["setpoint=21.5"][..],
        &["mode=manual", "setpoint=21.5"],
        &["setpoint=21.5", "23=3"],
    ] {
        let mut args = vec!["set"];
        args.extend(settings);
        let out = on(&device, &args);
        assert_exit_for(&format!("{settings:?}"), &out, 2);
        let err = stderr(&out);
        assert!(err.contains("21.5 °C cannot be written exactly"), "{err}");
        assert!(err.contains("whole degrees"), "{err}");
        assert_eq!(err.matches(&device.host()).count(), 1, "{err}");
    }
    // Only the parameter list was read: no write of any kind reached the unit.
    let s = device.stats();
    assert_eq!(
        (s.writes_applied, s.writes_rejected, s.writes_blocked),
        (0, 0, 0),
        "{s:?}"
    );
    assert!(
        device.bodies().iter().all(|b| b == r#"{"cmd":1}"#),
        "{:?}",
        device.bodies()
    );
    assert_eq!(device.parameter(31).as_deref(), Some("27"));
    // What the command line alone shows wrong is refused before asking the unit anything.
    device.reset_stats();
    for bad in [
        "setpoint=warm",
        "colour=red",
        "brightness",
        "brightness=3 brightness=4",
    ] {
        let mut args = vec!["set"];
        args.extend(bad.split(' '));
        let out = on(&device, &args);
        assert_exit_for(bad, &out, 2);
        assert!(stderr(&out).contains("hmx: "), "{}", stderr(&out));
    }
    assert_eq!(device.stats().requests, 0);
}

#[test]
fn named_and_numbered_settings_go_in_one_write() {
    let device = MockThermostat::builder()
        .fixture(&fixture("sx-standin.json"))
        .start()
        .unwrap();
    assert_eq!(device.parameter(2).as_deref(), Some("0"));
    let writes = |device: &MockThermostat| -> Vec<Value> {
        device
            .bodies()
            .iter()
            .map(|b| serde_json::from_str::<Value>(b).unwrap())
            .filter(|b| b.get("par").is_some())
            .map(|b| b["par"].clone())
            .collect()
    };
    let out = on(&device, &["set", "mode=manual", "setpoint=22"]);
    assert_exit(&out, 0);
    assert_eq!(writes(&device), [json!([[2, 2, "1"], [31, 1, "22"]])]);
    assert_eq!(device.applied(), [(2, "1".into()), (31, "22".into())]);
    // A mix: the names become their parameters, all in one write, in the order given.
    device.reset_stats();
    let out = on(&device, &["set", "mode=schedule", "52=420", "power=on"]);
    assert_exit(&out, 0);
    assert_eq!(
        writes(&device),
        [json!([[2, 2, "0"], [52, 4, "420"], [125, 7, "0"]])]
    );
    assert_eq!(device.stats().writes_applied, 1);
    // One parameter given twice, by name and by number: refused, nothing written.
    device.reset_stats();
    let out = on(&device, &["set", "setpoint=22", "31=23"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("both write parameter 31"),
        "{}",
        stderr(&out)
    );
    assert!(writes(&device).is_empty());
}
