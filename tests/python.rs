//! Using hmx from Python.
//!
//! Runs tests/python/test_hmx.py (stdlib unittest) against the built library
//! and the stand-in cloud and thermostat processes (the thermostat answering
//! as each unit in tests/fixtures/), so that `cargo test` covers the Python module.
//! (tests/install.rs runs the same file against the installed wheel.)
#![cfg(feature = "test-util")]

mod common;

use std::process::Command;

#[test]
fn python_module() {
    // A real SOCKS5 server for the proxy test (tests/common/socks.rs).
    let socks = common::socks::Socks::start(None);
    let mut cmd = Command::new("python3");
    cmd.arg("tests/python/test_hmx.py")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HMX_LIB", common::profile_dir().join("libhmx.so"))
        .env("HMX_SOCKS_PROXY", socks.url("socks5h", None));
    common::python_test_env(&mut cmd);
    // The command, whose `discover --help` shows the default wait hmx.discover keeps.
    #[cfg(feature = "cli")]
    cmd.env("HMX_CLI", env!("CARGO_BIN_EXE_hmx"));
    let output = cmd.output().expect("python3 is installed (see README)");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Python tests failed:\n{report}");
    assert!(report.contains("\nOK"), "{report}");
    eprintln!("{report}");
}
