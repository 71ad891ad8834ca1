//! Getting the keys from the cloud with the `hmx` command.
//!
//! `hmx keys` (flags, environment variables, password sources, the token
//! file, output, exit codes), `hmx code`, and the terminal (the password
//! prompt, Ctrl-C, progress) through a pseudo-terminal. (Through a proxy or
//! the system store: tests/networks.rs.)
#![cfg(all(feature = "cli", feature = "test-util"))]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::net::closed_port;
use common::procs::{assert_exit, hmx, keys, run_with_stdin, stderr, stdout};
use common::pty::{Pty, echo_goes_off, wait_for};
use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, Fault, MockCloud, Route, demo_devices};
use serde_json::json;

#[test]
fn table_json_serial_and_exit_codes() {
    let cloud = MockCloud::start().unwrap();
    let out = keys(&cloud, &[DEMO_EMAIL], Some(DEMO_PASSWORD), "");
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert!(table.starts_with("ID "));
    assert_eq!(table.lines().count(), 1 + cloud.devices().len());
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

    // Password from stdin's first line, JSON output, one device by serial (`--opt=value`).
    let sn = cloud.devices()[2]["sn"].as_str().unwrap().to_lowercase();
    let out = keys(
        &cloud,
        &["--json", &format!("--serial={sn}"), DEMO_EMAIL],
        None,
        &format!("{DEMO_PASSWORD}\nrest\n"),
    );
    assert_exit(&out, 0);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = &cloud.devices()[2];
    assert_eq!(
        rows,
        json!([{"id": want["id"], "sn": want["sn"], "name": want["name"], "totp_key": want["totp_key"]}])
    );

    let code = |args: &[&str], pw: &str| keys(&cloud, args, Some(pw), "").status.code();
    assert_eq!(
        code(&["--serial", "nope", DEMO_EMAIL], DEMO_PASSWORD),
        Some(6)
    );
    assert_eq!(code(&[DEMO_EMAIL], "wrong"), Some(3));
    assert_eq!(code(&[], DEMO_PASSWORD), Some(2));
    assert_eq!(code(&["--bogus", DEMO_EMAIL], DEMO_PASSWORD), Some(2));
    assert_eq!(
        code(&["--timeout", "0", DEMO_EMAIL], DEMO_PASSWORD),
        Some(2)
    );
    let out = keys(&cloud, &[DEMO_EMAIL], Some("wrong-pass-word"), "");
    assert!(
        !stderr(&out).contains("wrong-pass-word"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn environment_variables_and_flags_that_win() {
    let cloud = MockCloud::start().unwrap();
    // Everything from the environment, as the stand-in prints it.
    let mut cmd = hmx();
    cmd.arg("keys")
        .env("HMX_EMAIL", DEMO_EMAIL)
        .env("HMX_BASE_URL", cloud.base_url())
        .env("HMX_CA_FILE", cloud.ca_file())
        .env("HMX_PASSWORD", DEMO_PASSWORD);
    let out = run_with_stdin(cmd, "");
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 1 + 5);

    // Flags win over the environment: the variables point nowhere useful.
    let mut cmd = hmx();
    cmd.arg("keys")
        .env("HMX_EMAIL", "nobody@hmx.invalid")
        .env(
            "HMX_BASE_URL",
            format!("https://127.0.0.1:{}", closed_port()),
        )
        .env("HMX_CA_FILE", "/nonexistent/ca.pem")
        .env("HMX_PASSWORD", DEMO_PASSWORD)
        .arg(format!("--base-url={}", cloud.base_url()))
        .arg("--ca-file")
        .arg(cloud.ca_file())
        .arg(DEMO_EMAIL);
    assert_exit(&run_with_stdin(cmd, ""), 0);
}

#[test]
fn a_password_variable_that_is_not_utf8_never_falls_back_to_stdin() {
    use std::os::unix::ffi::OsStrExt;
    let cloud = MockCloud::start().unwrap();
    let mut cmd = hmx();
    cmd.args(["keys", "--base-url", cloud.base_url(), "--ca-file"])
        .arg(cloud.ca_file())
        .arg(DEMO_EMAIL)
        .env(
            "HMX_PASSWORD",
            std::ffi::OsStr::from_bytes(b"demo-pass\xffword"),
        );
    let out = run_with_stdin(cmd, &format!("{DEMO_PASSWORD}\n"));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("HMX_PASSWORD is set but is not UTF-8"));
    assert_eq!(cloud.stats().requests, 0, "nothing is sent");
}

fn logins(cloud: &MockCloud) -> usize {
    cloud
        .requests()
        .iter()
        .filter(|r| r.route == Some(Route::Login))
        .count()
}

#[test]
fn token_file_is_reused_and_replaced_when_refused() {
    let cloud = MockCloud::builder()
        .fixed_token("9f3c2a7e5b1d4c6f8a0e2b4d6c8a0e2f4b6d8c0a")
        .start()
        .unwrap();
    let dir = tempdir("token-file");
    let file = dir.join("token");
    let file_arg = file.to_str().unwrap();

    // No file yet: log in, then save the token, readable by this user only.
    let out = keys(
        &cloud,
        &["--token-file", file_arg, DEMO_EMAIL],
        Some(DEMO_PASSWORD),
        "",
    );
    assert_exit(&out, 0);
    assert_eq!(logins(&cloud), 1);
    let saved = fs::read_to_string(&file).unwrap();
    assert_eq!(saved.trim(), cloud.tokens()[0]);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The saved token is used: no login, no password needed.
    let out = keys(
        &cloud,
        &[&format!("--token-file={file_arg}"), DEMO_EMAIL],
        None,
        "",
    );
    assert_exit(&out, 0);
    assert_eq!(logins(&cloud), 1);
    assert_eq!(stdout(&out).lines().count(), 6);

    // A refused token: log in again and replace the file (mode 0600 even if it was not).
    fs::write(&file, "0000000000000000000000000000000000000000\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let out = keys(
        &cloud,
        &["--token-file", file_arg, DEMO_EMAIL],
        None,
        &format!("{DEMO_PASSWORD}\n"),
    );
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("was refused; logging in again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(logins(&cloud), 2);
    assert_eq!(fs::read_to_string(&file).unwrap().trim(), cloud.tokens()[0]);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
    fs::remove_dir_all(dir).unwrap();
}

/// A fresh directory under the system's temporary folder.
fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hmx-cli-{what}-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    let dir = std::path::PathBuf::from(dir.to_str().unwrap().replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '/' && c != '-',
        "",
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn names_cannot_forge_rows_or_drive_the_terminal() {
    let mut devices = demo_devices(2);
    devices[0]["name"] = json!("Hall\n99999  FORGED  row  KEYKEYKEYKEYKEY0");
    devices[1]["name"] = json!("\u{1b}[2J\u{1b}]0;pwned\u{7}Attic");
    devices[1]["sn"] = json!("SN\rX");
    let cloud = MockCloud::builder().devices(devices).start().unwrap();
    let out = keys(&cloud, &[DEMO_EMAIL], Some(DEMO_PASSWORD), "");
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(!table.contains("\n99999"), "{table}");
    assert!(!table.bytes().any(|b| b == 0x1b || b == b'\r' || b == 0x07));
    assert!(table.contains(r"Hall\n99999"), "{table}");
    assert!(
        table.contains(r"\u{1b}[2J\u{1b}]0;pwned\u{7}Attic"),
        "{table}"
    );
    assert!(table.contains(r"SN\rX"), "{table}");

    // JSON keeps the exact text, escaped as JSON.
    let out = keys(&cloud, &["--json", DEMO_EMAIL], Some(DEMO_PASSWORD), "");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[1]["name"], cloud.devices()[1]["name"]);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let cloud = common::paged(3000, 1000).start().unwrap();
    let mut child = hmx()
        .args(["keys", "--base-url", cloud.base_url(), "--ca-file"])
        .arg(cloud.ca_file())
        .arg(DEMO_EMAIL)
        .env("HMX_PASSWORD", DEMO_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `head -1`: read the first line, then close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 3];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"ID ");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "", "nothing on stderr, no panic");
}

