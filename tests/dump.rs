//! Recording a unit as a fixture (`Fixture::record`, what `hmx dump` runs).
//!
//! Every `tests/fixtures/*.json` plays the live unit: the stand-in answers as
//! it, a real `Thermostat` records it over loopback, a second stand-in
//! replays the record, and the two must answer byte for byte alike (except
//! the running clock when locked). A unit that puts its full serial, its
//! key, the probe's tokens and a planted password in its answers must leave
//! none of them in the record.
#![cfg(feature = "test-util")]

mod common;

use std::time::Duration;

use common::net::raw_post;
use common::units::{fixture_dir, fixtures};
use hmx::ErrorKind;
use hmx::local::{Fixture, ProbeReport, Recording, Thermostat};
use hmx::testing::{DEMO_KEY, MockThermostat};
use hmx::totp::{self, Scheme};
use serde_json::Value;

fn client(device: &MockThermostat) -> Thermostat {
    device.client().min_interval(Duration::from_millis(5))
}

fn read(device: &MockThermostat, cmd: u64) -> String {
    String::from_utf8(raw_post(device, &format!(r#"{{"cmd":{cmd}}}"#))).unwrap()
}

/// An answer with its clock set to 0: a locked stand-in's `time` follows its
/// own clock (as a string or a number, as recorded).
fn without_clock(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut map)) if map.contains_key("time") => {
            let time = map.get_mut("time").unwrap();
            *time = if time.is_number() {
                0.into()
            } else {
                "0".into()
            };
            serde_json::to_string(&map).unwrap()
        }
        _ => text.to_string(),
    }
}

/// The announcement's `hw`.
fn announced_hw(f: &Fixture) -> String {
    let packet: Value = serde_json::from_str(f.announcement.as_deref().unwrap()).unwrap();
    packet["hw"].as_str().unwrap().to_string()
}

#[test]
fn a_recorded_unit_replays_byte_for_byte() {
    for (name, f) in fixtures() {
        let unit = MockThermostat::builder().fixture(&f).start().unwrap();
        let with = Recording {
            announcement: f.announcement.as_deref(),
            ..Default::default()
        };
        let recorded =
            Fixture::record(&client(&unit), &with).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Through the file, as `hmx dump --out` and a later test would take it.
        let recorded = Fixture::from_json(&recorded.to_json()).unwrap();
        assert_eq!(recorded.sn, f.sn, "{name}");
        assert_eq!(recorded.announcement, f.announcement, "{name}");
        assert_eq!(recorded.model, announced_hw(&f), "{name}");
        assert!(
            recorded.source.starts_with("hmx dump, 20"),
            "{name}: {}",
            recorded.source
        );
        assert_eq!(
            (recorded.firmware.as_ref(), recorded.scheme.as_ref()),
            (None, None),
            "{name}"
        );
        assert_eq!(
            (recorded.write.as_ref(), recorded.block.as_ref()),
            (None, None),
            "{name}"
        );
        assert!(
            recorded.notes.as_ref().unwrap().contains("No probe"),
            "{name}"
        );
        let replay = MockThermostat::builder()
            .fixture(&recorded)
            .start()
            .unwrap();
        for cmd in 1..=4 {
            let answered = read(&unit, cmd);
            // Each command once, as answered: `{}` from a unit that lacks it,
            // MS's cmd 3 that is not JSON, D2W's shapes.
            assert_eq!(
                recorded.answer(cmd),
                Some(answered.as_str()),
                "{name} cmd {cmd}"
            );
            assert_eq!(read(&replay, cmd), answered, "{name} cmd {cmd}");
        }
        assert_eq!(recorded.answers.len(), 4, "{name}");
        eprintln!("{name}: recorded and replayed cmd 1 to 4 byte for byte");
    }
}

