//! Helpers shared by the integration tests: the built artifacts, and what the
//! stand-ins serve. By concern: [`c`] (C programs and valgrind), [`loopback_site`]
//! (an account and its announcing thermostats on loopback), [`net`]
//! (addresses, the routing proxy, announcers), [`netns`] (a LAN of network
//! namespaces), [`procs`] (running programs and the `hmx` command), [`pty`]
//! (a pseudo-terminal), [`secrets`] (pieces of a secret in a message),
//! [`socks`] (a real SOCKS5 server behind a recorder), [`units`] (the recorded
//! units in tests/fixtures/).
#![allow(dead_code)]

pub mod c;
pub mod loopback_site;
pub mod net;
pub mod netns;
pub mod procs;
pub mod pty;
pub mod secrets;
pub mod socks;
pub mod units;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

// By their paths from before the split: tests/install.rs uses `common::valgrind_command`.
#[allow(unused_imports)]
pub use c::{c_dir, release_c_dir, valgrind, valgrind_command, valgrind_release};

/// `target/debug` (or wherever this test binary's profile directory is).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Builds the library (rlib, cdylib, staticlib) and every example with the
/// README's feature set, once per test binary. `cargo test --test X` alone
/// does not build examples, and a stale one would test old code.
pub fn build_artifacts() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        cargo_build(&["--all-features", "--lib", "--examples"]);
    });
}

/// `cargo build --quiet ARGS` in this checkout; fails the test if it fails.
pub fn cargo_build(args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build {} failed", args.join(" "));
}

/// The path of a built example, building it first.
pub fn example(name: &str) -> PathBuf {
    build_artifacts();
    profile_dir().join("examples").join(name)
}

/// What tests/python/test_hmx.py reads from its environment: the stand-in
/// processes, the expected version, and token vectors computed by the Rust code.
#[cfg(feature = "test-util")]
pub fn python_test_env(cmd: &mut Command) {
    let data = r#"{"par":[[125,7,"0"],[23,2,"1"]],"cmd":1}"#;
    let vectors: Vec<_> = [
        ("BW4ERXAJXXXXXXXX", 634_929_122u32),
        ("AAD4EXAJX4E8A8XT", 0),
        ("Ключ", u32::MAX),
    ]
    .into_iter()
    .map(|(key, time)| {
        let sn = "058016000543464839373520000159";
        serde_json::json!({
            "key": key, "time": time, "sn": sn, "data": data,
            "code": hmx::totp::code(key.as_bytes(), time).to_string(),
            "body": hmx::local::sign_request(key.as_bytes(), sn, time, data).unwrap(),
        })
    })
    .collect();
    cmd.env("HMX_MOCK_CLOUD", example("mock_cloud"))
        .env("HMX_MOCK_THERMOSTAT", example("mock_thermostat"))
        .env("HMX_DEMO_KEY", hmx::testing::DEMO_KEY)
        .env("HMX_EXPECT_VERSION", hmx::VERSION)
        .env("HMX_EXPECT_TOTP", serde_json::to_string(&vectors).unwrap());
}

/// What examples/c/list_keys.c (and examples/keys.rs) print for the
/// stand-in's devices: `sn<TAB>name<TAB>key` lines.
#[cfg(feature = "test-util")]
pub fn listing(cloud: &hmx::testing::MockCloud) -> String {
    cloud
        .devices()
        .iter()
        .map(|d| {
            let field = |name: &str| d[name].as_str().unwrap_or("-").to_string();
            format!(
                "{}\t{}\t{}\n",
                field("sn"),
                field("name"),
                field("totp_key")
            )
        })
        .collect()
}

/// A 429 answer with `Retry-After: <seconds>`, as the cloud throttles.
#[cfg(feature = "test-util")]
pub fn throttled(retry_after_s: u32) -> hmx::testing::Fault {
    hmx::testing::Fault::Respond {
        status: 429,
        headers: vec![("Retry-After".into(), retry_after_s.to_string())],
        body: br#"{"detail":"Request was throttled."}"#.to_vec(),
    }
}

/// A stand-in with `n` demo devices, `page_size` a page.
#[cfg(feature = "test-util")]
pub fn paged(n: usize, page_size: usize) -> hmx::testing::MockCloudBuilder {
    hmx::testing::MockCloud::builder()
        .devices(hmx::testing::demo_devices(n))
        .page_size(page_size)
}

/// The stand-in cloud with `fault` on `route`, started.
#[cfg(feature = "test-util")]
pub fn faulty(route: hmx::testing::Route, fault: hmx::testing::Fault) -> hmx::testing::MockCloud {
    hmx::testing::MockCloud::builder()
        .fault(route, fault)
        .start()
        .unwrap()
}