#[test]
fn errors_name_the_host_and_map_to_exit_codes() {
    let port = closed_port();
    let cloud = MockCloud::start().unwrap();
    let mut cmd = hmx();
    cmd.args([
        "keys",
        "--base-url",
        &format!("https://127.0.0.1:{port}"),
        "--ca-file",
    ])
    .arg(cloud.ca_file())
    .arg(DEMO_EMAIL)
    .env("HMX_PASSWORD", DEMO_PASSWORD);
    let out = run_with_stdin(cmd, "");
    assert_exit(&out, 4);
    assert!(
        stderr(&out).starts_with(&format!("hmx: 127.0.0.1:{port}: network error")),
        "{}",
        stderr(&out)
    );

    // Refused at login: exit 5, naming the host; what stderr says.
    let refused = |fault: Fault| {
        let cloud = common::faulty(Route::Login, fault);
        let out = keys(&cloud, &[DEMO_EMAIL], Some(DEMO_PASSWORD), "");
        assert_exit(&out, 5);
        let host = cloud.base_url().trim_start_matches("https://").to_string();
        (host, stderr(&out))
    };
    let (host, said) = refused(Fault::status(500, ""));
    assert!(
        said.starts_with(&format!("hmx: {host}: http error")),
        "{said}"
    );
    let (_, said) = refused(common::throttled(120));
    assert!(said.contains("(retry after 120 s)"), "{said}");
}

