//! Testing your own code against the stand-in cloud process.
//!
//! examples/mock_cloud.rs: serving with stdin closed, and leaving no
//! temporary files when a signal stops it.
#![cfg(feature = "test-util")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Starts the stand-in with `args`; returns it and the CA file it printed.
fn start(args: &[&str], stdin: Stdio) -> (std::process::Child, String, PathBuf) {
    let (child, base_url, ca_file) = common::procs::mock_cloud(args, stdin);
    assert!(ca_file.exists());
    (child, base_url, ca_file)
}

/// The stand-in answers a real fetch.
fn serves(base_url: &str, ca_file: &PathBuf) -> bool {
    let client = hmx::Client::builder()
        .base_url(base_url)
        .root_ca_pem(std::fs::read(ca_file).unwrap())
        .build()
        .unwrap();
    client
        .fetch_devices(hmx::testing::DEMO_EMAIL, hmx::testing::DEMO_PASSWORD)
        .is_ok_and(|d| d.len() == 5)
}

fn signal(child: &std::process::Child, signal: i32) {
    // SAFETY: kill(2) on our own child, not yet waited for.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

#[test]
fn until_signal_serves_with_stdin_closed_and_cleans_up() {
    for (sig, code) in [(libc::SIGTERM, 128 + 15), (libc::SIGINT, 128 + 2)] {
        let (mut child, base_url, ca_file) = start(&["--until-signal"], Stdio::null());
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            serves(&base_url, &ca_file),
            "still serving with stdin closed"
        );
        signal(&child, sig);
        assert_eq!(child.wait().unwrap().code(), Some(code));
        assert!(!ca_file.exists() && !ca_file.parent().unwrap().exists());
    }
}

#[test]
fn a_signal_stops_the_stdin_mode_and_the_run_mode_cleanly() {
    let (mut child, base_url, ca_file) = start(&[], Stdio::piped());
    // Held open: Child::wait would close it, and a closed stdin also stops the stand-in.
    let stdin = child.stdin.take();
    assert!(serves(&base_url, &ca_file));
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(128 + 15));
    drop(stdin);
    assert!(!ca_file.parent().unwrap().exists());

    // --run: the command gets the signal too, and the folder goes.
    let mut child = Command::new(common::example("mock_cloud"))
        .args(["--run", "sh", "-c", "echo \"$HMX_CA_FILE\"; exec sleep 60"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ca_file = PathBuf::from(line.trim());
    assert!(ca_file.exists());
    let start = std::time::Instant::now();
    signal(&child, libc::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(128 + 2));
    assert!(
        start.elapsed().as_secs() < 10,
        "the command was stopped, not waited out"
    );
    assert!(!ca_file.parent().unwrap().exists());
}