#[test]
fn a_locked_unit_is_recorded_with_its_scheme_and_its_write_and_block_answers() {
    for (name, f) in fixtures() {
        // The probe needs a parameter list to write a value back (not D2W)
        // and a clock to sign with (the SX capture has neither cmd 3 nor 4).
        let clock = [3, 4]
            .iter()
            .any(|&cmd| f.answer(cmd).is_some_and(|a| a.contains("\"time\"")));
        if f.parameters().is_none() || !clock {
            eprintln!("{name}: skipped: no parameter list or no clock");
            continue;
        }
        let locked = |f: &Fixture| {
            MockThermostat::builder()
                .fixture(f)
                .locked(DEMO_KEY, Scheme::RAW_UNIX)
                .start()
                .unwrap()
        };
        let signed =
            |device: &MockThermostat| client(device).key(hmx::TotpKey::new(DEMO_KEY.into()));
        let unit = locked(&f);
        let t = signed(&unit);
        let probe = t.probe().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(probe.accepted, Some(Scheme::RAW_UNIX), "{name}");
        let with = Recording {
            announcement: f.announcement.as_deref(),
            probe: Some(&probe),
            ..Default::default()
        };
        let recorded = Fixture::record(&t, &with).unwrap();
        let recorded = Fixture::from_json(&recorded.to_json()).unwrap();
        let scheme = recorded.scheme.as_ref().unwrap();
        assert_eq!(scheme.name, "raw-unix", "{name}");
        assert!(
            scheme.established.contains("hmx probe, 20")
                && scheme
                    .established
                    .ends_with("accepted raw-unix (refused: raw-2000)"),
            "{name}: {}",
            scheme.established
        );
        let block = f.block.as_deref().unwrap_or(r#"{"success":"block"}"#);
        assert_eq!(recorded.block.as_deref(), Some(block), "{name}");
        assert_eq!(recorded.write_form(), f.write_form(), "{name}");

        // The replay, locked alike, answers as the unit: reads (but the
        // clock), and the probe's write and refusal.
        let replay = locked(&recorded);
        for cmd in 1..=4 {
            assert_eq!(
                without_clock(&read(&replay, cmd)),
                without_clock(&read(&unit, cmd)),
                "{name} cmd {cmd}"
            );
        }
        let again = signed(&replay).probe().unwrap();
        let answers = |p: &ProbeReport| {
            (
                p.accepted,
                p.refused.clone(),
                p.write_answer.clone(),
                p.block_answer.clone(),
            )
        };
        assert_eq!(answers(&again), answers(&probe), "{name}");
        eprintln!("{name}: locked unit recorded: {}", scheme.established);
    }
}

#[test]
fn a_probe_that_wrote_nothing_leaves_write_and_scheme_unknown() {
    let f = Fixture::load(fixture_dir().join("sx-standin.json")).unwrap();
    let unit = MockThermostat::builder().fixture(&f).start().unwrap();
    let t = client(&unit).key(hmx::TotpKey::new(DEMO_KEY.into()));
    let probe = t.probe().unwrap();
    assert_eq!(probe.lan_lock, Some(false));
    let with = Recording {
        probe: Some(&probe),
        firmware: Some("2.4"),
        ..Default::default()
    };
    let recorded = Fixture::record(&t, &with).unwrap();
    assert_eq!(recorded.model, "unknown");
    assert_eq!(recorded.firmware.as_deref(), Some("2.4"));
    assert_eq!(
        (recorded.scheme, recorded.write, recorded.block),
        (None, None, None)
    );
    let notes = recorded.notes.unwrap();
    assert!(notes.contains("LAN locking was off"), "{notes}");
    assert!(notes.contains("model is unknown"), "{notes}");
    assert_eq!(unit.stats().writes_applied, 0);
}

#[test]
fn an_announcement_from_another_unit_or_a_short_secret_is_refused() {
    let f = Fixture::load(fixture_dir().join("az.json")).unwrap();
    let unit = MockThermostat::builder().fixture(&f).start().unwrap();
    let other = r#"{"sn":"11001500XXXXXXXXXXXXXXXXXXXXXX","hw":"az"}"#;
    let with = Recording {
        announcement: Some(other),
        ..Default::default()
    };
    let e = Fixture::record(&client(&unit), &with).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(
        e.message().contains("another") || e.message().contains("not"),
        "{e}"
    );
    let with = Recording {
        secrets: &["abc"],
        ..Default::default()
    };
    let e = Fixture::record(&client(&unit), &with).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // Nothing was read: both are refused before the first request.
    assert_eq!(unit.stats().requests, 0);
    // Debug shows how many secrets, never which.
    let shown = format!(
        "{:?}",
        Recording {
            secrets: &["hunter2-planted"],
            ..Default::default()
        }
    );
    assert!(
        !shown.contains("hunter2") && shown.contains("secrets: 1"),
        "{shown}"
    );
}

/// The unit's serial, unmasked, with letters in the part a mask keeps, so
/// that case matters (Welrok serials start `404CCAAA`).
const SERIAL: &str = "404CCAAA0543464839373520ABCD01";
const MASKED: &str = "404CCAAAXXXXXXXXXXXXXXXXXXXXXX";
/// What a unit might carry that is not its own business to hand out: a Wi-Fi
/// password and a cloud session token.
const PASSWORD: &str = "Hunter2-WiFi-Pass";
const CLOUD_TOKEN: &str = "3f9c2a7be41d0c55a8e6f7b2d9c1e0a4b5f6c7d8";

/// `SERIAL` in mixed case, as answers might carry it.
fn mixed_case(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

/// Whether `needle` occurs in `text`, ASCII letters in either case.
fn contains_any_case(text: &str, needle: &str) -> bool {
    text.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// The stand-in's SX with the full serial everywhere (three cases), and the
/// key, a password, a cloud token and every token the probe may send in its
/// answers (in cmd 2, which the probe never sees, as well as in the write
/// and block answers, which it keeps).
fn planted(tokens: &str) -> Fixture {
    let mut f = Fixture::load(fixture_dir().join("sx-standin.json")).unwrap();
    let masked = f.sn.clone();
    let lower = SERIAL.to_ascii_lowercase();
    let mixed = mixed_case(SERIAL);
    f.sn = SERIAL.to_string();
    let put = |text: &str, sn: &str, extra: &str| {
        let text = text.replace(&masked, sn);
        format!("{},{extra}}}", text.strip_suffix('}').unwrap())
    };
    let recorded = f.answers.clone();
    let cmd = |n: &str| recorded[n].as_str();
    f.answers.insert(
        "cmd1".into(),
        put(cmd("cmd1"), SERIAL, &format!(r#""owner":"{mixed}""#)),
    );
    f.answers.insert(
        "cmd2".into(),
        put(
            cmd("cmd2"),
            SERIAL,
            &format!(r#""sn":"{mixed}","last":"{tokens}""#),
        ),
    );
    f.answers.insert(
        "cmd3".into(),
        put(cmd("cmd3"), &lower, &format!(r#""cloudKey":"{DEMO_KEY}""#)),
    );
    f.answers.insert(
        "cmd4".into(),
        put(
            cmd("cmd4"),
            &mixed,
            &format!(r#""wifiPass":"{PASSWORD}","session":"{CLOUD_TOKEN}","dev":"{lower}""#),
        ),
    );
    f.announcement = Some(put(
        f.announcement.as_deref().unwrap(),
        &lower,
        &format!(r#""ap":"{PASSWORD}""#),
    ));
    f.write = Some(format!(
        r#"{{"success":"true","sn":"{lower}","echo":"{tokens}"}}"#
    ));
    f.block = Some(format!(
        r#"{{"sn":"{mixed}","success":"block","echo":"{tokens}","k":"{}"}}"#,
        DEMO_KEY.to_ascii_lowercase()
    ));
    f
}

#[test]
fn a_record_holds_no_key_token_serial_or_planted_secret() {
    // Every token the probe could send in the next ten minutes, by any scheme.
    let now = totp::device_time_now();
    let mut tokens = Vec::new();
    for scheme in Scheme::ALL {
        for window in 0..=20u32 {
            let time = now - totp::PERIOD + window * totp::PERIOD;
            tokens.push(scheme.code(DEMO_KEY.as_bytes(), time).unwrap().to_string());
        }
    }
    let f = planted(&tokens.join(" "));
    let unit = MockThermostat::builder()
        .fixture(&f)
        .locked(DEMO_KEY, Scheme::RAW_UNIX)
        .start()
        .unwrap();
    let t = client(&unit).key(hmx::TotpKey::new(DEMO_KEY.into()));
    let probe = t.probe().unwrap();
    assert_eq!(probe.accepted, Some(Scheme::RAW_UNIX));
    // The tokens that went out, from the stand-in's log of request bodies.
    let sent: Vec<String> = unit
        .bodies()
        .iter()
        .filter_map(|b| {
            serde_json::from_str::<Value>(b).ok()?["auth"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(sent.len(), 2, "one refused, one accepted");
    // The unit did echo them (else this test would prove nothing), and the probe kept none.
    for token in &sent {
        for planted in [f.block.as_deref().unwrap(), f.answer(2).unwrap()] {
            assert!(
                planted.contains(token.as_str()),
                "the planted answers cover {token}"
            );
        }
        assert!(!format!("{probe:?}").contains(token.as_str()));
    }

    let announcement = f.announcement.clone().unwrap();
    let with = Recording {
        announcement: Some(&announcement),
        probe: Some(&probe),
        secrets: &[PASSWORD, CLOUD_TOKEN],
        ..Default::default()
    };
    let recorded = Fixture::record(&t, &with).unwrap();
    let text = recorded.to_json();
    assert!(!contains_any_case(&text, DEMO_KEY), "the key: {text}");
    assert!(!contains_any_case(&text, SERIAL), "the serial: {text}");
    assert!(
        !contains_any_case(&text, PASSWORD) && !contains_any_case(&text, CLOUD_TOKEN),
        "{text}"
    );
    for token in &sent {
        assert!(!text.contains(token.as_str()), "token {token}: {text}");
    }
    // Every serial is masked, keeping the case each text had.
    assert_eq!(recorded.sn, MASKED);
    assert!(
        recorded
            .answer(3)
            .unwrap()
            .contains(r#""sn":"404ccaaaXXXXXXXXXXXXXXXXXXXXXX""#)
    );
    let cmd4 = recorded.answer(4).unwrap();
    assert!(
        cmd4.contains(&format!(
            r#""sn":"{}XXXXXXXXXXXXXXXXXXXXXX""#,
            &mixed_case(SERIAL)[..8]
        )),
        "{cmd4}"
    );
    assert!(
        cmd4.contains(r#""wifiPass":"<redacted>","session":"<redacted>""#),
        "{cmd4}"
    );
    assert!(
        recorded
            .answer(3)
            .unwrap()
            .contains(r#""cloudKey":"<redacted>""#)
    );
    assert!(
        recorded
            .block
            .as_deref()
            .unwrap()
            .contains(r#""k":"<redacted>""#)
    );
    assert!(
        recorded
            .announcement
            .as_deref()
            .unwrap()
            .contains(r#""ap":"<redacted>""#)
    );
    assert_eq!(recorded.scheme.unwrap().name, "raw-unix");

    // Apart from those, the record is what the unit answered: its replay
    // answers cmd 1 and 2 (no clock in them) as the unit with the same
    // replacements made.
    let replay = MockThermostat::builder()
        .fixture(&Fixture::from_json(&text).unwrap())
        .start()
        .unwrap();
    for cmd in [1, 2] {
        let mut want = read(&unit, cmd);
        for (from, to) in [
            (SERIAL.to_string(), MASKED.to_string()),
            (
                mixed_case(SERIAL),
                format!("{}XXXXXXXXXXXXXXXXXXXXXX", &mixed_case(SERIAL)[..8]),
            ),
        ] {
            want = want.replace(&from, &to);
        }
        for token in &sent {
            want = want.replace(token.as_str(), "<redacted>");
        }
        assert_eq!(read(&replay, cmd), want, "cmd {cmd}");
    }
}

#[test]
fn to_json_writes_a_fixture_as_the_committed_files_are() {
    for path in std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
    {
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let f = Fixture::from_json(&text).unwrap();
            assert_eq!(f.to_json(), text, "{}", path.display());
        }
    }
    let e = Fixture::from_json(r#"{"model":"sx","extra":1}"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = Fixture::load(fixture_dir().join("missing.json")).unwrap_err();
    assert!(e.message().contains("missing.json"), "{e}");
}

/// `hmx dump` as a user runs it: the file it writes replays as the unit,
/// names the scheme the probe settled, and holds no key or full serial.
#[cfg(feature = "cli")]
#[test]
fn hmx_dump_writes_a_fixture_that_replays_as_the_unit() {
    use common::procs::{assert_exit, hmx};
    let f = Fixture::load(fixture_dir().join("oz.json")).unwrap();
    let device = MockThermostat::builder()
        .fixture(&f)
        .locked(DEMO_KEY, Scheme::RAW_UNIX)
        .start()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("hmx-dump-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("unit.json");
    let out = hmx()
        .args([
            "dump",
            &device.host(),
            "--sn",
            device.sn(),
            "--firmware",
            "2.5",
        ])
        .args(["--key", DEMO_KEY, "--out"])
        .arg(&out_file)
        .env_remove("HMX_SITE")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("raw-unix") && stderr.contains("new issue"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(!text.contains(DEMO_KEY), "{text}");
    let recorded = Fixture::from_json(&text).unwrap();
    assert_eq!(recorded.firmware.as_deref(), Some("2.5"));
    assert_eq!(recorded.scheme.as_ref().unwrap().name, "raw-unix");
    // Reloaded in a stand-in, it answers as the unit did (but for the clock).
    let replay = MockThermostat::builder()
        .fixture(&recorded)
        .start()
        .unwrap();
    for cmd in [1, 2, 3, 4] {
        assert_eq!(
            without_clock(&read(&replay, cmd)),
            without_clock(&read(&device, cmd)),
            "cmd {cmd}"
        );
    }
    // Nothing was applied: the probe wrote brightness back unchanged.
    assert!(
        device
            .applied()
            .iter()
            .all(|(id, v)| *id == 23 && *v == "10"),
        "{:?}",
        device.applied()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
