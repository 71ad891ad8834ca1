//! Finding thermostats on a real (virtual) LAN: listening and sweeping.
//!
//! Most tests build a LAN of network namespaces (tests/common/netns.rs): a
//! bridge, a host namespace where hmx runs, and stand-in thermostats
//! (`mock_thermostat --listen 192.0.2.10:80 --announce-to 192.0.2.255:23500`)
//! each in a namespace of its own, on documentation subnets only. They need
//! root and iproute2; elsewhere they print why they are skipped and pass.
//! The sweep's own rules (one request per address, the per-address turn, no
//! retry, answers without a serial) are also checked on loopback, which
//! runs everywhere.
#![cfg(feature = "test-util")]

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::{Duration, Instant};

use common::netns::{ANNOUNCE_PORT, DeviceId, DeviceSpec, Lan};
use hmx::local::{self, Found, FoundBy, SWEEP_TIMEOUT, SweepOptions, SweepReport, Thermostat};
use hmx::testing::{DEMO_KEY, DEMO_SN, DeviceFault, MockThermostat, On};
use serde_json::json;

/// Stand-ins announce every 100 ms on the LAN; a listen of this long hears each several times.
const LISTEN: Duration = Duration::from_millis(1000);

const SN: [&str; 5] = [
    "058016000543464839373520000010",
    "058016000543464839373520000011",
    "058016000543464839373520000012",
    "058016000543464839373520000013",
    "058016000543464839373520000020",
];

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// `local::discover` on the announcement port, run in the host namespace.
fn discover(lan: &Lan) -> Vec<Found> {
    lan.in_host(|| local::discover(ANNOUNCE_PORT, LISTEN).unwrap())
}

/// `(sn, ip)` of each found device, sorted.
fn where_found(found: &[Found]) -> Vec<(String, IpAddr)> {
    let mut out: Vec<_> = found.iter().map(|f| (f.sn.clone(), f.ip)).collect();
    out.sort();
    out
}

/// `(sn, ip)` of each device named, as the LAN has them now, sorted.
fn expected(lan: &Lan, devices: &[DeviceId]) -> Vec<(String, IpAddr)> {
    let mut out: Vec<_> = devices
        .iter()
        .map(|d| (lan.sn(*d).to_string(), IpAddr::V4(lan.addr(*d))))
        .collect();
    out.sort();
    out
}

/// Sweep options for the namespace LAN: `timeout` per address, and no
/// pacing wait. The per-address turns belong to the test process, not to a
/// namespace, and every test's LAN uses the same addresses: with the
/// default 1 s interval, tests running side by side would wait for each
/// other's requests (a request in flight to the same address in another
/// test's LAN still delays a sweep, by its bound at most; the timings
/// asserted leave room for that). Pacing is checked on loopback below.
fn on_lan(timeout: Duration) -> SweepOptions {
    SweepOptions::default()
        .timeout(timeout)
        .min_interval(Duration::ZERO)
}

/// A sweep in the host namespace, and how long it took.
fn sweep(lan: &Lan, targets: &[&str], options: &SweepOptions) -> (SweepReport, Duration) {
    lan.in_host(|| {
        let started = Instant::now();
        let report = local::sweep_report(targets, options).unwrap();
        (report, started.elapsed())
    })
}

/// Three SX/AX/OZ units on 192.0.2.0/24 (the OZ LAN-locked) and an MS on
/// 198.51.100.0/24, each segment on a host interface of its own.
fn four_devices(lan: &mut Lan, quiet: bool) -> Vec<DeviceId> {
    let a = lan.segment("192.0.2.1/24");
    let b = lan.segment("198.51.100.1/24");
    let spec = |sn: &str, hw: &str| {
        let spec = DeviceSpec::new(sn, hw);
        if quiet { spec.quiet() } else { spec }
    };
    vec![
        lan.device(a, "192.0.2.10/24", spec(SN[0], "sx")),
        lan.device(a, "192.0.2.11/24", spec(SN[1], "ax")),
        lan.device(
            a,
            "192.0.2.12/24",
            spec(SN[2], "oz").args(&["--locked", DEMO_KEY]),
        ),
        lan.device(b, "198.51.100.20/24", spec(SN[4], "ms")),
    ]
}