#[test]
fn timeout_bounds_a_hung_server() {
    let cloud = common::faulty(Route::Login, Fault::Hang);
    let start = Instant::now();
    let out = keys(
        &cloud,
        &["--timeout", "1.5", DEMO_EMAIL],
        Some(DEMO_PASSWORD),
        "",
    );
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("timeout error"), "{}", stderr(&out));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(6),
        "{took:?}"
    );
}

#[test]
fn demo_version_help_and_usage() {
    let out = hmx().args(["keys", "--demo"]).output().unwrap();
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 1 + 5);
    assert!(stderr(&out).contains("4 requests over 1 connection(s)"));

    for flag in ["--version", "-V"] {
        let out = hmx().arg(flag).output().unwrap();
        assert_exit(&out, 0);
        assert_eq!(stdout(&out), format!("hmx {}\n", hmx::VERSION));
    }
    for flag in ["--help", "-h"] {
        let out = hmx().arg(flag).output().unwrap();
        assert_exit(&out, 0);
        let help = stdout(&out);
        assert!(help.contains("keys") && help.contains("code"), "{help}");
    }
    let out = hmx().args(["keys", "--help"]).output().unwrap();
    assert_exit(&out, 0);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("--token-file <PATH>")
    );
    assert_exit(&hmx().output().unwrap(), 2);
    assert_exit(&hmx().arg("nonsense").output().unwrap(), 2);
    assert_exit(
        &hmx()
            .args(["keys", "--demo", "someone@example.com"])
            .output()
            .unwrap(),
        2,
    );
}

