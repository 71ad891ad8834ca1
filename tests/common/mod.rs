//! Helpers shared by the integration tests: where the built artifacts are.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
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

/// The folder with the compiled C programs and a `libhmx.so.0` for the loader.
pub fn c_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        build_artifacts();
        compile_c(&profile_dir(), true)
    })
}

/// Like [`c_dir`], against the release library built as the C quick start
/// builds it (LTO, `zeroize-heap`), without the test-only entry points.
pub fn release_c_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--release",
                "--features",
                "zeroize-heap",
                "--lib",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --release failed");
        compile_c(&profile_dir().parent().unwrap().join("release"), false)
    })
}

/// Compiles the C example, the C test program and the C++ header check
/// against the library in `lib_dir`, into `lib_dir/c-tests`.
fn compile_c(lib_dir: &Path, test_util: bool) -> PathBuf {
    let dir = lib_dir.join("c-tests");
    std::fs::create_dir_all(&dir).unwrap();
    // The library's SONAME is libhmx.so.0; cargo writes libhmx.so.
    let soname = dir.join("libhmx.so.0");
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink(lib_dir.join("libhmx.so"), &soname).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let link = |cmd: &mut Command| {
        cmd.arg("-I")
            .arg(root.join("include"))
            .arg("-L")
            .arg(lib_dir)
            .arg("-lhmx")
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-pthread");
    };
    for (compiler, std, source, out) in [
        ("gcc", "-std=c11", "examples/c/list_keys.c", "list_keys"),
        ("gcc", "-std=c11", "tests/c/test_hmx.c", "test_hmx"),
        ("gcc", "-std=c11", "tests/c/test_local.c", "test_local"),
        (
            "g++",
            "-std=c++17",
            "tests/c/header_check.cpp",
            "header_check",
        ),
    ] {
        let mut cmd = Command::new(compiler);
        cmd.args([std, "-Wall", "-Wextra", "-Werror"]);
        if test_util {
            cmd.arg("-DHMX_TEST_UTIL");
        }
        cmd.arg("-o").arg(dir.join(out)).arg(root.join(source));
        link(&mut cmd);
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("{compiler} not found: {e}"));
        assert!(
            output.status.success(),
            "{compiler} {source} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    dir
}

/// Runs a program from [`release_c_dir`] under valgrind exactly as the README
/// tells users to run their own tools: every leak kind valgrind counts as an
/// error (definite and possible) fails, and so does any memory error.
pub fn valgrind_release(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("valgrind");
    cmd.args(["--leak-check=full", "--error-exitcode=99"])
        .arg(format!(
            "--suppressions={}/tests/c/valgrind.supp",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg(release_c_dir().join(program))
        .args(args)
        .envs(env.iter().copied());
    let output = cmd.output().expect("valgrind is installed (see README)");
    assert_ne!(
        output.status.code(),
        Some(99),
        "valgrind found errors in the release build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// valgrind with the project's settings: memory errors and definite leaks
/// make it exit 99; the known false positives are suppressed.
pub fn valgrind_command() -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "-q",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--error-exitcode=99",
    ])
    .arg(format!(
        "--suppressions={}/tests/c/valgrind.supp",
        env!("CARGO_MANIFEST_DIR")
    ));
    cmd
}

/// Runs a compiled program under valgrind; fails the test on any memory error
/// or definite leak (valgrind's exit code is then 99).
pub fn valgrind(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = valgrind_command();
    cmd.arg(c_dir().join(program))
        .args(args)
        .env_remove("HMX_BASE_URL")
        .env_remove("HMX_CA_FILE")
        .env_remove("HMX_PASSWORD")
        .envs(env.iter().copied());
    let output = cmd.output().expect("valgrind is installed (see README)");
    assert_ne!(
        output.status.code(),
        Some(99),
        "valgrind found errors:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
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

/// What examples/c/list_keys.c prints for the stand-in's devices: `sn<TAB>name<TAB>key` lines.
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