#[test]
fn listening_hears_every_device_by_its_subnet_broadcast_from_its_own_address() {
    let Some(mut lan) = Lan::new() else {
        return;
    };
    let devices = four_devices(&mut lan, false);
    let started = Instant::now();
    let found = discover(&lan);
    assert!(started.elapsed() < LISTEN + Duration::from_millis(500));
    assert_eq!(where_found(&found), expected(&lan, &devices), "{found:#?}");
    for (f, hw) in [(SN[0], "sx"), (SN[1], "ax"), (SN[2], "oz"), (SN[4], "ms")]
        .map(|(sn, hw)| (found.iter().find(|f| f.sn == sn).unwrap(), hw))
    {
        assert_eq!(f.hw.as_deref(), Some(hw));
        assert_eq!(f.by, FoundBy::Announcement);
        assert!(f.seen >= 3, "heard {} times in {LISTEN:?}", f.seen);
    }

    // The command, as a process in the host namespace, hears the same.
    #[cfg(feature = "cli")]
    {
        let out = lan
            .host_command(env!("CARGO_BIN_EXE_hmx"))
            .args(["discover", "--seconds", "1", "--json"])
            .output()
            .unwrap();
        common::procs::assert_exit(&out, 0);
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut heard: Vec<(String, IpAddr)> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["sn"].as_str().unwrap().into(),
                    ip(d["ip"].as_str().unwrap()),
                )
            })
            .collect();
        heard.sort();
        assert_eq!(heard, expected(&lan, &devices));
    }
}

#[test]
fn listening_works_while_a_hub_holds_the_port() {
    let Some(mut lan) = Lan::new() else {
        return;
    };
    // The hub binds 23500 first, with address and port reuse as Home Assistant does.
    let hub = lan.hub(ANNOUNCE_PORT);
    let a = lan.segment("192.0.2.1/24");
    let devices = [
        lan.device(a, "192.0.2.10/24", DeviceSpec::new(SN[0], "sx")),
        lan.device(a, "192.0.2.11/24", DeviceSpec::new(SN[1], "sx")),
        lan.device(a, "192.0.2.12/24", DeviceSpec::new(SN[2], "sx")),
    ];
    let found = discover(&lan);
    assert_eq!(where_found(&found), expected(&lan, &devices));
    // The hub still hears every device: hmx took nothing from it.
    hub.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut heard = BTreeSet::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + LISTEN;
    while heard.len() < devices.len() && Instant::now() < deadline {
        if let Ok((_, from)) = hub.recv_from(&mut buf) {
            heard.insert(from.ip());
        }
    }
    let want: BTreeSet<IpAddr> = devices.iter().map(|d| IpAddr::V4(lan.addr(*d))).collect();
    assert_eq!(heard, want);
}

#[test]
fn a_device_that_moves_is_heard_and_swept_at_its_new_address() {
    let Some(mut lan) = Lan::new() else {
        return;
    };
    let a = lan.segment("192.0.2.1/24");
    let moving = lan.device(a, "192.0.2.10/24", DeviceSpec::new(SN[0], "sx"));
    let staying = lan.device(a, "192.0.2.11/24", DeviceSpec::new(SN[1], "sx"));
    let before = discover(&lan);
    assert_eq!(where_found(&before), expected(&lan, &[moving, staying]));

    lan.move_device(moving, "192.0.2.30/24");
    let after = discover(&lan);
    assert_eq!(where_found(&after), expected(&lan, &[moving, staying]));
    let moved = after.iter().find(|f| f.sn == SN[0]).unwrap();
    assert_eq!(moved.ip, ip("192.0.2.30"));

    // The client follows it there; a sweep of both addresses finds it only at the new one.
    let telemetry = lan.in_host(|| {
        Thermostat::new("192.0.2.30", SN[0])
            .unwrap()
            .telemetry()
            .unwrap()
    });
    assert_eq!(telemetry["sn"], json!(SN[0]));
    let options = on_lan(Duration::from_millis(500));
    let (report, _) = sweep(&lan, &["192.0.2.10", "192.0.2.30"], &options);
    assert_eq!(
        where_found(&report.found),
        [(SN[0].to_string(), ip("192.0.2.30"))]
    );
}

