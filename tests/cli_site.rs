//! The `hmx` command with a site: `hmx sync` against the stand-in cloud (HTTPS, `--ca-file`)
//! and stand-in thermostats announcing on loopback, devices by name, `--all` and lists,
//! `hmx watch`, a bad site file, and progress only on a terminal.
#![cfg(all(feature = "cli", feature = "test-util"))]

mod common;

use common::loopback_site::{Lan, lan};

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::procs::{assert_exit, assert_exit_for, hmx, stderr, stdout};
use common::pty::{Pty, wait_for};
use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, DeviceFault, On, demo_devices};
use serde_json::Value;

impl Lan {
    /// `hmx ARGS` on this site (through HMX_SITE), with short bounds for the stand-ins.
    fn hmx(&self, args: &[&str]) -> Command {
        let mut cmd = hmx();
        cmd.env("HMX_SITE", self.path()).args(args);
        cmd
    }

    /// The options that reach the stand-ins quickly: request bound, discovery port and wait.
    fn quick(&self) -> Vec<String> {
        [
            "--timeout",
            "0.5",
            "--discovery-port",
            &self.port.to_string(),
            "--discovery-seconds",
            "0.5",
        ]
        .map(String::from)
        .to_vec()
    }

    /// `hmx sync` against the stand-in cloud over HTTPS, listening `seconds` on the LAN.
    fn sync_command(&self, seconds: &str, extra: &[&str]) -> Command {
        let mut cmd = hmx();
        cmd.args([
            "sync",
            "--email",
            DEMO_EMAIL,
            "--base-url",
            self.cloud.base_url(),
        ])
        .arg("--ca-file")
        .arg(self.cloud.ca_file())
        .args(["--discovery-port", &self.port.to_string()])
        .args(["--discovery-seconds", seconds])
        .arg("--site")
        .arg(self.path())
        .args(extra)
        .env("HMX_PASSWORD", DEMO_PASSWORD)
        .stdin(Stdio::null());
        cmd
    }

