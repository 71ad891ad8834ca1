//! Working a thermostat on the LAN with the Rust client.
//!
//! The local client against the stand-in thermostat: reads, signed writes, refusals, the probe, the clock, pacing, retries, discovery.
#![cfg(feature = "test-util")]

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hmx::local::{self, Listener, Thermostat, Written};
use hmx::testing::{
    Announcer, DEMO_KEY, DeviceFault, MockThermostat, MockThermostatBuilder, On, WriteAnswer,
    announcement,
};
use hmx::totp::Scheme;
use hmx::{ErrorKind, TotpKey};
use serde_json::{Map, Value, json};

/// Short pauses keep the suite fast; the rules are the same as with the default 1 s.
const INTERVAL: Duration = Duration::from_millis(50);

fn start(builder: MockThermostatBuilder) -> MockThermostat {
    builder.start().expect("stand-in starts")
}

fn client(device: &MockThermostat) -> Thermostat {
    device.client().min_interval(INTERVAL)
}

fn key(text: &str) -> TotpKey {
    TotpKey::new(text.to_string())
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// The last request body that carried `auth`, parsed.
fn last_write(device: &MockThermostat) -> Value {
    let bodies = device.bodies();
    let body = bodies
        .iter()
        .rev()
        .find(|b| b.contains("\"auth\""))
        .expect("a signed request");
    serde_json::from_str(body).unwrap()
}

#[test]
fn reads_parameters_telemetry_schedule_and_clock() {
    let device = start(MockThermostat::builder());
    let t = client(&device);
    let list = t.parameters().unwrap();
    assert_eq!(list.len(), hmx::testing::demo_parameters().len());
    let brightness = local::find(&list, local::BRIGHTNESS).unwrap();
    assert_eq!((brightness.type_code, brightness.value.as_str()), (2, "5"));
    // The device's own type code, not the vendor table's: 31 is listed as int8.
    assert_eq!(local::find(&list, 31).unwrap().type_code, 1);
    let telemetry = t.telemetry().unwrap();
    assert_eq!(telemetry["t.1"], "432");
    let schedule = t.schedule().unwrap();
    assert_eq!(schedule.days[0][0].minute, 360);
    assert_eq!(schedule.days[6][3].temperature_tenths, 180);
    let time = t.device_time().unwrap();
    assert!(time.abs_diff(device.device_time()) <= 2);
    let stats = device.stats();
    assert_eq!(
        (stats.requests, stats.writes_applied, stats.clock_sets),
        (4, 0, 0)
    );
    // Reads go out unsigned and without sn.
    assert_eq!(device.bodies()[0], r#"{"cmd":1}"#);
}

#[test]
fn lenient_where_firmware_differs() {
    let device = start(
        MockThermostat::builder()
            .without_cmd3()
            .without_sn_in_answers()
            .write_answer(WriteAnswer::Parameters),
    );
    let t = client(&device);
    // No clock in cmd 3: the telemetry's `time` is used.
    let time = t.device_time().unwrap();
    assert!(time.abs_diff(device.device_time()) <= 2);
    // A write answered with the full parameter list.
    match t.set(&[(23, 8)]).unwrap() {
        Written::Parameters(list) => assert_eq!(local::find(&list, 23).unwrap().value, "8"),
        other => panic!("expected the parameter list, got {other:?}"),
    }
    assert_eq!(device.parameter(23).as_deref(), Some("8"));
}

#[test]
fn a_different_device_at_the_address_is_an_error() {
    let device = start(MockThermostat::builder().sn("11AA"));
    let t = Thermostat::new(&device.host(), "22BB")
        .unwrap()
        .min_interval(INTERVAL);
    let e = t.parameters().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.message().contains("11AA"), "{e}");
}

#[test]
fn a_signed_write_is_accepted() {
    let device = start(MockThermostat::builder().locked(DEMO_KEY, Scheme::default()));
    let t = client(&device).key(key(DEMO_KEY));
    assert_eq!(
        t.set(&[(23, "7"), (125, "true")]).unwrap(),
        Written::Accepted
    );
    assert_eq!(device.parameter(23).as_deref(), Some("7"));
    assert_eq!(device.parameter(125).as_deref(), Some("1"));
    let bodies = device.bodies();
    // cmd 1 (type codes), cmd 3 (clock; read twice when a 30 s window turned), the write.
    assert_eq!(&bodies[..2], [r#"{"cmd":1}"#, r#"{"cmd":3}"#]);
    assert!((3..=4).contains(&bodies.len()), "{bodies:?}");
    assert!(
        bodies[2..bodies.len() - 1]
            .iter()
            .all(|b| b == r#"{"cmd":3}"#)
    );
    let write = last_write(&device);
    let members: Vec<&str> = write
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(members, ["sn", "time", "auth", "par"]);
    assert_eq!(write["par"], json!([[23, 2, "7"], [125, 7, "1"]]));
    let stats = device.stats();
    assert_eq!(
        (stats.writes_applied, stats.writes_blocked, stats.clock_sets),
        (1, 0, 0)
    );
}

#[test]
fn a_wrong_key_or_no_key_is_blocked_and_changes_nothing() {
    let device = start(MockThermostat::builder().locked(DEMO_KEY, Scheme::default()));
    for t in [
        client(&device).key(key("WRONGKEYWRONGKEY")),
        client(&device),
    ] {
        let e = t.set(&[(23, 9)]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Blocked, "{e}");
        assert!(e.message().contains("LAN locking is on"), "{e}");
        assert!(!e.message().contains("WRONGKEY"), "{e}");
    }
    assert_eq!(device.parameter(23).as_deref(), Some("5"));
    assert!(device.applied().is_empty());
    let stats = device.stats();
    assert_eq!((stats.writes_applied, stats.writes_blocked), (0, 2));
}

#[test]
fn strict_where_a_wrong_value_would_be_dangerous() {
    let device = start(MockThermostat::builder());
    let t = client(&device);
    t.parameters().unwrap();
    let before = device.stats().requests;
    for (values, what) in [
        (vec![(99u16, "1")], "not one the device lists"),
        (vec![(23, "256")], "type for it, uint8 (0 to 255)"),
        (vec![(4, "-129")], "type for it, int8 (-128 to 127)"),
        (vec![(125, "2")], "type for it, bool"),
        (vec![(23, "1"), (23, "2")], "twice"),
        (vec![], "nothing to write"),
    ] {
        let e = t.set(&values).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{values:?}");
        assert!(e.message().contains(what), "{e}");
    }
    // Nothing was sent for any of them.
    assert_eq!(device.stats().requests, before);
    // `request` refuses what would set the clock or clash with what hmx adds.
    for data in [
        json!({}),
        json!({"time": "1"}),
        json!({"sn": "x", "cmd": 5}),
        json!([1]),
    ] {
        let e = t.request(data).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
    assert_eq!(device.stats().requests, before);
    // Any other command goes through `request`, as a json! value or a Map.
    let answer = t.request(object(json!({"cmd": 4}))).unwrap();
    assert_eq!(answer["m.3"], "0");
    let answer = t.request(json!({"tt": {"0": [[300, 230]]}})).unwrap();
    assert_eq!(answer["success"], "true");
    assert_eq!(t.schedule().unwrap().days[0][0].minute, 300);
    assert_eq!(device.stats().clock_sets, 0);
}

#[test]
fn the_probe_finds_each_scheme_and_changes_nothing() {
    let devices: Vec<(Scheme, MockThermostat)> = Scheme::ALL
        .into_iter()
        .map(|s| (s, start(MockThermostat::builder().locked(DEMO_KEY, s))))
        .collect();
    let handles: Vec<_> = devices
        .iter()
        .map(|(_, device)| {
            let t = client(device).key(key(DEMO_KEY));
            thread::spawn(move || t.probe())
        })
        .collect();
    for ((scheme, device), handle) in devices.iter().zip(handles) {
        let report = handle.join().unwrap().unwrap();
        let position = Scheme::ALL.iter().position(|s| s == scheme).unwrap();
        assert_eq!(report.accepted, Some(*scheme), "{report}");
        assert_eq!(report.refused, Scheme::ALL[..position], "{report}");
        assert_eq!((report.parameter, report.value.as_str()), (23, "5"));
        assert_eq!(report.lan_lock, Some(true));
        assert!(
            report.to_string().contains(&format!("accepted: {scheme}")),
            "{report}"
        );
        // One write applied, with the value the device already had; the refused ones changed nothing.
        assert_eq!(device.applied(), [(23, "5".to_string())]);
        let stats = device.stats();
        assert_eq!((stats.writes_applied, stats.writes_blocked), (1, position));
        assert_eq!(device.parameter(23).as_deref(), Some("5"));
    }
}

#[test]
fn the_probe_writes_nothing_when_unlocked_and_skips_base32_for_other_keys() {
    let device = start(MockThermostat::builder());
    let report = client(&device).key(key(DEMO_KEY)).probe().unwrap();
    assert_eq!((report.lan_lock, report.accepted), (Some(false), None));
    assert!(
        report.to_string().contains("LAN locking is off"),
        "{report}"
    );
    assert_eq!(device.stats().writes_applied, 0);

    // A key with 0, 1, 8 or 9 cannot be base32: those schemes are skipped.
    let odd = "AAD4EXAJX4E8A8XT";
    let device = start(MockThermostat::builder().locked(odd, Scheme::RAW_UNIX));
    let report = client(&device).key(key(odd)).probe().unwrap();
    assert_eq!(report.accepted, Some(Scheme::RAW_UNIX));
    let device = start(MockThermostat::builder().locked(odd, Scheme::BASE32_UNIX));
    let report = client(&device).key(key(odd)).probe().unwrap();
    assert_eq!(report.accepted, None);
    assert_eq!(report.refused, [Scheme::RAW_2000, Scheme::RAW_UNIX]);
    assert_eq!(report.skipped, [Scheme::BASE32_2000, Scheme::BASE32_UNIX]);
    assert!(device.applied().is_empty());

    let e = client(&device).probe().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn the_device_clock_is_used_not_this_machines() {
    // The device runs 10 minutes ahead: this machine's clock is 10 minutes behind it.
    let device = start(
        MockThermostat::builder()
            .locked(DEMO_KEY, Scheme::default())
            .clock_offset(600),
    );
    let t = client(&device).key(key(DEMO_KEY));
    t.set(&[(23, 3)]).unwrap();
    t.set(&[(23, 4)]).unwrap();
    assert_eq!(device.parameter(23).as_deref(), Some("4"));
    let write = last_write(&device);
    let sent: u32 = write["time"].as_str().unwrap().parse().unwrap();
    assert!(sent >= hmx::totp::device_time_now() + 590, "time {sent}");

    // What a client using this machine's clock would have sent is refused.
    let machine = hmx::totp::device_time_now();
    let body = local::sign_request(
        DEMO_KEY.as_bytes(),
        device.sn(),
        machine,
        r#"{"par":[[23,2,"9"]]}"#,
    )
    .unwrap();
    let answer = ureq::post(format!("http://{}/api.cgi", device.host()))
        .send(body.as_bytes())
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert_eq!(answer, r#"{"success":"block"}"#);
    assert_eq!(device.parameter(23).as_deref(), Some("4"));
    assert_eq!(device.stats().clock_sets, 0);
}

#[test]
fn a_window_that_turns_before_sending_is_signed_again() {
    use std::time::{SystemTime, UNIX_EPOCH};
    let device = start(MockThermostat::builder().locked(DEMO_KEY, Scheme::default()));
    let t = client(&device).key(key(DEMO_KEY));
    t.parameters().unwrap();
    // Early in a second of this machine's clock, put the device at the last
    // second of a 30 s window: the clock read sees it, the write comes after.
    while SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_millis()
        > 100
    {
        thread::sleep(Duration::from_millis(10));
    }
    let now = i64::from(hmx::totp::device_time_now());
    device.set_clock_offset(29 - now.rem_euclid(30));
    device.reset_stats();
    t.set(&[(23, 6)]).unwrap();
    let bodies = device.bodies();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(&bodies[..2], [r#"{"cmd":3}"#, r#"{"cmd":3}"#]);
    assert_eq!(device.parameter(23).as_deref(), Some("6"));
}

#[test]
fn eight_threads_take_turns() {
    let device = start(
        MockThermostat::builder()
            .locked(DEMO_KEY, Scheme::default())
            .service_time(Duration::from_millis(5)),
    );
    // Half share one Thermostat, half have their own: the turn is per device address.
    let shared = Arc::new(client(&device).key(key(DEMO_KEY)));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let t = if i % 2 == 0 {
                shared.clone()
            } else {
                Arc::new(client(&device).key(key(DEMO_KEY)))
            };
            thread::spawn(move || {
                t.telemetry().unwrap();
                if i < 2 {
                    t.set(&[(23, 5)]).unwrap();
                }
                t.device_time().unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = device.stats();
    assert_eq!(stats.max_concurrent, 1, "{stats:?}");
    assert_eq!(stats.concurrent_refused, 0, "{stats:?}");
    assert_eq!(stats.writes_applied, 2, "{stats:?}");
    // 8 telemetry reads, 8 clock reads; each write: cmd 1 (its client's first), cmd 3
    // (twice when a 30 s window turned before the write could go) and the write.
    assert!((22..=24).contains(&stats.requests), "{stats:?}");
    let gap = stats.min_gap.unwrap();
    assert!(
        gap >= INTERVAL - Duration::from_millis(5),
        "min gap {gap:?}"
    );
}

#[test]
fn the_stand_in_refuses_concurrent_requests() {
    // Without hmx's pacing (plain ureq), overlapping requests are answered busy.
    let device = start(MockThermostat::builder().service_time(Duration::from_millis(200)));
    let url = format!("http://{}/api.cgi", device.host());
    let answers: Vec<String> = (0..3)
        .map(|_| {
            let url = url.clone();
            thread::spawn(move || {
                ureq::post(&url)
                    .send(r#"{"cmd":4}"#)
                    .unwrap()
                    .into_body()
                    .read_to_string()
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let busy = answers
        .iter()
        .filter(|a| a.as_str() == r#"{"status":"timeout"}"#)
        .count();
    assert!(busy >= 1, "{answers:?}");
    assert!(device.stats().max_concurrent >= 2);
}

#[test]
fn reads_are_retried_on_busy_empty_and_cut_off_answers() {
    for fault in [DeviceFault::Busy, DeviceFault::Empty, DeviceFault::CutOff] {
        let device = start(MockThermostat::builder().fault(On::Cmd(4), fault, 2));
        let t = client(&device);
        let telemetry = t.telemetry().unwrap();
        assert_eq!(telemetry["t.2"], "368", "{fault:?}");
        assert_eq!(device.stats().requests, 3, "{fault:?}");

        device.inject(On::Cmd(1), fault, 3);
        let e = t.parameters().unwrap_err();
        let (kind, words) = match fault {
            DeviceFault::Busy => (ErrorKind::Timeout, "busy"),
            DeviceFault::Empty => (ErrorKind::Protocol, "empty body"),
            _ => (ErrorKind::Protocol, "cut-off JSON"),
        };
        assert_eq!(e.kind(), kind, "{e}");
        assert!(
            e.message().contains(words) && e.message().contains("3 times"),
            "{e}"
        );
        assert_eq!(device.stats().requests, 6);
    }
}

#[test]
fn writes_are_retried_only_after_busy() {
    let device = start(MockThermostat::builder().fault(On::Write, DeviceFault::Busy, 1));
    let t = client(&device);
    t.set(&[(23, 6)]).unwrap();
    assert_eq!(device.stats().writes_applied, 1);
    assert_eq!(device.stats().requests, 3); // cmd 1, busy write, write

    // A signed write said busy is signed afresh: a new clock read, a new token.
    let locked = start(
        MockThermostat::builder()
            .locked(DEMO_KEY, Scheme::default())
            .fault(On::Write, DeviceFault::Busy, 2),
    );
    let signed = client(&locked).key(key(DEMO_KEY));
    signed.set(&[(23, 6)]).unwrap();
    let bodies = locked.bodies();
    let clock_reads = bodies.iter().filter(|b| *b == r#"{"cmd":3}"#).count();
    let writes = bodies.iter().filter(|b| b.contains("\"auth\"")).count();
    assert_eq!(writes, 3, "{bodies:?}");
    assert!((3..=6).contains(&clock_reads), "{bodies:?}");
    assert_eq!(locked.stats().writes_applied, 1);

    // The device acted but answered nothing usable: not sent again.
    for fault in [DeviceFault::Empty, DeviceFault::CutOff] {
        device.reset_stats();
        device.inject(On::Write, fault, 1);
        let e = t.set(&[(23, 7)]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.message().contains("not sent again"), "{e}");
        let stats = device.stats();
        assert_eq!((stats.requests, stats.writes_applied), (1, 1), "{fault:?}");
    }
}

#[test]
fn a_device_that_does_not_answer_times_out() {
    let device = start(MockThermostat::builder().fault(On::Any, DeviceFault::NoAnswer, 1));
    let t = client(&device).timeout(Duration::from_millis(300));
    let started = Instant::now();
    let e = t.telemetry().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Nothing retried after silence; the next call works.
    assert_eq!(device.stats().requests, 1);
    t.telemetry().unwrap();
}

#[test]
fn discovery_finds_three_devices_one_of_which_moves() {
    let listener = Listener::bind(0).unwrap();
    let port = listener.port();
    // A home-automation hub already on the same port: both hear every broadcast.
    let hub = Listener::bind(port).unwrap();
    let target = SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), port);
    let every = Duration::from_millis(40);
    let sns = [
        "058016000543464839373520000001",
        "058016000543464839373520000002",
        "058016000543464839373520000003",
    ];
    let announce = |sn: &str, hw: &str, last: u8| {
        let packet = announcement(sn, hw).to_string();
        Announcer::start(packet, Ipv4Addr::new(127, 0, 0, last), target, every).unwrap()
    };
    let _a = announce(sns[0], "sx", 2);
    let _b = announce(sns[1], "ax", 3);
    let moving = announce(sns[2], "oz", 4);
    let _noise =
        Announcer::start(&b"{\"sn\":"[..], Ipv4Addr::new(127, 0, 0, 6), target, every).unwrap();
    let _bare =
        Announcer::start(&b"not json"[..], Ipv4Addr::new(127, 0, 0, 7), target, every).unwrap();
    let mover = thread::spawn(move || {
        // Let the old address be heard first, then move (a DHCP renewal after a power cut).
        while moving.sent() < 3 {
            thread::sleep(Duration::from_millis(10));
        }
        thread::sleep(Duration::from_millis(100));
        moving.move_to(Ipv4Addr::new(127, 0, 0, 5)).unwrap();
        moving
    });
    let found = listener.collect(Duration::from_millis(1200)).unwrap();
    let _moving = mover.join().unwrap();
    let mut sns_found: Vec<&str> = found.iter().map(|f| f.sn.as_str()).collect();
    sns_found.sort();
    assert_eq!(sns_found, sns, "{found:?}");
    let by_sn = |sn: &str| found.iter().find(|f| f.sn == sn).unwrap();
    assert_eq!(by_sn(sns[0]).ip.to_string(), "127.0.0.2");
    assert_eq!(by_sn(sns[0]).hw.as_deref(), Some("sx"));
    assert_eq!(by_sn(sns[0]).cloud, Some(true));
    assert_eq!(by_sn(sns[0]).wifi, Some(-61));
    assert_eq!(by_sn(sns[1]).ip.to_string(), "127.0.0.3");
    let moved = by_sn(sns[2]);
    assert_eq!(moved.ip.to_string(), "127.0.0.5", "newest address wins");
    assert!(moved.seen >= 2);
    assert!(hub.next(Duration::from_millis(500)).unwrap().is_some());

    // Non-loopback targets and sources are refused by the announcer itself.
    let lan = SocketAddrV4::new(Ipv4Addr::new(255, 255, 255, 255), port);
    assert!(Announcer::start(&b"{}"[..], Ipv4Addr::LOCALHOST, lan, every).is_err());
    assert!(Announcer::start(&b"{}"[..], Ipv4Addr::new(192, 0, 2, 1), target, every).is_err());
}

#[test]
fn discover_returns_nothing_when_nobody_announces() {
    let found = local::discover(0, Duration::from_millis(100)).unwrap();
    assert!(found.is_empty());
}

#[test]
fn thermostats_that_come_and_go_are_paced_like_one() {
    let device = start(MockThermostat::builder());
    // Each call on a Thermostat of its own, dropped at once: as every C call and
    // every short-lived Rust handle does.
    for _ in 0..4 {
        client(&device).telemetry().unwrap();
    }
    let stats = device.stats();
    assert_eq!(stats.requests, 4, "{stats:?}");
    let gap = stats.min_gap.unwrap();
    assert!(
        gap >= INTERVAL - Duration::from_millis(5),
        "min gap {gap:?}"
    );
}

#[test]
fn answers_are_handed_on_as_sent() {
    let device = start(MockThermostat::builder());
    let sent: Map<String, Value> =
        serde_json::from_slice(&common::net::raw_post(&device, r#"{"cmd":4}"#)).unwrap();
    let sent: Vec<&String> = sent.keys().collect();
    assert_eq!(
        sent.first().map(|k| k.as_str()),
        Some("sn"),
        "the stand-in sends sn first"
    );
    let t = client(&device);
    let telemetry = t.telemetry().unwrap();
    assert_eq!(telemetry.keys().collect::<Vec<_>>(), sent, "telemetry()");
    let answer = t.request(json!({"cmd": 4})).unwrap();
    assert_eq!(answer.keys().collect::<Vec<_>>(), sent, "request()");
}

#[test]
fn a_port_held_without_sharing_is_explained() {
    // A plain std socket sets no address reuse, like a program that keeps the port to itself.
    let holder = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
    let port = holder.local_addr().unwrap().port();
    let e = Listener::bind(port).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network);
    let m = e.message();
    assert!(m.contains(&format!("UDP port {port}")), "{m}");
    assert!(m.contains("another program holds it"), "{m}");
    assert!(!m.contains("Address already in use"), "{m}");
}

#[test]
fn padded_announcements_are_heard_and_unreadable_ones_are_reported() {
    let listener = Listener::bind(0).unwrap();
    let port = listener.port();
    let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let sock = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut padded = announcement("058016000543464839373520000159", "sx")
        .to_string()
        .into_bytes();
    padded.resize(256, 0);
    sock.send_to(&padded, to).unwrap();
    let found = listener.collect(Duration::from_millis(300)).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");

    let listener = Listener::bind(0).unwrap();
    let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, listener.port());
    sock.send_to(b"{\"sn\":\"AB12\"}\r\nGARBAGE", to).unwrap();
    sock.send_to(b"hello", to).unwrap();
    let e = listener.collect(Duration::from_millis(300)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    let m = e.message();
    assert!(
        m.contains("heard 2 datagram(s)") && m.contains("GARBAGE"),
        "{m}"
    );
    assert_eq!(listener.unreadable().count, 2);
}

#[test]
fn framing_that_small_stacks_send() {
    // Accepted: a complete answer followed only by padding, however it is framed.
    for fault in [
        DeviceFault::TrailingNul,
        DeviceFault::Padded,
        DeviceFault::NoContentLength,
        DeviceFault::LfChunked,
    ] {
        let device = start(MockThermostat::builder().locked(DEMO_KEY, Scheme::default()));
        let t = client(&device).key(key(DEMO_KEY));
        device.inject(On::Any, fault, 100);
        let telemetry = t.telemetry().unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(telemetry["t.1"], "432", "{fault:?}");
        // A confirmed write followed by a stray NUL is a confirmed write.
        let written = t
            .set(&[(23, 7)])
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(written, Written::Accepted, "{fault:?}");
        assert_eq!(device.parameter(23).as_deref(), Some("7"), "{fault:?}");
    }
    // Refused with what arrived: more than padding after the answer, or no HTTP at all.
    for (fault, shows) in [
        (DeviceFault::TrailingGarbage, "GARBAGE"),
        (DeviceFault::NoStatusLine, "status line"),
    ] {
        let device = start(MockThermostat::builder());
        let t = client(&device);
        t.parameters().unwrap();
        device.inject(On::Cmd(4), fault, 100);
        let e = t.telemetry().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{fault:?}: {e}");
        assert!(e.message().contains(shows), "{fault:?}: {e}");
        device.inject(On::Write, fault, 1);
        let e = t.set(&[(23, 7)]).unwrap_err();
        assert!(e.message().contains("may have applied"), "{fault:?}: {e}");
    }
}
