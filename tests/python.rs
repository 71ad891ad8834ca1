//! Using hmx from Python.
//!
//! Runs tests/python/test_hmx.py (stdlib unittest) against the built library
//! and the stand-in cloud and thermostat processes (the thermostat answering
//! as each unit in tests/fixtures/), so that `cargo test` covers the Python module.
//! (tests/install.rs runs the same file against the installed wheel.)
//! tests/python/test_site.py does the same for `hmx.Site` and `hmx.aio`: the
//! scenario of tests/site.rs, and cancelled and concurrent asyncio calls.
#![cfg(feature = "test-util")]

mod common;

use std::process::Command;

/// Runs one unittest file of tests/python/ and fails with its report.
fn run_python(file: &str, cmd: &mut Command) {
    cmd.arg(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HMX_LIB", common::profile_dir().join("libhmx.so"));
    common::python_test_env(cmd);
    let output = cmd.output().expect("python3 is installed (see README)");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python tests in {file} failed:\n{report}"
    );
    assert!(report.contains("\nOK"), "{report}");
    eprintln!("{report}");
}

#[test]
fn python_module() {
    // A real SOCKS5 server for the proxy test (tests/common/socks.rs).
    let socks = common::socks::Socks::start(None);
    let mut cmd = Command::new("python3");
    cmd.env("HMX_SOCKS_PROXY", socks.url("socks5h", None));
    // The command, whose `discover --help` shows the default wait hmx.discover keeps.
    #[cfg(feature = "cli")]
    cmd.env("HMX_CLI", env!("CARGO_BIN_EXE_hmx"));
    run_python("tests/python/test_hmx.py", &mut cmd);
}

#[test]
fn python_site_and_asyncio() {
    run_python("tests/python/test_site.py", &mut Command::new("python3"));
}
