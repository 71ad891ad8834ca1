//! The C programs (the example, the test programs, the C++ header check),
//! compiled against the built library, and valgrind as the project runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use super::{build_artifacts, cargo_build, procs, profile_dir};

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
        cargo_build(&["--release", "--features", "zeroize-heap", "--lib"]);
        compile_c(&profile_dir().parent().unwrap().join("release"), false)
    })
}

/// Compiles the C example, the C test programs and the C++ header check
/// against the library in `lib_dir`, into `lib_dir/c-tests`.
fn compile_c(lib_dir: &Path, test_util: bool) -> PathBuf {
    let dir = lib_dir.join("c-tests");
    std::fs::create_dir_all(&dir).unwrap();
    // The library's SONAME is libhmx.so.0; cargo writes libhmx.so.
    let soname = dir.join("libhmx.so.0");
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink(lib_dir.join("libhmx.so"), &soname).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (compiler, std, source, out) in [
        ("gcc", "-std=c11", "examples/c/list_keys.c", "list_keys"),
        ("gcc", "-std=c11", "tests/c/test_hmx.c", "test_hmx"),
        ("gcc", "-std=c11", "tests/c/test_local.c", "test_local"),
        (
            "gcc",
            "-std=c11",
            "tests/c/test_thermostat.c",
            "test_thermostat",
        ),
        ("gcc", "-std=c11", "tests/c/test_site.c", "test_site"),
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
        cmd.arg("-o")
            .arg(dir.join(out))
            .arg(root.join(source))
            .arg("-I")
            .arg(root.join("include"))
            .arg("-L")
            .arg(lib_dir)
            .arg("-lhmx")
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-pthread");
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("{compiler} not found: {e}"));
        procs::assert_exit_for(&format!("{compiler} {source}"), &output, 0);
    }
    dir
}

/// valgrind with `flags`, a full leak check and the shipped suppressions;
/// what it counts as an error makes it exit 99.
fn valgrind_with(flags: &[&str]) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args(flags)
        .args(["--leak-check=full", "--error-exitcode=99"])
        .arg(format!(
            "--suppressions={}/tests/c/valgrind.supp",
            env!("CARGO_MANIFEST_DIR")
        ));
    cmd
}

/// Runs a valgrind command; fails the test if valgrind found errors (exit 99).
fn run_clean(mut cmd: Command, build: &str) -> Output {
    let output = cmd.output().expect("valgrind is installed (see README)");
    assert_ne!(
        output.status.code(),
        Some(99),
        "valgrind found errors{build}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs a program from [`release_c_dir`] under valgrind exactly as the README
/// tells users to run their own tools: every leak kind valgrind counts as an
/// error (definite and possible) fails, and so does any memory error.
pub fn valgrind_release(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = valgrind_with(&[]);
    cmd.arg(release_c_dir().join(program))
        .args(args)
        .envs(env.iter().copied());
    run_clean(cmd, " in the release build")
}

/// valgrind with the project's settings: memory errors and definite leaks
/// make it exit 99; the known false positives are suppressed.
pub fn valgrind_command() -> Command {
    valgrind_with(&["-q", "--errors-for-leak-kinds=definite"])
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
    run_clean(cmd, "")
}