#[test]
fn code_prints_the_token_for_a_key() {
    let key = "BW4ERXAJXXXXXXXX";
    let out = hmx()
        .args(["code", key, "--device-time", "634929122"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("{}\n", hmx::totp::code(key.as_bytes(), 634_929_122))
    );
    assert_eq!(stderr(&out), "", "no clock talk for a given time");

    let before = hmx::totp::device_time_now();
    let mut cmd = hmx();
    cmd.args(["code", "-"]);
    let out = run_with_stdin(cmd, &format!("{key}\n"));
    let after = hmx::totp::device_time_now();
    assert_exit(&out, 0);
    let printed = stdout(&out);
    assert!(
        [before, after]
            .map(|t| format!("{}\n", hmx::totp::code(key.as_bytes(), t)))
            .contains(&printed),
        "{printed}"
    );
    assert!(stderr(&out).contains("more s"), "{}", stderr(&out));
    assert_exit(
        &hmx()
            .args(["code", key, "--device-time", "-1"])
            .output()
            .unwrap(),
        2,
    );
    assert_exit(&hmx().args(["code", ""]).output().unwrap(), 2);
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
    assert_exit(&out, 0);
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
    let table = stdout(&out);
    assert!(table.lines().next().unwrap().ends_with("CODE"));
    assert!(stderr(&out).contains("more s"));
}

// ------------------------------------------------------------ a terminal

fn keys_on_terminal(cloud: &MockCloud, pty: &Pty) -> Child {
    let mut cmd = hmx();
    cmd.args(["keys", "--base-url", cloud.base_url(), "--ca-file"])
        .arg(cloud.ca_file())
        .arg(DEMO_EMAIL)
        .stdin(pty.stdio())
        .stdout(Stdio::piped())
        .stderr(pty.stdio());
    pty.spawn(&mut cmd)
}

#[test]
fn prompt_reads_the_password_without_echo() {
    let cloud = MockCloud::start().unwrap();
    let mut pty = Pty::open();
    let rx = pty.reader();
    let child = keys_on_terminal(&cloud, &pty);
    let mut seen = Vec::new();
    assert!(wait_for(&rx, &mut seen, "Password: "), "{seen:?}");
    // Type once echo is off, as a person does after seeing the prompt.
    assert!(echo_goes_off(&pty));
    pty.master
        .write_all(format!("{DEMO_PASSWORD}\r").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 6);
    std::thread::sleep(Duration::from_millis(200));
    seen.extend(rx.try_iter().flatten());
    assert!(
        !String::from_utf8_lossy(&seen).contains(DEMO_PASSWORD),
        "the password was echoed: {:?}",
        String::from_utf8_lossy(&seen)
    );
    assert!(pty.echo_is_on());
}

#[test]
fn ctrl_c_at_the_prompt_puts_echo_back() {
    let cloud = MockCloud::start().unwrap();
    let mut pty = Pty::open();
    assert!(pty.echo_is_on());
    let rx = pty.reader();
    // Ctrl-C typed at the prompt, then a SIGTERM sent from elsewhere.
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let mut child = keys_on_terminal(&cloud, &pty);
        let mut seen = Vec::new();
        assert!(wait_for(&rx, &mut seen, "Password: "), "{seen:?}");
        assert!(echo_goes_off(&pty), "echo is off while the prompt waits");
        if signal == libc::SIGINT {
            pty.master.write_all(b"half-typed\x03").unwrap();
        } else {
            // SAFETY: kill(2) on a child of ours that has not been waited for.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        }
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(signal), "{status:?}");
        assert!(pty.echo_is_on(), "echo is back on after signal {signal}");
    }
    assert_eq!(cloud.stats().requests, 0);
}

#[test]
fn progress_shows_on_a_terminal_only() {
    // Page 2 is slow, so the line shows what page 1 brought.
    let cloud = common::faulty(
        Route::DevicePage(2),
        Fault::Delay(Duration::from_millis(1800)),
    );
    let pty = Pty::open();
    let rx = pty.reader();
    let mut cmd = hmx();
    cmd.args(["keys", "--base-url", cloud.base_url(), "--ca-file"])
        .arg(cloud.ca_file())
        .arg(DEMO_EMAIL)
        .env("HMX_PASSWORD", DEMO_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(pty.stdio());
    let child = pty.spawn(&mut cmd);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    let host = cloud.base_url().trim_start_matches("https://").to_string();
    let mut seen = Vec::new();
    assert!(
        wait_for(
            &rx,
            &mut seen,
            &format!("{host}: reading the device list (1 page, 2 devices)…")
        ),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );

    // Not a terminal: no progress.
    let out = keys(&cloud, &[DEMO_EMAIL], Some(DEMO_PASSWORD), "");
    assert_exit(&out, 0);
    assert_eq!(stderr(&out), "");
}

#[test]
fn the_demo_refuses_options_that_would_not_apply_to_it() {
    for extra in [
        &["--proxy", "socks5h://127.0.0.1:1"][..],
        &["--no-proxy"],
        &["--system-roots"],
        &["--base-url", "https://app.welrok.com"],
    ] {
        let out = hmx().args(["keys", "--demo"]).args(extra).output().unwrap();
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{extra:?}: {}",
            stderr(&out)
        );
    }
}
