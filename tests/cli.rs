//! The `hmx` command as a user runs it: subcommands, flags and their
//! environment variables, password sources, the token file, output, exit codes,
//! and the terminal (prompt, Ctrl-C, progress) through a pseudo-terminal.
#![cfg(all(feature = "cli", feature = "test-util"))]

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, Fault, MockCloud, Route, demo_devices};
use serde_json::json;

mod common;

const HMX: &str = env!("CARGO_BIN_EXE_hmx");

/// `hmx` with no HMX_* variables from the test's own environment.
fn hmx() -> Command {
    let mut cmd = Command::new(HMX);
    for var in ["HMX_PASSWORD", "HMX_EMAIL", "HMX_BASE_URL", "HMX_CA_FILE"] {
        cmd.env_remove(var);
    }
    cmd
}

/// `hmx keys ARGS` against `cloud`, with the password in HMX_PASSWORD (if
/// given) and `stdin` on standard input.
fn keys(cloud: &MockCloud, args: &[&str], password_env: Option<&str>, stdin: &str) -> Output {
    let mut cmd = hmx();
    cmd.args(["keys", "--base-url", cloud.base_url(), "--ca-file"])
        .arg(cloud.ca_file())
        .args(args);
    if let Some(p) = password_env {
        cmd.env("HMX_PASSWORD", p);
    }
    run_with_stdin(cmd, stdin)
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo test builds the hmx binary");
    // The command may exit without reading stdin; a closed pipe is fine then.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
    let cloud = MockCloud::builder()
        .devices(demo_devices(3000))
        .page_size(1000)
        .start()
        .unwrap();
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

    let cloud = MockCloud::builder()
        .fault(Route::Login, Fault::status(500, ""))
        .start()
        .unwrap();
    let out = keys(&cloud, &[DEMO_EMAIL], Some(DEMO_PASSWORD), "");
    assert_exit(&out, 5);
    let host = cloud.base_url().trim_start_matches("https://");
    assert!(
        stderr(&out).starts_with(&format!("hmx: {host}: http error")),
        "{}",
        stderr(&out)
    );

    let cloud = MockCloud::builder()
        .fault(Route::Login, common::throttled(120))
        .start()
        .unwrap();
    let out = keys(&cloud, &[DEMO_EMAIL], Some(DEMO_PASSWORD), "");
    assert_exit(&out, 5);
    assert!(
        stderr(&out).contains("(retry after 120 s)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn timeout_bounds_a_hung_server() {
    let cloud = MockCloud::builder()
        .fault(Route::Login, Fault::Hang)
        .start()
        .unwrap();
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

/// A pseudo-terminal: the test holds the master side, the command gets the
/// other side as its controlling terminal.
struct Pty {
    master: fs::File,
    slave: OwnedFd,
}

impl Pty {
    fn open() -> Pty {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors; the name and settings are not asked for.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        for fd in [master, slave] {
            // SAFETY: fcntl on descriptors just opened; no command inherits them.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: both descriptors were just opened and are owned here alone.
        unsafe {
            Pty {
                master: fs::File::from_raw_fd(master),
                slave: OwnedFd::from_raw_fd(slave),
            }
        }
    }

    fn stdio(&self) -> Stdio {
        Stdio::from(self.slave.try_clone().unwrap())
    }

    /// Runs `cmd` in a new session whose controlling terminal is this one.
    fn spawn(&self, cmd: &mut Command) -> Child {
        use std::os::fd::AsRawFd;
        let terminal = self.slave.as_raw_fd();
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(terminal, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn().unwrap()
    }

    /// Everything the command writes to the terminal, as it comes.
    fn reader(&self) -> mpsc::Receiver<Vec<u8>> {
        let mut master = self.master.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave descriptor is closed.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        rx
    }

    fn echo_is_on(&self) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: tcgetattr fills a plain C struct for a descriptor held open.
        unsafe {
            let mut t = std::mem::zeroed::<libc::termios>();
            assert_eq!(libc::tcgetattr(self.slave.as_raw_fd(), &mut t), 0);
            t.c_lflag & libc::ECHO != 0
        }
    }
}

/// Reads from the terminal until `text` shows up (or 20 s pass); all read so far.
fn wait_for(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, text: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !String::from_utf8_lossy(seen).contains(text) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => return false,
        }
    }
    true
}

/// The prompt prints before it turns echo off: wait (up to 10 s) for that.
fn echo_goes_off(pty: &Pty) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pty.echo_is_on() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

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
    let cloud = MockCloud::builder()
        .fault(
            Route::DevicePage(2),
            Fault::Delay(Duration::from_millis(1800)),
        )
        .start()
        .unwrap();
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
fn the_rust_api_example_lists_every_key() {
    let cloud = MockCloud::start().unwrap();
    let out = Command::new(common::example("keys"))
        .env("HMX_BASE_URL", cloud.base_url())
        .env("HMX_CA_FILE", cloud.ca_file())
        .env("HMX_EMAIL", DEMO_EMAIL)
        .env("HMX_PASSWORD", DEMO_PASSWORD)
        .output()
        .unwrap();
    assert_exit(&out, 0);

    assert_eq!(stdout(&out), common::listing(&cloud));
}

// ---- the thermostat on the LAN: discover, get, set, probe, demo ----

mod lan {
    use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
    use std::time::Duration;

    use hmx::testing::{Announcer, DEMO_KEY, DeviceFault, MockThermostat, On, announcement};
    use hmx::totp::Scheme;

    use super::{assert_exit, hmx, stderr, stdout};

    fn free_udp_port() -> u16 {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn announce(sn: &str, last: u8, port: u16) -> Announcer {
        let target = SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), port);
        let packet = announcement(sn, "sx").to_string();
        let every = Duration::from_millis(100);
        Announcer::start(packet, Ipv4Addr::new(127, 0, 0, last), target, every).unwrap()
    }

    fn locked() -> MockThermostat {
        MockThermostat::builder()
            .locked(DEMO_KEY, Scheme::default())
            .start()
            .unwrap()
    }

    fn on(device: &MockThermostat, args: &[&str]) -> std::process::Output {
        let mut cmd = hmx();
        // `hmx SUBCOMMAND HOST --sn SN REST...`
        cmd.env_remove("HMX_TOTP_KEY").arg(args[0]);
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
            let mut cmd = hmx();
            let out = cmd
                .args(["get", &device.host(), "--sn", device.sn(), what])
                .output()
                .unwrap();
            assert_exit(&out, 0);
            assert!(stdout(&out).contains(want), "{what}: {}", stdout(&out));
        }
        let out = hmx()
            .args(["get", &device.host(), "--sn", device.sn(), "time", "--json"])
            .output()
            .unwrap();
        assert_exit(&out, 0);
        let time: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let diff =
            i64::from(time["time"].as_u64().unwrap() as u32) - i64::from(device.device_time());
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
}

#[test]
fn keys_through_a_proxy_or_the_system_store() {
    use hmx::testing::{CLOUD_HOST, MockProxy};
    let cloud = MockCloud::start().unwrap();
    let proxy = MockProxy::builder()
        .route(CLOUD_HOST, std::net::Ipv4Addr::LOCALHOST.into())
        .start()
        .unwrap();
    let port = cloud.base_url().rsplit(':').next().unwrap().to_string();
    let by_name = format!("https://{CLOUD_HOST}:{port}");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = hmx();
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HMX_PASSWORD", DEMO_PASSWORD)
            .envs(env.iter().copied())
            .args(["keys", DEMO_EMAIL])
            .args(args);
        cmd.output().unwrap()
    };
    let ca = cloud.ca_file().to_str().unwrap();
    let out = run(
        &[
            "--base-url",
            &by_name,
            "--ca-file",
            ca,
            "--proxy",
            &proxy.url(),
        ],
        &[],
    );
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 6);
    let out = run(
        &["--base-url", &by_name, "--ca-file", ca],
        &[("HTTPS_PROXY", &proxy.url())],
    );
    assert_exit(&out, 0);
    assert_eq!(proxy.stats().tunnels, 2);
    // --no-proxy: the name resolves nowhere, so nothing is reached (exit 4).
    let out = run(
        &["--base-url", &by_name, "--ca-file", ca, "--no-proxy"],
        &[("HTTPS_PROXY", &proxy.url())],
    );
    assert_exit(&out, 4);
    assert_eq!(proxy.stats().tunnels, 2);
    // The system store, here a file named by SSL_CERT_FILE, instead of the bundled roots.
    let out = run(
        &["--base-url", cloud.base_url(), "--system-roots"],
        &[("SSL_CERT_FILE", ca)],
    );
    assert_exit(&out, 0);
    let out = run(&["--base-url", cloud.base_url()], &[("SSL_CERT_FILE", ca)]);
    assert_exit(&out, 4);
}
