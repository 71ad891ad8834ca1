//! The `keys` example as a user runs it: flags, password sources, output and exit codes.
#![cfg(feature = "test-util")]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, MockCloud};

mod common;
use common::example;

fn keys(cloud: &MockCloud, args: &[&str], password_env: Option<&str>, stdin: &str) -> Output {
    let mut cmd = Command::new(example("keys"));
    cmd.args(["--base-url", cloud.base_url(), "--ca-file"])
        .arg(cloud.ca_file())
        .args(args)
        .env_remove("HMX_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = password_env {
        cmd.env("HMX_PASSWORD", p);
    }
    let mut child = cmd
        .spawn()
        .expect("the keys example is built by cargo test");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn assert_success(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn table_json_serial_and_exit_codes() {
    let cloud = MockCloud::start().unwrap();
    let out = keys(&cloud, &[DEMO_EMAIL], Some(DEMO_PASSWORD), "");
    assert_success(&out);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("ID "));
    for d in cloud.devices() {
        let line = table
            .lines()
            .find(|l| l.contains(d["sn"].as_str().unwrap()))
            .unwrap();
        assert!(
            line.contains(d["totp_key"].as_str().unwrap())
                && line.contains(d["name"].as_str().unwrap())
        );
    }

    // Password from stdin's first line, JSON output, one device by serial.
    let sn = cloud.devices()[2]["sn"].as_str().unwrap().to_lowercase();
    let out = keys(
        &cloud,
        &["--json", "--serial", &sn, DEMO_EMAIL],
        None,
        &format!("{DEMO_PASSWORD}\nrest\n"),
    );
    assert_success(&out);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = &cloud.devices()[2];
    assert_eq!(
        rows,
        serde_json::json!([{"id": want["id"], "sn": want["sn"], "name": want["name"], "totp_key": want["totp_key"]}])
    );

    let code = |args: &[&str], pw: &str| keys(&cloud, args, Some(pw), "").status.code();
    assert_eq!(
        code(&["--serial", "nope", DEMO_EMAIL], DEMO_PASSWORD),
        Some(6)
    );
    assert_eq!(code(&[DEMO_EMAIL], "wrong"), Some(3));
    assert_eq!(code(&[], DEMO_PASSWORD), Some(2));
    assert_eq!(code(&["--bogus", DEMO_EMAIL], DEMO_PASSWORD), Some(2));
    let out = keys(&cloud, &[DEMO_EMAIL], Some("wrong"), "");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong"));
}

#[test]
fn network_and_http_exit_codes() {
    let cloud = hmx::testing::MockCloud::builder()
        .fault(
            hmx::testing::Route::Login,
            hmx::testing::Fault::status(500, ""),
        )
        .start()
        .unwrap();
    assert_eq!(
        keys(&cloud, &[DEMO_EMAIL], Some(DEMO_PASSWORD), "")
            .status
            .code(),
        Some(5)
    );
    let port = cloud.base_url().rsplit(':').next().unwrap().to_string();
    drop(cloud);
    let gone = MockCloud::start().unwrap();
    let out = Command::new(example("keys"))
        .args([
            "--base-url",
            &format!("https://127.0.0.1:{port}"),
            "--ca-file",
        ])
        .arg(gone.ca_file())
        .arg(DEMO_EMAIL)
        .env("HMX_PASSWORD", DEMO_PASSWORD)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_runs_without_network_or_account() {
    let out = Command::new(example("keys"))
        .arg("--demo")
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        1 + 5
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 requests over 1 connection(s)"));
}

#[test]
fn codes_are_the_current_tokens() {
    let cloud = MockCloud::start().unwrap();
    let before = hmx::totp::device_time_now();
    let out = keys(
        &cloud,
        &["--json", "--codes", DEMO_EMAIL],
        Some(DEMO_PASSWORD),
        "",
    );
    let after = hmx::totp::device_time_now();
    assert_success(&out);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (row, device) in rows.as_array().unwrap().iter().zip(cloud.devices()) {
        let key = device["totp_key"].as_str().unwrap().as_bytes();
        let possible = [
            hmx::totp::code(key, before).to_string(),
            hmx::totp::code(key, after).to_string(),
        ];
        assert!(
            possible.contains(&row["code"].as_str().unwrap().to_string()),
            "{row}"
        );
        let valid_for = row["valid_for"].as_u64().unwrap();
        assert!((1..=30).contains(&valid_for));
    }
    let out = keys(&cloud, &["--codes", DEMO_EMAIL], Some(DEMO_PASSWORD), "");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.lines().next().unwrap().ends_with("CODE"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more s"));
}
