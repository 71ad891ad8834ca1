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