    /// A synced site whose addresses carry the stand-ins' ports (an
    /// announcement gives only the address; real units answer on port 80),
    /// set with `hmx site set`.
    fn synced(&self) {
        let out = self.sync_command("1", &[]).output().unwrap();
        assert_exit(&out, 0);
        for d in &self.devices {
            let address = format!("address={}", d.host());
            let out = self
                .hmx(&["site", "set", d.sn(), &address])
                .output()
                .unwrap();
            assert_exit(&out, 0);
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.hmx(args).args(self.quick()).output().unwrap()
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

#[test]
fn sync_joins_the_account_and_the_lan_into_a_private_file() {
    let lan = lan("cli-sync");
    let out = lan.sync_command("1", &[]).output().unwrap();
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert!(
        table.starts_with("NAME") && table.contains("FOUND"),
        "{table}"
    );
    for (name, d) in ["Living room", "Kitchen", "Bathroom floor"]
        .iter()
        .zip(&lan.devices)
    {
        let row = table.lines().find(|l| l.contains(d.sn())).unwrap();
        assert!(row.starts_with(name) && row.ends_with("joined"), "{row}");
        assert!(row.contains("127.0.0.1"), "{row}");
    }
    assert_eq!(table.lines().filter(|l| l.ends_with("joined")).count(), 3);
    assert!(
        stderr(&out).contains("3 joined, 0 cloud only, 0 LAN only"),
        "{}",
        stderr(&out)
    );
    // Nothing but what it found: no progress on a pipe, no key, no token.
    assert!(!stderr(&out).contains("listening"), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\r'));
    let text = std::fs::read_to_string(lan.path()).unwrap();
    let saved: Value = serde_json::from_str(&text).unwrap();
    let token = saved["account"]["token"].as_str().unwrap();
    for d in lan.cloud.devices() {
        let key = d["totp_key"].as_str().unwrap();
        assert!(text.contains(key));
        assert!(!stdout(&out).contains(key) && !stderr(&out).contains(key));
    }
    assert!(!stdout(&out).contains(token) && !stderr(&out).contains(token));
    assert_eq!(mode(&lan.path()), 0o600);
    assert_eq!(mode(lan.path().parent().unwrap()), 0o700);

    // Again, as JSON: the saved token is used (no login) and no password is asked for.
    lan.cloud.reset_stats();
    let out = lan
        .sync_command("1", &["--json"])
        .env_remove("HMX_PASSWORD")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["joined"].as_array().unwrap().len(), 3, "{report}");
    assert_eq!(report["cloud_only"], serde_json::json!([]));
    assert_eq!(report["logged_in"], false);
    let paths: Vec<String> = lan
        .cloud
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(paths.iter().all(|p| !p.contains("login")), "{paths:?}");

    // `hmx site`: the devices, their keys left out.
    let out = lan.hmx(&["site", "--json"]).output().unwrap();
    assert_exit(&out, 0);
    let listed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(listed[1]["name"], "Kitchen");
    assert_eq!(listed[1]["has_key"], true);
    for d in lan.cloud.devices() {
        assert!(!stdout(&out).contains(d["totp_key"].as_str().unwrap()));
    }
}

#[test]
fn a_device_by_name_prefix_needs_no_cloud_request() {
    let lan = lan("cli-name");
    lan.synced();
    lan.cloud.reset_stats();
    for d in &lan.devices {
        d.reset_stats();
    }
    let out = lan.run(&["get", "kitch", "state", "--json"]);
    assert_exit(&out, 0);
    let state: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(state["setpoint_c"].is_number(), "{state}");
    assert_eq!(state["lan_lock"], true, "{state}");
    assert_eq!(lan.cloud.stats().requests, 0);
    // The state's two reads (telemetry, parameter list) to the kitchen alone.
    let requests: Vec<usize> = lan.devices.iter().map(|d| d.stats().requests).collect();
    assert_eq!(requests, [0, 2, 0]);
    // Its health is kept in the site.
    let site = hmx::Site::open(lan.path()).unwrap();
    assert!(site.get("Kitchen").unwrap().health.last_success.is_some());

    // By serial (any case) and by saved address; the table as for an address.
    let sn = lan.devices[2].sn().to_lowercase();
    let out = lan.run(&["get", &sn, "state"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("setpoint"), "{}", stdout(&out));
    let out = lan.run(&["get", &lan.devices[0].host(), "time"]);
    assert_exit(&out, 0);

    // A signed write by name: the key comes from the site.
    let out = lan.run(&["set", "bath", "brightness=2"]);
    assert_exit(&out, 0);
    assert_eq!(lan.devices[2].parameter(23).as_deref(), Some("2"));
    // The probe too, with the site's key.
    let out = lan.run(&["probe", "living"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("accepted: raw-2000"),
        "{}",
        stdout(&out)
    );

    // The code for a device's key, from the site; the key itself never printed.
    let key = lan.cloud.devices()[1]["totp_key"]
        .as_str()
        .unwrap()
        .to_string();
    let out = lan
        .hmx(&["code", "--device", "kitchen", "--device-time", "634929122"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let want = hmx::totp::code(key.as_bytes(), 634_929_122).to_string();
    assert_eq!(stdout(&out), format!("{want}\n"));
    assert!(!stdout(&out).contains(&key) && !stderr(&out).contains(&key));

    // Names the site does not know, or several match.
    let out = lan.run(&["get", "garage", "state"]);
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("garage"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--sn"), "{}", stderr(&out));
    let out = lan.run(&["get", "192.0.2.1", "state"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--sn SN"), "{}", stderr(&out));
    assert_eq!(lan.cloud.stats().requests, 0);
}

#[test]
fn set_all_writes_every_device_and_reports_each() {
    let lan = lan("cli-all");
    lan.synced();
    let out = lan.run(&["set", "--all", "brightness=5"]);
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.lines().next().unwrap().starts_with("NAME"), "{table}");
    for name in ["Living room", "Kitchen", "Bathroom floor"] {
        let row = table.lines().find(|l| l.starts_with(name)).unwrap();
        assert!(row.ends_with("written"), "{row}");
    }
    for d in &lan.devices {
        assert_eq!(d.parameter(23).as_deref(), Some("5"));
        assert_eq!(d.stats().writes_applied, 1);
    }

    // A list, with JSON lines: only those two.
    let out = lan.run(&["set", "kitchen,bath", "brightness=4", "--json"]);
    assert_exit(&out, 0);
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines.len(), 2, "{}", stdout(&out));
    assert_eq!(lines[0]["device"], lan.devices[1].sn());
    assert_eq!(lines[0]["name"], "Kitchen");
    assert_eq!(lines[1]["written"], true);
    let brightness: Vec<_> = lan.devices.iter().map(|d| d.parameter(23)).collect();
    assert_eq!(
        brightness,
        [Some("5".into()), Some("4".into()), Some("4".into())]
    );

    // Each device signs with its own key: --key is refused with several.
    let out = lan.run(&["set", "--all", "--key", "AAAAAAAAAAAAAAAA", "brightness=3"]);
    assert_exit(&out, 2);
}

#[test]
fn a_silent_device_fails_alone_and_sets_the_exit_code() {
    let lan = lan("cli-silent");
    lan.synced();
    lan.devices[1].inject(On::Any, DeviceFault::NoAnswer, 100);
    let started = Instant::now();
    let out = lan.run(&["set", "--all", "brightness=6"]);
    assert_exit(&out, 4);
    let table = stdout(&out);
    assert_eq!(table.lines().count(), 4, "{table}");
    let row = |name: &str| table.lines().find(|l| l.starts_with(name)).unwrap();
    assert!(row("Living room").ends_with("written"), "{table}");
    assert!(row("Bathroom floor").ends_with("written"), "{table}");
    assert!(row("Kitchen").ends_with("timeout"), "{table}");
    assert_eq!(lan.devices[0].parameter(23).as_deref(), Some("6"));
    assert_eq!(lan.devices[2].parameter(23).as_deref(), Some("6"));
    let err = stderr(&out);
    assert!(err.contains("Kitchen: timeout error"), "{err}");
    assert!(err.contains("1 of 3 devices failed"), "{err}");
    eprintln!("set --all with one silent device: {:?}", started.elapsed());

    // Reading the state: one JSON line each, the silent one with its error.
    let out = lan.run(&["get", "--all", "state", "--json"]);
    assert_exit(&out, 4);
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines.len(), 3);
    assert!(lines[0]["state"].is_object() && lines[2]["state"].is_object());
    assert_eq!(lines[1]["error"]["kind"], "timeout", "{}", lines[1]);
    assert_eq!(lines[1]["error"]["exit"], 4);
    // The table too, and the health the site kept: the kitchen failing three times in a row.
    let out = lan.run(&["get", "--all", "state"]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("looks wedged"), "{}", stderr(&out));
}

#[test]
fn a_bad_site_file_is_exit_8_naming_it() {
    let lan = lan("cli-bad");
    std::fs::create_dir_all(lan.path().parent().unwrap()).unwrap();
    std::fs::write(lan.path(), b"{\"hmx_site\": 1, \"devices\": [").unwrap();
    std::fs::set_permissions(lan.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = lan.path().display().to_string();
    for args in [
        &["get", "kitchen", "state"][..],
        &["set", "--all", "brightness=5"],
        &["watch"],
        &["site"],
    ] {
        let out = lan.hmx(args).output().unwrap();
        assert_exit_for(&format!("{args:?}"), &out, 8);
        assert!(stderr(&out).contains(&path), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("not a readable site file"),
            "{}",
            stderr(&out)
        );
    }
    let out = lan.sync_command("0.2", &[]).output().unwrap();
    assert_exit(&out, 8);
    assert_eq!(lan.cloud.stats().requests, 0);
    // Readable by others: refused too, and left as it is.
    std::fs::set_permissions(lan.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = lan.run(&["get", "kitchen", "state"]);
    assert_exit(&out, 8);
    assert!(
        stderr(&out).contains("readable or writable by others"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mode(&lan.path()), 0o644);
    // --site wins over HMX_SITE.
    let other = lan.dir.join("none.json");
    let out = lan
        .hmx(&["site"])
        .arg("--site")
        .arg(&other)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("has no devices"), "{}", stderr(&out));
}

/// `hmx watch` with its lines as they come (the devices' threads print in any order).
struct Watching {
    child: Child,
    lines: mpsc::Receiver<Value>,
    /// Every line so far, for the failure message.
    seen: Vec<Value>,
    /// Lines not yet taken by [`Watching::wait`].
    pending: Vec<Value>,
}

impl Watching {
    /// Takes the first line so far, or to come within 20 s, that `wanted` accepts.
    fn wait(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return self.pending.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                    self.pending.push(line);
                }
                Err(_) => panic!("no {what} line; saw {:#?}", self.seen),
            }
        }
    }
}

#[test]
fn watch_prints_states_changes_a_dropout_and_ends_on_ctrl_c() {
    let lan = lan("cli-watch");
    lan.synced();
    let mut child = lan
        .hmx(&["watch", "--every", "1", "--every-floor", "1"])
        .args(lan.quick())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let line = line.unwrap();
            let value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if tx.send(value).is_err() {
                break;
            }
        }
    });
    let mut watching = Watching {
        child,
        lines: rx,
        seen: Vec::new(),
        pending: Vec::new(),
    };
    let sns: Vec<&str> = lan.devices.iter().map(|d| d.sn()).collect();
    for sn in &sns {
        let line = watching.wait("initial", |l| l["device"] == *sn);
        assert_eq!(line["event"], "initial", "{line}");
        assert!(line["state"]["brightness"].is_number(), "{line}");
        assert!(line["time"].as_u64().unwrap() > 1_700_000_000, "{line}");
    }
    let living = watching
        .seen
        .iter()
        .find(|l| l["device"] == sns[0])
        .unwrap();
    assert_eq!(living["name"], "Living room");

    // A change made by another hmx: one "changed" line with the new value.
    let out = lan.run(&["set", "kitchen", "brightness=3"]);
    assert_exit(&out, 0);
    let line = watching.wait("changed", |l| l["device"] == sns[1]);
    assert_eq!(line["event"], "changed", "{line}");
    assert_eq!(line["state"]["brightness"], 3, "{line}");

    // The bathroom goes silent for two readings, then answers again.
    lan.devices[2].inject(On::Any, DeviceFault::NoAnswer, 2);
    let line = watching.wait("lost", |l| l["device"] == sns[2]);
    assert_eq!(line["event"], "lost", "{line}");
    assert_eq!(line["error"]["kind"], "timeout", "{line}");
    let line = watching.wait("back", |l| l["device"] == sns[2]);
    assert_eq!(line["event"], "back", "{line}");
    assert!(line["state"].is_object(), "{line}");

    // Ctrl-C: exit 0, every line whole (the reader parsed each one).
    let pid = watching.child.id() as i32;
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let started = Instant::now();
    let status = watching.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut watching.child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    // Nothing printed for a device that did not change.
    let living: Vec<_> = watching
        .seen
        .iter()
        .filter(|l| l["device"] == sns[0])
        .collect();
    assert_eq!(living.len(), 1, "{living:?}");

    // Too often for a unit: refused.
    let out = lan.run(&["watch", "--every", "10"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("30"), "{}", stderr(&out));
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let lan = lan("cli-progress");
    // A fourth device in the account that is nowhere on the LAN.
    let four = demo_devices(4);
    lan.cloud.set_devices(four.clone());
    let pty = Pty::open();
    let rx = pty.reader();
    let mut cmd = lan.sync_command("2.5", &[]);
    cmd.stdout(Stdio::piped()).stderr(pty.stdio());
    let child = pty.spawn(&mut cmd);
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);
    let mut seen = Vec::new();
    let what = format!(
        "listening for announcements on UDP port {} (2.5 s)",
        lan.port
    );
    assert!(
        wait_for(&rx, &mut seen, &format!("{what} (3 devices heard)…")),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );

    // Reading it: the site listens for its announcement, and says so.
    let sn = four[3]["sn"].as_str().unwrap();
    let mut cmd = lan.hmx(&["get", sn, "state"]);
    cmd.args(["--discovery-port", &lan.port.to_string()])
        .args(["--discovery-seconds", "1.5"])
        .stdout(Stdio::piped())
        .stderr(pty.stdio());
    let out = pty.spawn(&mut cmd).wait_with_output().unwrap();
    assert_exit(&out, 6);
    let note =
        "Детская: reading the state (listening for its announcement, 0 of 1 heard, up to 1.5 s)…";
    assert!(
        wait_for(&rx, &mut seen, note),
        "{:?}",
        String::from_utf8_lossy(&seen)
    );

    // On a pipe, none of it (the sync test checks stderr in full).
    let out = lan.sync_command("1.5", &[]).output().unwrap();
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("listening"), "{}", stderr(&out));
    let out = lan
        .hmx(&["get", sn, "state", "--discovery-seconds", "1.5"])
        .args(["--discovery-port", &lan.port.to_string()])
        .output()
        .unwrap();
    assert_exit(&out, 6);
    assert!(!stderr(&out).contains("listening"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no known address"),
        "{}",
        stderr(&out)
    );
}
