//! Every unit in tests/fixtures/ through the stand-in and the client.
//!
//! Each `*.json` there (docs/FIXTURES.md) is one case, found at run time: a
//! new file is a new case with no code change. For each, the stand-in
//! answers as that unit; the answers must come back byte for byte, every
//! read must succeed or say clearly why not (the unit lacks the command, or
//! answers in a shape hmx does not read), and a harmless write (a value
//! written back unchanged with the unit's own type code) must be accepted.
#![cfg(feature = "test-util")]

mod common;

use std::time::Duration;

use common::net::raw_post;
use common::units::{fixture_dir, fixtures};
use hmx::ErrorKind;
use hmx::local::{Thermostat, Written};
use hmx::testing::{DEMO_KEY, Fixture, MockThermostat, WriteForm, demo_parameters};
use hmx::totp::Scheme;
use serde_json::{Map, Value, json};

/// Parameters the stand-in refuses to write, and the lock and power flags a
/// harmless write leaves alone.
const NOT_FOR_A_HARMLESS_WRITE: [u16; 5] = [28, 109, 114, 115, 125];

fn client(device: &MockThermostat) -> Thermostat {
    device.client().min_interval(Duration::from_millis(5))
}

fn object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The text of a JSON object, member order kept (serde_json's preserve_order).
fn compact(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).unwrap()
}

