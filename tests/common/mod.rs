//! Helpers shared by the integration tests: where the built artifacts are.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

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
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--all-features", "--lib", "--examples"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "cargo build of the library and examples failed"
        );
    });
}

/// The path of a built example, building it first.
pub fn example(name: &str) -> PathBuf {
    build_artifacts();
    profile_dir().join("examples").join(name)
}
