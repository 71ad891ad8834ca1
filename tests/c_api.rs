//! Using hmx from C and C++.
//!
//! The example and the test programs compiled with gcc, the header compiled
//! as C++, everything run under valgrind against the stand-ins. (Proxies and
//! the system store from C are in tests/networks.rs.)
#![cfg(feature = "test-util")]

mod common;

use std::process::{Command, Output};

use common::net::{announce, by_name_url, closed_port, free_udp_port, routing_proxy};
use common::procs::assert_exit;
use common::{c_dir, valgrind};
use hmx::testing::{
    DEMO_EMAIL, DEMO_PASSWORD, Fault, MockCloud, MockCloudBuilder, MockProxy, Route,
};

fn in_cloud(cloud: &MockCloud, program: &str, args: &[&str]) -> Output {
    let ca = cloud.ca_file().to_str().unwrap();
    valgrind(
        program,
        args,
        &[
            ("HMX_BASE_URL", cloud.base_url()),
            ("HMX_CA_FILE", ca),
            ("HMX_PASSWORD", DEMO_PASSWORD),
        ],
    )
}

fn assert_ok(output: &Output) {
    assert_exit(output, 0);
}

#[test]
fn example_lists_every_key() {
    let cloud = MockCloud::start().unwrap();
    let output = in_cloud(&cloud, "list_keys", &[DEMO_EMAIL]);
    assert_ok(&output);
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed, common::listing(&cloud));

    let output = valgrind(
        "list_keys",
        &[DEMO_EMAIL],
        &[
            ("HMX_BASE_URL", cloud.base_url()),
            ("HMX_CA_FILE", cloud.ca_file().to_str().unwrap()),
            ("HMX_PASSWORD", "wrong"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("HMX_STATUS_AUTH: login rejected"),
        "{stderr}"
    );
}

#[test]
fn fetch_and_lookups() {
    let cloud = MockCloud::start().unwrap();
    assert_ok(&in_cloud(&cloud, "test_hmx", &["fetch", "5"]));
    assert_eq!(cloud.stats().connections, 1);
}

// One client shared by threads (16, more than the 8 asked of the C ABI) is in tests/faults.rs.

#[test]
fn misuse_and_panics() {
    let cloud = MockCloud::start().unwrap();
    assert_ok(&in_cloud(&cloud, "test_hmx", &["misuse"]));
    assert_ok(&in_cloud(&cloud, "test_hmx", &["panic"]));
}

#[test]
fn header_compiles_as_cpp() {
    let output = Command::new(c_dir().join("header_check")).output().unwrap();
    assert_ok(&output);
}

fn expect_status(builder: MockCloudBuilder, status: &str, timeout_ms: &str) {
    let cloud = builder.start().unwrap();
    let output = in_cloud(&cloud, "test_hmx", &["status", status, timeout_ms]);
    assert_ok(&output);
}

#[test]
fn statuses_from_the_cloud() {
    let cases = [
        (
            Route::Login,
            Fault::status(400, r#"{"non_field_errors":["Unable to log in."]}"#),
            "HMX_STATUS_AUTH",
        ),
        (
            Route::DevicePage(2),
            Fault::status(401, r#"{"detail":"Invalid token."}"#),
            "HMX_STATUS_AUTH",
        ),
        (
            Route::Login,
            Fault::status(429, ""),
            "HMX_STATUS_RATE_LIMITED",
        ),
        (
            Route::DevicePage(1),
            Fault::status(500, "<html></html>"),
            "HMX_STATUS_HTTP",
        ),
        (
            Route::DevicePage(1),
            Fault::Redirect("https://elsewhere.invalid/".into()),
            "HMX_STATUS_HTTP",
        ),
        (
            Route::DevicePage(1),
            Fault::Body(b"garbage".to_vec()),
            "HMX_STATUS_PROTOCOL",
        ),
        (Route::Login, Fault::Hang, "HMX_STATUS_TIMEOUT"),
    ];
    for (route, fault, status) in cases {
        // valgrind makes TLS slow: only the hang gets a short timeout.
        let timeout_ms = if status == "HMX_STATUS_TIMEOUT" {
            "1500"
        } else {
            "20000"
        };
        expect_status(MockCloud::builder().fault(route, fault), status, timeout_ms);
    }
}

#[test]
fn statuses_from_the_transport() {
    // Public roots do not know the stand-in's CA.
    let cloud = MockCloud::start().unwrap();
    let output = valgrind(
        "test_hmx",
        &["status", "HMX_STATUS_TLS", "20000"],
        &[("HMX_BASE_URL", cloud.base_url())],
    );
    assert_ok(&output);

    let closed = format!("https://127.0.0.1:{}", closed_port());
    let output = valgrind(
        "test_hmx",
        &["status", "HMX_STATUS_NETWORK", "20000"],
        &[("HMX_BASE_URL", &closed)],
    );
    assert_ok(&output);
}

#[test]
fn totp_and_signed_bodies_equal_rust() {
    let data = r#"{"par":[[125,7,"0"],[114,7,"1"]]}"#;
    for (key, time) in [
        ("BW4ERXAJXXXXXXXX", 634_929_122u32),
        ("AAD4EXAJX4E8A8XT", 0),
        ("Ключ", u32::MAX),
    ] {
        let code = hmx::totp::code(key.as_bytes(), time).to_string();
        let sn = "058016000543464839373520000159";
        let body = hmx::local::sign_request(key.as_bytes(), sn, time, data).unwrap();
        let output = valgrind(
            "test_hmx",
            &["totp", key, &time.to_string(), &code, sn, data, &body],
            &[],
        );
        assert_ok(&output);
    }
}

/// What real deployments do (issue: proxied `next` links, lists that change
/// while read, secrets echoed at any offset), through the C ABI under valgrind.
#[test]
fn field_faults_through_c() {
    use hmx::testing::{ListChange, NextLink};
    for style in [NextLink::PlainHttp, NextLink::NoPort] {
        let cloud = MockCloud::builder().next_link(style).start().unwrap();
        let output = in_cloud(&cloud, "test_hmx", &["fetch", "5"]);
        assert_ok(&output);
        assert_eq!(
            (cloud.stats().connections, cloud.stats().handshakes),
            (1, 1)
        );
    }

    let cloud = common::paged(7, 3)
        .change_after_page(1, ListChange::RemoveFirst(3), 1)
        .start()
        .unwrap();
    let output = in_cloud(&cloud, "test_hmx", &["fetch", "4"]);
    assert_ok(&output);
    let first = cloud.devices()[0]["sn"].as_str().unwrap().to_string();
    assert!(String::from_utf8_lossy(&output.stdout).contains(&first));

    let cloud = MockCloud::builder()
        .change_after_page(1, ListChange::AddFirst, 100)
        .start()
        .unwrap();
    let output = in_cloud(&cloud, "test_hmx", &["status", "HMX_STATUS_PROTOCOL"]);
    assert_ok(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("changed while it was being read"));

    // The C test checks err_buf for every 4-character piece of the password
    // and token; tests/cloud.rs covers every offset through Rust.
    for (route, status, padding, want) in [
        (Route::Login, 400, 272, "HMX_STATUS_AUTH"),
        (Route::DevicePage(2), 401, 268, "HMX_STATUS_AUTH"),
        (Route::DevicePage(1), 500, 290, "HMX_STATUS_HTTP"),
    ] {
        let cloud = common::faulty(route, Fault::EchoSecret { status, padding });
        assert_ok(&in_cloud(&cloud, "test_hmx", &["status", want]));
    }
}

#[test]
fn builder_and_extra_fields() {
    let cloud = MockCloud::start().unwrap();
    let output = in_cloud(&cloud, "test_hmx", &["builder", "5"]);
    assert_ok(&output);
    let requests = cloud.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("accept-language") == Some("uk"))
    );
    // The extra fields C sees are the cloud's, in its order.
    let printed = String::from_utf8_lossy(&output.stdout);
    let mut extra = cloud.devices()[0].as_object().unwrap().clone();
    for known in ["id", "sn", "name", "totp_key"] {
        extra.shift_remove(known);
    }
    let want = format!("extra: {}\n", serde_json::Value::Object(extra));
    assert!(printed.contains(&want), "{printed}");
}

#[test]
fn rate_limit_details_from_c() {
    // An hour ahead: however slow the machine, the wait stays near 3600 s.
    let in_an_hour = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    let drf = r#"{"detail":"Request was throttled. Expected available in 42 seconds."}"#;
    for (headers, body, min, max) in [
        (vec![("Retry-After", "30".to_string())], "", "30", "30"),
        (vec![("Retry-After", in_an_hour)], "", "3300", "3601"),
        (vec![], drf, "42", "42"),
        (vec![], r#"{"detail":"Slow down."}"#, "-1", "-1"),
    ] {
        let fault = Fault::Respond {
            status: 429,
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            body: body.into(),
        };
        let cloud = common::faulty(Route::Login, fault);
        assert_ok(&in_cloud(&cloud, "test_hmx", &["limited", min, max]));
    }
}

/// Runs a compiled C program natively: timing under valgrind says more about
/// valgrind than about hmx (a TLS handshake there can take seconds).
fn native(program: &str, args: &[&str], base_url: &str, ca: &str) -> Output {
    Command::new(c_dir().join(program))
        .args(args)
        .env("HMX_BASE_URL", base_url)
        .env("HMX_CA_FILE", ca)
        .output()
        .unwrap()
}

#[test]
fn connect_and_request_timeouts_from_c() {
    let cloud = common::faulty(Route::Login, Fault::Hang);
    let ca = cloud.ca_file().to_str().unwrap();
    // Takes the TCP connection, never speaks: the 1 s connect bound ends it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("https://{}", silent.local_addr().unwrap());
    let args = ["timeouts", "1000", "3000", "900", "2500"];
    assert_ok(&native("test_hmx", &args, &silent_url, ca));
    // Reads the request, never answers: the 3 s request bound ends it.
    let args = ["timeouts", "1000", "3000", "2900", "5000"];
    assert_ok(&native("test_hmx", &args, cloud.base_url(), ca));
    // And valgrind finds nothing wrong on either path, whatever the timing.
    let args = ["timeouts", "1000", "3000", "0", "60000"];
    let output = valgrind(
        "test_hmx",
        &args,
        &[("HMX_BASE_URL", &silent_url), ("HMX_CA_FILE", ca)],
    );
    assert_ok(&output);
}

/// The release library (LTO, `zeroize-heap`), as users build it, under valgrind
/// as the README tells them to run it: no memory error, no definite or possible
/// leak, with only the shipped suppressions.
#[test]
fn release_build_is_valgrind_clean() {
    let cloud = MockCloud::builder()
        .fault_times(Route::DevicePage(2), Fault::Drop, 1)
        .start()
        .unwrap();
    let ca = cloud.ca_file().to_str().unwrap();
    let env = [
        ("HMX_BASE_URL", cloud.base_url()),
        ("HMX_CA_FILE", ca),
        ("HMX_PASSWORD", DEMO_PASSWORD),
    ];
    let proxy = routing_proxy(MockProxy::builder());
    let by_name = by_name_url(&cloud);
    let network_env = [
        ("HMX_BASE_URL", by_name.as_str()),
        ("HMX_PROXY", &proxy.url()),
        ("SSL_CERT_FILE", ca),
    ];
    type Run<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
    let runs: [Run; 6] = [
        ("list_keys", &[DEMO_EMAIL], &env),
        ("test_hmx", &["fetch", "5"], &env),
        ("test_hmx", &["builder", "5"], &env),
        ("test_hmx", &["threads", "5", "4"], &env),
        ("test_hmx", &["misuse"], &env),
        ("test_hmx", &["network", "5"], &network_env),
    ];
    for (program, args, env) in runs {
        let output = common::valgrind_release(program, args, env);
        assert_ok(&output);
        let report = String::from_utf8_lossy(&output.stderr);
        assert!(report.contains("ERROR SUMMARY: 0 errors"), "{report}");
        assert!(
            report.contains("definitely lost: 0 bytes")
                || report.contains("All heap blocks were freed"),
            "{report}"
        );
    }
}

/// The local client from C (issue: the local client from C, Python and the
/// command), against the stand-in thermostat, under valgrind with the
/// release library.
#[test]
fn local_client_from_c() {
    use hmx::testing::{Announcer, DEMO_KEY, DeviceFault, MockThermostat, On};
    use hmx::totp::Scheme;

    let run = |args: &[&str], device: Option<&MockThermostat>| {
        let host = device.map(|d| d.host()).unwrap_or_default();
        let sn = device.map(|d| d.sn().to_string()).unwrap_or_default();
        let output = common::valgrind_release(
            "test_local",
            args,
            &[("HMX_DEVICE_HOST", &host), ("HMX_DEVICE_SN", &sn)],
        );
        assert_ok(&output);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    let locked = MockThermostat::builder()
        .locked(DEMO_KEY, Scheme::default())
        .start()
        .unwrap();
    // Three calls in a row, each with a Thermostat of its own inside the
    // library: the pause between them belongs to the address.
    locked.reset_stats();
    run(&["read"], Some(&locked));
    let stats = locked.stats();
    assert!(stats.requests >= 3, "{stats:?}");
    let gap = stats.min_gap.unwrap();
    assert!(gap >= std::time::Duration::from_millis(990), "{stats:?}");
    // Answers framed as small stacks frame them read the same.
    for fault in [DeviceFault::TrailingNul, DeviceFault::LfChunked] {
        let framed = MockThermostat::start().unwrap();
        framed.inject(On::Any, fault, usize::MAX);
        run(&["read"], Some(&framed));
    }
    run(&["write", DEMO_KEY, "23", "7"], Some(&locked));
    assert_eq!(locked.parameter(23).as_deref(), Some("7"));
    let applied = locked.stats().writes_applied;
    let printed = run(&["blocked", "AAAAAAAAAAAAAAAA", "23", "2"], Some(&locked));
    assert!(printed.starts_with("HMX_STATUS_BLOCKED: "), "{printed}");
    assert_eq!(
        locked.stats().writes_applied,
        applied,
        "a refused write changed nothing"
    );
    assert_eq!(locked.parameter(23).as_deref(), Some("7"));

    // Busy twice, then an answer: retried. Busy on every try: a timeout.
    locked.inject(On::Cmd(4), DeviceFault::Busy, 2);
    run(&["busy", "HMX_STATUS_OK"], Some(&locked));
    locked.inject(On::Cmd(4), DeviceFault::Busy, 3);
    run(&["busy", "HMX_STATUS_TIMEOUT"], Some(&locked));
    assert_eq!(locked.stats().max_concurrent, 1);
    run(&["misuse"], None);

    // Three devices announcing themselves on loopback.
    let port = free_udp_port();
    let _announcers: Vec<Announcer> = (2..=4u8)
        .map(|last| {
            announce(
                &format!("0580160005434648393735200000{last:02}"),
                last,
                port,
            )
        })
        .collect();
    let printed = run(&["discover", &port.to_string(), "3"], None);
    assert_eq!(printed.lines().count(), 3, "{printed}");
}

/// The thermostat handle from C (issue #20): runs `test_thermostat` with
/// `args` under valgrind against the release library, for `device` (its
/// address and serial in the environment), and returns what it printed.
/// valgrind must find no memory error and no leak.
fn thermostat_c(args: &[&str], device: Option<&hmx::testing::MockThermostat>) -> String {
    let host = device.map(|d| d.host()).unwrap_or_default();
    let sn = device.map(|d| d.sn().to_string()).unwrap_or_default();
    let output = common::valgrind_release(
        "test_thermostat",
        args,
        &[("HMX_DEVICE_HOST", &host), ("HMX_DEVICE_SN", &sn)],
    );
    assert_ok(&output);
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(report.contains("ERROR SUMMARY: 0 errors"), "{report}");
    assert!(
        report.contains("All heap blocks were freed")
            || report.contains("definitely lost: 0 bytes"),
        "{report}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The lines `test_thermostat` prints for a state: `state NAME=VALUE` for
/// each field present, in `hmx_state`'s order, names as Rust's.
fn state_lines(s: &hmx::local::State) -> Vec<String> {
    let mut lines = Vec::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            lines.push(format!("state {name}={value}"));
        }
    };
    let celsius = |c: Option<f64>| c.map(|c| format!("{c:.4}"));
    let flag = |b: Option<bool>| b.map(|b| u8::from(b).to_string());
    put("floor_c", celsius(s.floor_c));
    put("air_c", celsius(s.air_c));
    put("setpoint_c", celsius(s.setpoint_c));
    put("relay_on", flag(s.relay_on));
    put("powered", flag(s.powered));
    put(
        "mode",
        s.mode.map(|m| format!("{} ({})", m.code(), m.name())),
    );
    put(
        "control",
        s.control.map(|c| format!("{} ({})", c.code(), c.name())),
    );
    put("lan_lock", flag(s.lan_lock));
    put("cloud_lock", flag(s.cloud_lock));
    put("child_lock", flag(s.child_lock));
    put("brightness", s.brightness.map(|b| b.to_string()));
    put("wifi_dbm", s.wifi_dbm.map(|w| w.to_string()));
    put("load_power_w", s.load_power_w.map(|w| w.to_string()));
    lines
}

/// The rest of the line starting with `prefix `.
fn printed<'a>(out: &'a str, prefix: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' '))
}