#[test]
fn a_silent_device_is_not_found_until_it_comes_back() {
    let Some(mut lan) = Lan::new() else {
        return;
    };
    let a = lan.segment("192.0.2.1/24");
    let silent = lan.device(a, "192.0.2.10/24", DeviceSpec::new(SN[0], "sx"));
    let other = lan.device(a, "192.0.2.11/24", DeviceSpec::new(SN[1], "sx"));
    let targets = ["192.0.2.10,192.0.2.11"];
    let options = on_lan(Duration::from_millis(500));

    lan.silence(silent);
    let found = discover(&lan);
    assert_eq!(where_found(&found), expected(&lan, &[other]));
    let (report, took) = sweep(&lan, &targets, &options);
    assert_eq!(where_found(&report.found), expected(&lan, &[other]));
    // Not refused: nothing answers at all, so the sweep waited its bound for it, and no longer.
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "{took:?}"
    );

    lan.wake(silent);
    let found = discover(&lan);
    assert_eq!(where_found(&found), expected(&lan, &[silent, other]));
    // The default bound: the host may still be resolving the address it
    // asked for in vain a moment ago (ARP asks again once a second).
    let (report, _) = sweep(&lan, &targets, &on_lan(SWEEP_TIMEOUT));
    assert_eq!(where_found(&report.found), expected(&lan, &[silent, other]));
}

#[test]
fn with_two_host_interfaces_only_the_devices_side_is_heard_and_swept() {
    let Some(mut lan) = Lan::new() else {
        return;
    };
    let devices_side = lan.segment("192.0.2.1/24");
    let other_side = lan.segment("198.51.100.1/24");
    let devices = [
        lan.device(devices_side, "192.0.2.10/24", DeviceSpec::new(SN[0], "sx")),
        lan.device(devices_side, "192.0.2.11/24", DeviceSpec::new(SN[1], "ax")),
    ];
    // Something on the other network that answers api.cgi but is not asked about.
    let bystander = lan.device(
        other_side,
        "198.51.100.10/24",
        DeviceSpec::new(SN[4], "sx").quiet(),
    );
    let addrs = lan
        .host_command("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .unwrap();
    let addrs = String::from_utf8_lossy(&addrs.stdout);
    assert!(
        addrs.contains("lan0") && addrs.contains("192.0.2.1/24"),
        "{addrs}"
    );
    assert!(
        addrs.contains("lan1") && addrs.contains("198.51.100.1/24"),
        "{addrs}"
    );

    let found = discover(&lan);
    assert_eq!(where_found(&found), expected(&lan, &devices));
    let options = on_lan(Duration::from_millis(500)).concurrency(128);
    let (report, took) = sweep(&lan, &["192.0.2.0/24"], &options);
    assert_eq!(where_found(&report.found), expected(&lan, &devices));
    assert_eq!(report.tried.len(), 254);
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(lan.stop_device(bystander).requests, 0, "outside the range");
}

#[test]
fn a_sweep_finds_every_device_without_listening_and_asks_each_address_once() {
    let Some(mut lan) = Lan::new() else {
        return;
    };
    // No announcements at all: only asking finds them.
    let devices = four_devices(&mut lan, true);
    let options = on_lan(Duration::from_millis(500)).concurrency(128);
    let (report, took) = sweep(&lan, &["192.0.2.0/24", "198.51.100.0/24"], &options);
    assert_eq!(
        where_found(&report.found),
        expected(&lan, &devices),
        "{report:#?}"
    );
    for f in &report.found {
        assert_eq!((f.by, f.seen, f.hw.as_deref()), (FoundBy::Sweep, 1, None));
        assert_eq!(f.wifi, Some(-61), "from the telemetry's o.0");
        assert!(f.packet.contains_key("t.1"), "the telemetry as sent");
    }
    // Every address of both subnets but network and broadcast, each once, nothing else.
    assert_eq!(report.tried.len(), 2 * 254);
    let distinct: BTreeSet<Ipv4Addr> = report.tried.iter().copied().collect();
    assert_eq!(distinct.len(), report.tried.len());
    assert!(report.tried.iter().all(|a| {
        let [x, y, z, last] = a.octets();
        matches!((x, y, z), (192, 0, 2) | (198, 51, 100)) && last != 0 && last != 255
    }));
    assert!(report.without_sn.is_empty(), "{:?}", report.without_sn);
    // 508 addresses, 128 at a time, 500 ms for an empty one: 4 rounds.
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Each unit, the LAN-locked one too, got exactly one request.
    for d in devices {
        assert_eq!(lan.stop_device(d).requests, 1, "{}", lan.sn(d));
    }
    let _ = writeln_stderr(&format!("sweep of 508 addresses took {took:?}"));
}

#[test]
fn a_sweep_of_a_range_without_devices_finds_nothing_quickly() {
    let Some(mut lan) = Lan::new() else {
        return;
    };
    let a = lan.segment("192.0.2.1/24");
    let device = lan.device(a, "192.0.2.10/24", DeviceSpec::new(SN[0], "sx").quiet());
    let options = on_lan(SWEEP_TIMEOUT);
    // Not on this LAN and no route to it: every connection fails at once.
    let (report, took) = sweep(&lan, &["198.51.100.0/28"], &options);
    assert!(report.found.is_empty() && report.without_sn.is_empty());
    assert_eq!(report.tried.len(), 14);
    assert!(took < Duration::from_millis(500), "{took:?}");
    // On this LAN but empty: one round of the default 1.5 s bound.
    let (report, took) = sweep(&lan, &["192.0.2.64/28"], &options);
    assert!(report.found.is_empty());
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert_eq!(lan.stop_device(device).requests, 0);
}

/// A line straight to stderr, past the harness's capture (timings worth seeing).
fn writeln_stderr(line: &str) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{line}")
}

