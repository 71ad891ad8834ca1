//! Running programs: how they exited and what they printed, the `hmx`
//! command, and the stand-in cloud as a process.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// Standard output, which must be UTF-8.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Standard error, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Fails the test, showing what the program printed, unless it exited with `code`.
pub fn assert_exit(out: &Output, code: i32) {
    assert_exit_for("", out, code);
}

/// [`assert_exit`], naming `what` ran in the failure message.
pub fn assert_exit_for(what: &str, out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// Runs `cmd` with `stdin` on its standard input.
pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program runs");
    // The program may exit without reading stdin; a closed pipe is fine then.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// `hmx` with no HMX_* variables from the test's own environment.
#[cfg(feature = "cli")]
pub fn hmx() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hmx"));
    for var in [
        "HMX_PASSWORD",
        "HMX_EMAIL",
        "HMX_BASE_URL",
        "HMX_CA_FILE",
        "HMX_TOTP_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `hmx keys ARGS` against `cloud`, with the password in HMX_PASSWORD (if
/// given) and `stdin` on standard input.
#[cfg(all(feature = "cli", feature = "test-util"))]
pub fn keys(
    cloud: &hmx::testing::MockCloud,
    args: &[&str],
    password_env: Option<&str>,
    stdin: &str,
) -> Output {
    let mut cmd = hmx();
    cmd.args(["keys", "--base-url", cloud.base_url(), "--ca-file"])
        .arg(cloud.ca_file())
        .args(args);
    if let Some(p) = password_env {
        cmd.env("HMX_PASSWORD", p);
    }
    run_with_stdin(cmd, stdin)
}

/// The stand-in cloud as a process (examples/mock_cloud.rs) started with
/// `args`; the base URL and the CA file it printed.
pub fn mock_cloud(args: &[&str], stdin: Stdio) -> (Child, String, PathBuf) {
    let mut child = Command::new(super::example("mock_cloud"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut value = |name: &str| {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(name).unwrap().to_string()
    };
    let base_url = value("HMX_BASE_URL=");
    let ca_file = PathBuf::from(value("HMX_CA_FILE="));
    (child, base_url, ca_file)
}