/// A fixture's telemetry member `key` in 1/16 °C, as °C printed `%.4f`.
fn sixteenths(telemetry: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    let raw = match telemetry.get(key)? {
        serde_json::Value::String(s) => s.parse::<i64>().ok()?,
        v => v.as_i64()?,
    };
    Some(format!("{:.4}", raw as f64 / 16.0))
}

/// How many request bodies the stand-in received that read cmd `cmd`.
fn reads_of(device: &hmx::testing::MockThermostat, cmd: u64) -> usize {
    device
        .bodies()
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter(|b| b.get("par").is_none() && b.get("cmd").and_then(|c| c.as_u64()) == Some(cmd))
        .count()
}

/// One fixture through `test_thermostat fixture`: what C printed, checked
/// against the recorded answers and Rust's own reading of the same stand-in.
/// Returns whether C printed a floor temperature.
fn fixture_from_c(name: &str, f: &hmx::testing::Fixture) -> bool {
    use hmx::testing::{DEMO_KEY, MockThermostat};
    use hmx::totp::Scheme;
    use serde_json::{Map, Value};

    let list = f.parameters();
    // A unit that lists LAN locking on needs the key; `locked` keeps 114 at its "1".
    let locked = list
        .as_ref()
        .is_some_and(|l| l.iter().any(|p| p.0 == 114 && p.2 == "1"));
    let mut builder = MockThermostat::builder().fixture(f);
    if locked {
        builder = builder.locked(DEMO_KEY, Scheme::default());
    }
    let device = builder.start().unwrap();
    let key = if locked { DEMO_KEY } else { "-" };

    // The harmless write: brightness written back with the listed value, else
    // the first parameter the stand-in lets a write change, with its value.
    // A unit without a list (D2W) gets brightness 5, which it must refuse.
    let writable = |p: &&(u16, u8, String)| ![28, 109, 114, 115, 125].contains(&p.0) && p.1 <= 7;
    let brightness = |l: &[(u16, u8, String)]| {
        l.iter()
            .filter(writable)
            .find(|p| p.0 == 23 && p.2.parse::<u8>().is_ok_and(|b| b <= 10))
            .map(|p| p.2.clone())
    };
    let (args, written): (Vec<String>, Option<(u16, String)>) = match &list {
        None => (vec!["brightness".into(), "5".into()], None),
        Some(l) => match brightness(l) {
            Some(v) => (vec!["brightness".into(), v.clone()], Some((23, v))),
            None => {
                let p = l.iter().find(writable).expect("a writable parameter");
                let args = vec!["set".into(), p.0.to_string(), p.2.clone()];
                (args, Some((p.0, p.2.clone())))
            }
        },
    };
    let mut all = vec!["fixture", key];
    all.extend(args.iter().map(String::as_str));
    let out = thermostat_c(&all, Some(&device));

    // Each write took its type codes from the list the handle had read: cmd 1
    // was read by the state and by hmx_thermostat_parameters, never for the write.
    let cmd1 = reads_of(&device, 1);
    let bodies = device.bodies().len();

    // The state as the recorded telemetry says: t.1 and t.5 in 1/16 °C.
    let recorded: Map<String, Value> = f
        .answer(4)
        .map(|a| serde_json::from_str(a).unwrap())
        .unwrap_or_default();
    let state_value = |field: &str| {
        let prefix = format!("state {field}=");
        out.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    };
    let floor = state_value("floor_c");
    if floor.is_some() {
        assert_eq!(floor, sixteenths(&recorded, "t.1"), "{name}:\n{out}");
    }
    // Without t.5 the setpoint comes from parameter 31 (compared with Rust's above).
    if let (Some(setpoint), Some(want)) = (state_value("setpoint_c"), sixteenths(&recorded, "t.5"))
    {
        assert_eq!(setpoint, want, "{name}:\n{out}");
    }
    // And every field as Rust reads it from the same stand-in.
    let rust = device
        .client()
        .min_interval(std::time::Duration::from_millis(5))
        .state()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let c_lines: Vec<&str> = out.lines().filter(|l| l.starts_with("state ")).collect();
    assert_eq!(c_lines, state_lines(&rust), "{name}:\n{out}");
    let floor_printed = floor.is_some();

    // The telemetry as recorded, member order kept; a locked stand-in's clock moves.
    let mut telemetry: Map<String, Value> =
        serde_json::from_str(printed(&out, "telemetry").expect("telemetry")).unwrap();
    let mut want = recorded.clone();
    if locked {
        assert!(telemetry.shift_remove("time").is_some() == want.shift_remove("time").is_some());
    }
    assert_eq!(
        serde_json::to_string(&telemetry).unwrap(),
        serde_json::to_string(&want).unwrap(),
        "{name}"
    );

    let parameters = printed(&out, "parameters").expect("parameters");
    match &list {
        Some(l) => {
            let got: Vec<(u16, u8, String)> = serde_json::from_str(parameters).unwrap();
            assert_eq!(&got, l, "{name}");
            assert_eq!(cmd1, 2, "{name}: the write read the list again");
        }
        None => {
            assert!(
                parameters.starts_with("HMX_STATUS_PROTOCOL: ")
                    && parameters.contains("a shape hmx does not read"),
                "{name}: {parameters}"
            );
        }
    }

    let write = printed(&out, "write").expect("write");
    match written {
        Some((id, value)) => {
            assert_eq!(write, "HMX_STATUS_OK", "{name}");
            assert_eq!(device.applied(), [(id, value.clone())], "{name}");
            assert_eq!(device.parameter(id), Some(value), "{name}");
        }
        None => {
            assert!(
                write.starts_with("HMX_STATUS_PROTOCOL: "),
                "{name}: {write}"
            );
            assert_eq!(device.stats().writes_applied, 0, "{name}");
        }
    }
    eprintln!(
        "{name}: {} state fields, {bodies} requests from C, write: {write}",
        c_lines.len()
    );
    floor_printed
}