// On loopback: the sweep's rules, everywhere.

/// A stand-in's port, from its `127.0.0.1:port`.
fn port(device: &MockThermostat) -> u16 {
    device.host().rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn a_sweep_takes_the_address_turn_and_asks_once() {
    let device = MockThermostat::builder()
        .service_time(Duration::from_millis(300))
        .start()
        .unwrap();
    let interval = Duration::from_millis(200);
    let t = device.client().min_interval(interval);
    // A read in flight when the sweep comes: the sweep waits for it, then the interval.
    let reading = thread::spawn(move || t.telemetry().unwrap());
    while device.stats().requests == 0 {
        thread::sleep(Duration::from_millis(5));
    }
    let options = SweepOptions::default()
        .port(port(&device))
        .min_interval(interval);
    let report = local::sweep_report(&["127.0.0.1"], &options).unwrap();
    reading.join().unwrap();
    let stats = device.stats();
    assert_eq!((stats.requests, stats.max_concurrent), (2, 1), "{stats:?}");
    assert!(
        stats.min_gap.unwrap() >= interval - Duration::from_millis(5),
        "{stats:?}"
    );
    assert_eq!(report.tried, [Ipv4Addr::LOCALHOST]);
    let [found] = &report.found[..] else {
        panic!("{report:?}")
    };
    assert_eq!(found.sn, DEMO_SN);
    assert_eq!(found.ip, ip("127.0.0.1"));
    assert_eq!(
        (found.by, found.hw.as_ref(), found.wifi),
        (FoundBy::Sweep, None, Some(-61))
    );
    // The plain form gives the same list.
    let again = local::sweep(&["127.0.0.1"], &options).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].sn, DEMO_SN);
}

#[test]
fn a_busy_unit_is_reported_without_a_serial_and_not_asked_again() {
    let device = MockThermostat::start().unwrap();
    device.inject(On::Cmd(4), DeviceFault::Busy, 1);
    // 127.0.0.1 to .6: the stand-in only at .1; the others refuse at once.
    let options = SweepOptions::default().port(port(&device));
    let report = local::sweep_report(&["127.0.0.0/29"], &options).unwrap();
    assert_eq!(report.tried.len(), 6);
    assert!(report.found.is_empty(), "{report:?}");
    assert_eq!(
        report.without_sn,
        [(
            Ipv4Addr::LOCALHOST,
            json!({"status": "timeout"}).as_object().unwrap().clone()
        )]
    );
    assert_eq!(device.stats().requests, 1, "no second request after busy");
}

#[test]
fn a_unit_that_answers_without_sn_is_reported_with_its_answer() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/d2w.json");
    let device = MockThermostat::from_fixture(fixture).unwrap();
    let options = SweepOptions::default().port(port(&device));
    let report = local::sweep_report(&["127.0.0.1"], &options).unwrap();
    assert!(report.found.is_empty());
    let [(at, answer)] = &report.without_sn[..] else {
        panic!("{report:?}")
    };
    assert_eq!(*at, Ipv4Addr::LOCALHOST);
    assert_eq!(answer["deviceId"], json!(0));
    assert!(answer["telemetry"].is_object());
}
