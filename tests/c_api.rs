//! The C ABI from real C: the example and a test program compiled with gcc,
//! the header compiled as C++, everything run under valgrind against the stand-in.
#![cfg(feature = "test-util")]

mod common;

use std::process::{Command, Output};

use common::{c_dir, valgrind};

use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, Fault, MockCloud, MockCloudBuilder, Route};

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
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("https://127.0.0.1:{port}");
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