/// Every unit in tests/fixtures/ (found at run time: a new file is a new
/// case) through the thermostat handle from C: state, telemetry, parameters
/// and a harmless write, as Rust reads the same stand-in.
#[test]
fn every_fixture_through_the_thermostat_handle() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    // Each run waits out the pacing (a second between requests): all at once.
    let floors = std::thread::scope(|s| {
        let runs: Vec<_> = files
            .iter()
            .map(|path| {
                s.spawn(move || {
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    let f = hmx::testing::Fixture::load(path).unwrap();
                    fixture_from_c(&name, &f)
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a fixture failed: see its panic above"))
            .filter(|floor| *floor)
            .count()
    });
    assert!(
        floors >= 4,
        "floor temperatures printed for {floors} fixtures"
    );
}

/// A unit that wants another token scheme (oz.json, locked under raw-unix
/// by the stand-in): the handle's scheme decides, and the probe finds it.
#[test]
fn another_scheme_from_c() {
    use hmx::testing::{DEMO_KEY, Fixture, MockThermostat};
    use hmx::totp::Scheme;

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oz.json");
    let device = MockThermostat::builder()
        .fixture(&Fixture::load(path).unwrap())
        .locked(DEMO_KEY, Scheme::RAW_UNIX)
        .start()
        .unwrap();
    let before = device.parameter(23).unwrap();
    let new = if before == "4" { "3" } else { "4" };
    let control = format!("brightness={new}");

    // The default scheme (NULL): refused, and nothing applied.
    let out = thermostat_c(
        &["control", DEMO_KEY, "-", &control, "HMX_STATUS_BLOCKED"],
        Some(&device),
    );
    let message = printed(&out, "control").unwrap();
    assert!(message.contains("raw-2000"), "{message}");
    assert!(device.applied().is_empty());
    assert_eq!(device.stats().writes_blocked, 1);
    assert_eq!(device.parameter(23).as_deref(), Some(before.as_str()));

    // raw-unix: accepted and applied.
    let out = thermostat_c(
        &["control", DEMO_KEY, "raw-unix", &control, "HMX_STATUS_OK"],
        Some(&device),
    );
    assert_eq!(printed(&out, "control"), Some("HMX_STATUS_OK"));
    assert_eq!(device.applied(), [(23, new.to_string())]);
    assert_eq!(device.parameter(23).as_deref(), Some(new));

    // The probe names it, writing the value back unchanged.
    let out = thermostat_c(&["probe", DEMO_KEY], Some(&device));
    let report: serde_json::Value = serde_json::from_str(printed(&out, "probe").unwrap()).unwrap();
    assert_eq!(report["accepted"], "raw-unix", "{report}");
    assert_eq!(
        report["refused"],
        serde_json::json!(["raw-2000"]),
        "{report}"
    );
    assert_eq!(report["parameter"], 23);
    assert_eq!(report["value"], new);
    assert_eq!(report["lan_lock"], true);
    assert_eq!(device.parameter(23).as_deref(), Some(new));
}

/// Every named control from C on a whole-degree unit (sx-standin.json): what
/// it cannot take is refused with a message and nothing sent; the rest are
/// applied, each through the list the handle read once.
#[test]
fn named_controls_from_c() {
    use hmx::testing::{Fixture, MockThermostat};

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sx-standin.json");
    let device = MockThermostat::builder()
        .fixture(&Fixture::load(path).unwrap())
        .start()
        .unwrap();
    let out = thermostat_c(&["controls"], Some(&device));
    let message = printed(&out, "setpoint").unwrap();
    assert!(
        message.starts_with("21.5: thermostat 127.0.0.1:"),
        "{message}"
    );
    assert!(message.contains("whole degrees"), "{message}");
    // Only the writes that were accepted reached the unit: the refused ones sent nothing.
    let writes = device
        .bodies()
        .iter()
        .filter(|b| b.contains("\"par\""))
        .count();
    assert_eq!(writes, 5, "{:?}", device.bodies());
    let stats = device.stats();
    assert_eq!(
        (stats.writes_rejected, stats.writes_blocked),
        (0, 0),
        "{stats:?}"
    );
    let applied: Vec<(u16, &str)> = vec![
        (31, "22"),
        (2, "1"),
        (125, "0"),
        (124, "1"),
        (23, "3"),
        (124, "0"),
    ];
    let applied: Vec<(u16, String)> = applied
        .into_iter()
        .map(|(id, v)| (id, v.to_string()))
        .collect();
    assert_eq!(device.applied(), applied);
    assert_eq!(reads_of(&device, 1), 1, "the list is read once");
}

/// One handle shared by threads: the device still sees one request at a
/// time, a second apart.
#[test]
fn one_handle_many_threads_from_c() {
    use hmx::testing::MockThermostat;

    let device = MockThermostat::builder()
        .service_time(std::time::Duration::from_millis(50))
        .start()
        .unwrap();
    thermostat_c(&["threads", "4"], Some(&device));
    let stats = device.stats();
    assert_eq!(stats.requests, 4, "{stats:?}");
    assert_eq!(
        (stats.max_concurrent, stats.concurrent_refused),
        (1, 0),
        "{stats:?}"
    );
    assert!(
        stats.min_gap.unwrap() >= std::time::Duration::from_millis(990),
        "{stats:?}"
    );
}

/// NULL for every pointer of every thermostat function, text that is not
/// UTF-8, unknown names and handles hmx did not hand out: each its status,
/// out-parameters untouched, no crash, nothing leaked.
#[test]
fn thermostat_misuse_from_c() {
    let out = thermostat_c(&["misuse"], None);
    assert!(out.contains("misuse handled"), "{out}");
}

/// The scenario of tests/site.rs, from C (issue #21): the stand-in cloud
/// with three devices, and three stand-in thermostats with those serials,
/// locked with the cloud's keys, announcing on loopback.
struct SiteLan {
    cloud: MockCloud,
    devices: Vec<hmx::testing::MockThermostat>,
    _announcers: Vec<hmx::testing::Announcer>,
    port: String,
    dir: std::path::PathBuf,
}

impl Drop for SiteLan {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl SiteLan {
    fn start(name: &str) -> SiteLan {
        use hmx::testing::{MockThermostat, demo_devices};
        use hmx::totp::Scheme;

        let cloud = MockCloud::builder()
            .devices(demo_devices(3))
            .start()
            .unwrap();
        let port = free_udp_port();
        let mut devices = Vec::new();
        let mut announcers = Vec::new();
        for d in cloud.devices() {
            let sn = d["sn"].as_str().unwrap();
            let key = d["totp_key"].as_str().unwrap();
            devices.push(
                MockThermostat::builder()
                    .sn(sn)
                    .locked(key, Scheme::default())
                    .start()
                    .unwrap(),
            );
            // From 127.0.0.1, where the stand-ins answer (each on its own port).
            announcers.push(announce(sn, 1, port));
        }
        let dir = std::env::temp_dir().join(format!("hmx-c-site-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        SiteLan {
            cloud,
            devices,
            _announcers: announcers,
            port: port.to_string(),
            dir,
        }
    }

    /// The site file, in a folder that does not exist yet.
    fn path(&self) -> String {
        self.dir.join("hmx/site.json").to_str().unwrap().to_string()
    }

    /// Runs `test_site` under valgrind with the release library, with the
    /// stand-in cloud in the environment (and `env`): valgrind must find no
    /// error and no leak, and nothing C printed may hold a key, the password
    /// or a token. Returns what it printed.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let ca = self.cloud.ca_file().to_str().unwrap();
        let mut all = vec![("HMX_BASE_URL", self.cloud.base_url()), ("HMX_CA_FILE", ca)];
        all.extend_from_slice(env);
        let output = common::valgrind_release("test_site", args, &all);
        assert_ok(&output);
        let report = String::from_utf8_lossy(&output.stderr);
        assert!(report.contains("ERROR SUMMARY: 0 errors"), "{report}");
        assert!(
            report.contains("All heap blocks were freed")
                || report.contains("definitely lost: 0 bytes"),
            "{report}"
        );
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut secrets: Vec<String> = self.cloud.tokens();
        secrets.push(DEMO_PASSWORD.to_string());
        secrets.extend(
            self.cloud
                .devices()
                .iter()
                .filter_map(|d| d["totp_key"].as_str().map(str::to_string)),
        );
        secrets.extend([
            "NEWKEYNEWKEY2345".to_string(),
            hmx::testing::DEMO_KEY.into(),
        ]);
        for secret in &secrets {
            assert!(
                !stdout.contains(secret.as_str()) && !report.contains(secret.as_str()),
                "C printed a secret: {stdout}\n{report}"
            );
        }
        stdout
    }

    fn sns(&self) -> Vec<String> {
        self.devices.iter().map(|d| d.sn().to_string()).collect()
    }
}

/// The JSON text C printed after `label `.
fn printed_json(out: &str, label: &str) -> serde_json::Value {
    let text = printed(out, label).unwrap_or_else(|| panic!("no {label} in:\n{out}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{label}: {e}: {text}"))
}

/// Each per-device result of a `_many` call as (device, status), `OK` for a success.
fn outcomes(results: &serde_json::Value) -> Vec<(String, String)> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let device = r["device"].as_str().unwrap().to_string();
            let status = if r["ok"] == true {
                assert!(r.get("status").is_none(), "{r}");
                "OK".to_string()
            } else {
                assert!(!r["message"].as_str().unwrap().is_empty(), "{r}");
                r["status"].as_str().unwrap().to_string()
            };
            (device, status)
        })
        .collect()
}

/// A site from C, step by step as a program would use it across runs: sync
/// (3 joined, the file 0600 in a 0700 folder), addresses set, a state by a
/// name's start and a write by name with no cloud request, a key changed in
/// the cloud fetched again, and one write to every device with one silent.
#[test]
fn site_from_c() {
    use hmx::Site;
    use hmx::testing::{DeviceFault, MockThermostat, On};
    use hmx::totp::Scheme;
    use std::os::unix::fs::PermissionsExt;

    let mut lan = SiteLan::start("steps");
    let path = lan.path();
    let sns = lan.sns();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    // Sync: the cloud's keys and the announcements, joined; then the
    // stand-ins' ports, which announcements do not carry.
    let addresses: Vec<String> = lan
        .devices
        .iter()
        .map(|d| format!("{}={}", d.sn(), d.host()))
        .collect();
    let mut args = vec!["sync", &path, &lan.port, DEMO_EMAIL];
    args.extend(addresses.iter().map(String::as_str));
    let out = lan.run(&args, &[("HMX_PASSWORD", DEMO_PASSWORD)]);
    let report = printed_json(&out, "report");
    assert_eq!(report["joined"], serde_json::json!(sns), "{report}");
    assert_eq!(report["logged_in"], true, "{report}");
    let again = printed_json(&out, "again");
    assert_eq!(again["joined"], serde_json::json!(sns), "{again}");
    assert_eq!(again["logged_in"], false, "the saved token: {again}");
    let devices = printed_json(&out, "devices");
    for (d, mock) in devices.as_array().unwrap().iter().zip(&lan.devices) {
        assert_eq!(d["sn"], mock.sn());
        assert_eq!(d["address"], mock.host().as_str());
        assert_eq!(d["has_key"], true);
        assert!(d.get("key").is_none() && d.get("totp_key").is_none(), "{d}");
        assert!(d["in_cloud"] == true && d["on_lan"] == true, "{d}");
    }
    let logins = |cloud: &MockCloud| {
        cloud
            .requests()
            .iter()
            .filter(|r| r.path.contains("login"))
            .count()
    };
    assert_eq!(logins(&lan.cloud), 1);
    let file = std::path::Path::new(&path);
    assert_eq!(mode(file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let saved = Site::open(&path).unwrap();
    for (d, c) in saved.devices().iter().zip(lan.cloud.devices()) {
        assert_eq!(d.key().unwrap().as_str(), c["totp_key"].as_str().unwrap());
    }

    // A saved site (at $HMX_SITE, opened with NULL), no password: a state by
    // the start of a name, a write by name, a handle, threads; no cloud request.
    lan.cloud.reset_stats();
    let before = lan.devices[0].parameter(23);
    let out = lan.run(
        &[
            "use",
            &lan.port,
            "kitch",
            "Living room",
            "brightness=6",
            "living",
            "kitchen",
            "bathroom",
        ],
        &[("HMX_SITE", &path)],
    );
    assert_eq!(lan.cloud.stats().requests, 0, "{:?}", lan.cloud.requests());
    let rust = lan.devices[1]
        .client()
        .min_interval(std::time::Duration::from_millis(5))
        .state()
        .unwrap();
    let line = |label: &str, field: &str| {
        let prefix = format!("{label} {field}=");
        out.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    };
    assert_eq!(
        line("state", "floor_c"),
        rust.floor_c.map(|c| format!("{c:.4}"))
    );
    assert_eq!(
        line("state", "setpoint_c"),
        rust.setpoint_c.map(|c| format!("{c:.4}"))
    );
    assert!(line("state", "setpoint_c").is_some(), "{out}");
    assert_eq!(printed_json(&out, "device")["sn"], sns[1].as_str());
    assert_ne!(before.as_deref(), Some("6"));
    assert_eq!(lan.devices[0].parameter(23).as_deref(), Some("6"));
    assert!(
        printed(&out, "refused").unwrap().contains("brightness"),
        "{out}"
    );
    assert_eq!(line("handle", "brightness").as_deref(), Some("6"), "{out}");
    assert_eq!(printed(&out, "threads"), Some("3"));
    let health = Site::open(&path)
        .unwrap()
        .get("living")
        .unwrap()
        .health
        .clone();
    assert!(
        health.last_success.is_some() && health.failures == 0,
        "{health:?}"
    );

    // Device 0 bound again: a new key in the cloud and on the unit, now at
    // another port. The saved token fetches it; no password, no login.
    let mut cloud = lan.cloud.devices();
    cloud[0]["totp_key"] = "NEWKEYNEWKEY2345".into();
    lan.cloud.set_devices(cloud);
    let rebound = MockThermostat::builder()
        .sn(&sns[0])
        .locked("NEWKEYNEWKEY2345", Scheme::default())
        .start()
        .unwrap();
    let host = rebound.host();
    lan.devices[0] = rebound;
    lan.cloud.reset_stats();
    let out = lan.run(
        &["rekey", &path, &lan.port, &sns[0], &host, "brightness=5"],
        &[],
    );
    assert_eq!(printed(&out, "control"), Some("HMX_STATUS_OK "), "{out}");
    assert_eq!(lan.devices[0].parameter(23).as_deref(), Some("5"));
    assert!(!lan.cloud.requests().is_empty());
    assert_eq!(logins(&lan.cloud), 0, "{:?}", lan.cloud.requests());
    let saved = Site::open(&path).unwrap();
    assert_eq!(
        saved.get(&sns[0]).unwrap().key().unwrap().as_str(),
        "NEWKEYNEWKEY2345"
    );

    // One write to every device, one of them silent once: a result each;
    // then some by name (one that names nothing), then every state.
    lan.devices[1].inject(On::Any, DeviceFault::NoAnswer, 1);
    let out = lan.run(
        &[
            "many",
            &path,
            &lan.port,
            "brightness=7",
            "Bathroom floor",
            "nowhere",
            "KITCHEN",
        ],
        &[],
    );
    eprintln!(
        "hmx_site_control_many, one device silent: {}",
        printed(&out, "all").unwrap()
    );
    let all = outcomes(&printed_json(&out, "all"));
    let want: Vec<(String, String)> = vec![
        (sns[0].clone(), "OK".into()),
        (sns[1].clone(), "HMX_STATUS_TIMEOUT".into()),
        (sns[2].clone(), "OK".into()),
    ];
    assert_eq!(all, want, "{out}");
    let some = outcomes(&printed_json(&out, "some"));
    let want: Vec<(String, String)> = vec![
        (sns[2].clone(), "OK".into()),
        ("nowhere".into(), "HMX_STATUS_NOT_FOUND".into()),
        (sns[1].clone(), "OK".into()),
    ];
    assert_eq!(some, want, "{out}");
    for d in &lan.devices {
        assert_eq!(d.parameter(23).as_deref(), Some("7"), "{}", d.sn());
    }
    let states = printed_json(&out, "states");
    assert_eq!(outcomes(&states).len(), 3);
    for s in states.as_array().unwrap() {
        assert_eq!(s["ok"], true, "{s}");
        assert_eq!(s["state"]["brightness"], 7, "{s}");
        assert!(s["state"]["setpoint_c"].is_number(), "{s}");
    }
    // Moved: the saved address answers no more; the device is found again by
    // its announcement, asked there, and the site keeps the new address.
    let host = lan.devices[2].host();
    let port = host.rsplit_once(':').unwrap().1;
    Site::open(&path)
        .unwrap()
        .set_address(&sns[2], &format!("127.0.0.9:{port}"))
        .unwrap();
    let out = lan.run(&["states", &path, &lan.port, "bathroom"], &[]);
    assert!(out.contains("state bathroom HMX_STATUS_OK"), "{out}");
    let saved = Site::open(&path).unwrap();
    assert_eq!(
        saved.get("bathroom").unwrap().address.as_deref(),
        Some(host.as_str())
    );

    // Wedged: silent three times in a row, named so the third time.
    lan.devices[1].inject(On::Any, DeviceFault::NoAnswer, 3);
    let out = lan.run(
        &["states", &path, &lan.port, "kitchen", "kitchen", "kitchen"],
        &[],
    );
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("state kitchen"))
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (i, l) in lines.iter().enumerate() {
        assert!(l.contains("HMX_STATUS_TIMEOUT"), "{l}");
        assert_eq!(l.contains("looks wedged"), i == 2, "{l}");
    }
}

/// A site file hmx must not read (corrupt, readable by others):
/// `HMX_STATUS_STORAGE` naming the file, and the file left as it was.
#[test]
fn site_storage_errors_from_c() {
    use std::os::unix::fs::PermissionsExt;

    let lan = SiteLan::start("storage");
    std::fs::create_dir_all(&lan.dir).unwrap();
    for (name, bytes, mode, says) in [
        (
            "corrupt.json",
            &b"{\"hmx_site\": 1, \"devices\": ["[..],
            0o600,
            "not a readable site file",
        ),
        (
            "open.json",
            &b"{\"hmx_site\": 1, \"devices\": []}"[..],
            0o644,
            "readable or writable by others",
        ),
    ] {
        let path = lan.dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let path = path.to_str().unwrap();
        let out = lan.run(&["storage", path, says], &[]);
        assert!(out.starts_with("storage site "), "{out}");
        assert_eq!(std::fs::read(path).unwrap(), bytes);
    }
}

/// NULL for every pointer of every site function, text that is not UTF-8,
/// handles that are not sites: each its status, out-parameters untouched,
/// no crash, nothing leaked.
#[test]
fn site_misuse_from_c() {
    let lan = SiteLan::start("misuse");
    let path = lan.dir.join("site.json");
    let out = lan.run(&["misuse", path.to_str().unwrap()], &[]);
    assert!(out.contains("misuse handled"), "{out}");
}