/// A clock member as the client reads it: a number or a numeric string.
fn clock(answer: Option<Map<String, Value>>) -> Option<u32> {
    match answer?.get("time")? {
        Value::Number(n) => n.as_u64().map(|t| t as u32),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn lacks_or_unread(name: &str, what: &str, e: &hmx::Error) {
    assert_eq!(e.kind(), ErrorKind::Protocol, "{name} {what}: {e}");
    let m = e.message();
    assert!(
        m.contains("lacks the command") || m.contains("a shape hmx does not read"),
        "{name} {what}: {m}"
    );
}

#[test]
fn answers_replay_byte_for_byte() {
    for (name, f) in fixtures() {
        let device = MockThermostat::builder().fixture(&f).start().unwrap();
        assert_eq!(device.sn(), f.sn, "{name}");
        let t = client(&device);
        for cmd in [1u64, 2, 3, 4, 10] {
            let body = format!(r#"{{"cmd":{cmd}}}"#);
            let want = f.answer(cmd).unwrap_or("{}");
            assert_eq!(
                String::from_utf8(raw_post(&device, &body)).unwrap(),
                want,
                "{name} cmd {cmd}"
            );
            if cmd > 4 {
                continue;
            }
            // Through the client: the answer object as sent, member order kept.
            match (object(want), t.request(json!({ "cmd": cmd }))) {
                (Some(want), Ok(got)) => assert_eq!(compact(&got), compact(&want), "{name} {cmd}"),
                (None, Err(e)) => {
                    assert_eq!(e.kind(), ErrorKind::Protocol, "{name} cmd {cmd}: {e}");
                    assert!(e.message().contains(&format!("cmd {cmd}")), "{e}");
                }
                (want, got) => panic!("{name} cmd {cmd}: recorded {want:?}, got {got:?}"),
            }
        }
        // A recorded scheme is one hmx knows; nothing secret is recorded.
        if let Some(scheme) = &f.scheme {
            scheme.name.parse::<Scheme>().unwrap();
        }
        let file = std::fs::read_to_string(fixture_dir().join(&name)).unwrap();
        for secret in ["\\\"auth\\\"", "token", "password", "\\\"key\\\""] {
            assert!(!file.to_lowercase().contains(secret), "{name}: {secret}");
        }
        // The serial is masked everywhere: in the announcement and every answer.
        let prefix = &f.sn[..8];
        for text in f.answers.values().chain(&f.announcement) {
            if let Some(at) = text.find(prefix) {
                assert_eq!(&text[at..at + f.sn.len()], f.sn, "{name}");
            }
        }
    }
}

#[test]
fn every_read_succeeds_or_says_why() {
    for (name, f) in fixtures() {
        let device = MockThermostat::builder().fixture(&f).start().unwrap();
        let t = client(&device);
        let mut report = vec![name.clone()];

        match (f.parameters(), t.parameters()) {
            (Some(want), Ok(got)) => {
                let got: Vec<(u16, u8, String)> = got
                    .into_iter()
                    .map(|p| (p.id, p.type_code, p.value))
                    .collect();
                assert_eq!(got, want, "{name}");
                report.push(format!("parameters ok ({})", got.len()));
            }
            (None, Err(e)) => {
                lacks_or_unread(&name, "parameters", &e);
                report.push(format!("parameters: {}", e.message()));
            }
            (want, got) => panic!("{name}: parameters {want:?} vs {got:?}"),
        }

        let telemetry = t
            .telemetry()
            .unwrap_or_else(|e| panic!("{name} telemetry: {e}"));
        let want = f.answer(4).map_or_else(Map::new, |a| object(a).unwrap());
        assert_eq!(compact(&telemetry), compact(&want), "{name}");
        report.push(format!("telemetry ok ({} members)", telemetry.len()));

        let has_tt = f
            .answer(2)
            .and_then(object)
            .is_some_and(|a| a.contains_key("tt"));
        match t.schedule() {
            Ok(s) => {
                assert!(has_tt, "{name}");
                assert!(s.days.iter().all(|d| !d.is_empty()), "{name}");
                report.push("schedule ok".into());
            }
            Err(e) => {
                assert!(!has_tt, "{name}: {e}");
                lacks_or_unread(&name, "schedule", &e);
                report.push(format!("schedule: {}", e.message()));
            }
        }

        // cmd 3's clock, else (no clock, or not JSON) the telemetry's.
        let want = clock(f.answer(3).and_then(object)).or(clock(f.answer(4).and_then(object)));
        match (want, t.device_time()) {
            (Some(want), Ok(got)) => {
                assert_eq!(got, want, "{name}");
                report.push(format!("device_time ok ({got})"));
            }
            (None, Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Protocol, "{name}: {e}");
                report.push(format!("device_time: {}", e.message()));
            }
            (want, got) => panic!("{name}: device_time {want:?} vs {got:?}"),
        }
        eprintln!("{}", report.join("\n    "));
    }
}

/// The parameter a harmless write puts back: brightness when listed, else
/// the first writable parameter of a type hmx knows.
fn harmless(list: &[(u16, u8, String)]) -> Option<(u16, String)> {
    let writable = |p: &&(u16, u8, String)| !NOT_FOR_A_HARMLESS_WRITE.contains(&p.0) && p.1 <= 7;
    list.iter()
        .filter(writable)
        .find(|p| p.0 == 23)
        .or_else(|| list.iter().find(writable))
        .map(|p| (p.0, p.2.clone()))
}

#[test]
fn a_value_written_back_unchanged_is_accepted() {
    for (name, f) in fixtures() {
        // A unit that lists LAN locking on (the AX example) needs a key; the
        // list stays as recorded, since `locked` sets 114 to the "1" it has.
        let lan_locked = f
            .parameters()
            .is_some_and(|l| l.iter().any(|p| p.0 == 114 && p.2 == "1"));
        let mut builder = MockThermostat::builder().fixture(&f);
        let mut t_key = None;
        if lan_locked {
            builder = builder.locked(DEMO_KEY, Scheme::default());
            t_key = Some(hmx::TotpKey::new(DEMO_KEY.into()));
        }
        let device = builder.start().unwrap();
        let t = match t_key {
            Some(key) => client(&device).key(key),
            None => client(&device),
        };
        let Some((id, value)) = f.parameters().as_deref().and_then(harmless) else {
            // D2W: no [id, type, value] list, so no type code to write with.
            let e = t.set(&[(23, "5")]).unwrap_err();
            lacks_or_unread(&name, "write", &e);
            eprintln!("{name}: write skipped: {}", e.message());
            assert_eq!(device.stats().writes_applied, 0);
            continue;
        };
        let written = t
            .set(&[(id, value.as_str())])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match f.write_form() {
            WriteForm::Parameters => {
                let Written::Parameters(list) = &written else {
                    panic!("{name}: {written:?}")
                };
                assert_eq!(*list, t.parameters().unwrap(), "{name}");
            }
            WriteForm::Text(_) => assert_eq!(written, Written::Accepted, "{name}"),
        }
        assert_eq!(device.applied(), [(id, value.clone())], "{name}");
        // Nothing changed, so cmd 1 is still the recorded text.
        let cmd1 = raw_post(&device, r#"{"cmd":1}"#);
        assert_eq!(cmd1, f.answer(1).unwrap().as_bytes(), "{name}");
        let answered = match written {
            Written::Accepted => "accepted",
            Written::Parameters(_) => "the parameter list",
        };
        eprintln!("{name}: wrote {id} = {value:?} back (signed: {lan_locked}): {answered}");
    }
}

#[test]
fn a_change_shows_in_cmd_1_in_the_units_order() {
    let f = Fixture::load(fixture_dir().join("az.json")).unwrap();
    let device = MockThermostat::builder().fixture(&f).start().unwrap();
    let t = client(&device);
    let before = t.parameters().unwrap();
    let Written::Parameters(after) = t.set(&[(23, 5)]).unwrap() else {
        panic!("AZ answers a write with the parameter list")
    };
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert_eq!((a.id, a.type_code), (b.id, b.type_code));
        assert_eq!(a.value, if a.id == 23 { "5" } else { &b.value });
    }
    assert_eq!(device.parameter(23).as_deref(), Some("5"));
    // The wrong type code for the unit is refused.
    let answer = t.request(json!({"par": [[23, 1, "5"]]})).unwrap();
    assert_eq!(answer["success"], "false");
}

#[test]
fn a_locked_fixture_needs_the_key_and_scheme() {
    let f = Fixture::load(fixture_dir().join("oz.json")).unwrap();
    let device = MockThermostat::builder()
        .fixture(&f)
        .locked(DEMO_KEY, Scheme::RAW_UNIX)
        .start()
        .unwrap();
    let t = client(&device);
    let e = t.set(&[(23, 10)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Blocked, "{e}");
    let signed = client(&device)
        .key(hmx::TotpKey::new(DEMO_KEY.into()))
        .scheme(Scheme::RAW_UNIX);
    assert!(matches!(
        signed.set(&[(23, 10)]),
        Ok(Written::Parameters(_))
    ));
    // OZ's block answer is its own (it carries sn).
    let block = raw_post(
        &device,
        &format!(r#"{{"sn":"{}","par":[[23,2,"10"]]}}"#, f.sn),
    );
    assert_eq!(block, f.block.unwrap().as_bytes());
}

#[test]
fn the_standin_fixture_is_the_builtin_profile() {
    let f = Fixture::load(fixture_dir().join("sx-standin.json")).unwrap();
    assert_eq!(f.parameters().unwrap(), demo_parameters());
    let replayed = MockThermostat::builder().fixture(&f).start().unwrap();
    let built_in = MockThermostat::builder().sn(&f.sn).start().unwrap();
    for cmd in [1, 2] {
        let body = format!(r#"{{"cmd":{cmd}}}"#);
        assert_eq!(
            raw_post(&replayed, &body),
            raw_post(&built_in, &body),
            "cmd {cmd}"
        );
    }
    let keys = |m: Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(client(&replayed).telemetry().unwrap()),
        keys(client(&built_in).telemetry().unwrap())
    );
}

#[cfg(feature = "cli")]
#[test]
fn hmx_get_telemetry_reads_each_shape() {
    use common::procs::{assert_exit, hmx, stdout};
    for file in ["ms.json", "d2w.json"] {
        let f = Fixture::load(fixture_dir().join(file)).unwrap();
        let device = MockThermostat::builder().fixture(&f).start().unwrap();
        let out = hmx()
            .args([
                "get",
                &device.host(),
                "--sn",
                device.sn(),
                "telemetry",
                "--json",
            ])
            .output()
            .unwrap();
        assert_exit(&out, 0);
        let printed: Map<String, Value> = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(compact(&printed), f.answer(4).unwrap(), "{file}");
    }
}

#[test]
fn a_unit_without_a_list_is_locked_by_the_key_alone() {
    let f = Fixture::load(fixture_dir().join("d2w.json")).unwrap();
    let device = MockThermostat::builder()
        .fixture(&f)
        .locked(DEMO_KEY, Scheme::default())
        .start()
        .unwrap();
    let data = json!({"par": {"119": true}});
    let e = client(&device).request(data.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Blocked, "{e}");
    // Signed with the stand-in's clock (cmd 3's `time` follows it, still a JSON number).
    let signed = client(&device).key(hmx::TotpKey::new(DEMO_KEY.into()));
    let time = signed.device_time().unwrap();
    assert!(time.abs_diff(device.device_time()) <= 2);
    let answer = signed.request(data).unwrap();
    assert_eq!(compact(&answer), f.write.unwrap());
    assert!(device.applied().is_empty());
}
