//! A site on loopback: sync from the stand-in cloud and announcing stand-ins, names, the file's rules, and finding the way back.
#![cfg(feature = "test-util")]

mod common;

use common::loopback_site::{Lan, key_of, lan};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use hmx::local::Control;
use hmx::testing::{
    DEMO_EMAIL, DEMO_PASSWORD, DeviceFault, MockCloud, MockThermostat, On, demo_devices,
};
use hmx::totp::Scheme;
use hmx::{ErrorKind, Site};
use serde_json::Value;

impl Lan {
    fn site(&self) -> Site {
        Site::open(self.path())
            .unwrap()
            .cloud(self.cloud.client())
            .discovery(self.port, Duration::from_millis(600))
            .timeout(Duration::from_millis(400), Duration::from_millis(5))
    }

    /// A synced site whose addresses carry the stand-ins' ports (announcements
    /// give only the address; real units answer on 80).
    fn synced(&self) -> Site {
        let mut site = self.site().password(DEMO_PASSWORD.into());
        let report = site.sync(Some(DEMO_EMAIL)).unwrap();
        assert_eq!(report.joined.len(), 3, "{report:?}");
        assert!(report.logged_in);
        for d in &self.devices {
            site.set_address(d.sn(), &d.host()).unwrap();
        }
        site
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn sync_joins_cloud_keys_and_the_lan_and_keeps_them_private() {
    let lan = lan("sync");
    let site = lan.synced();
    assert_eq!(mode(&lan.path()), 0o600);
    assert_eq!(mode(lan.path().parent().unwrap()), 0o700);
    let text = std::fs::read_to_string(lan.path()).unwrap();
    assert!(text.contains("\"hmx_site\": 1"), "{text}");

    // Read back by another Site: names, keys, addresses, the token.
    let again = Site::open(lan.path()).unwrap();
    assert_eq!(again.devices().len(), 3);
    let cloud = demo_devices(3);
    for (d, c) in again.devices().iter().zip(&cloud) {
        assert_eq!(d.sn, c["sn"].as_str().unwrap());
        assert_eq!(d.name.as_deref(), c["name"].as_str());
        assert_eq!(d.key().unwrap().as_str(), key_of(c));
        assert!(d.in_cloud && d.on_lan, "{d:?}");
        assert!(!format!("{d:?}").contains(&key_of(c)));
    }
    assert!(again.account().unwrap().token().is_some());
    assert!(!format!("{again:?}").contains(again.account().unwrap().token().unwrap().as_str()));
    drop(site);
}

#[test]
fn devices_are_found_by_name_prefix_serial_or_address() {
    let lan = lan("names");
    let site = lan.synced();
    let sn = lan.devices[1].sn();
    assert_eq!(site.get("kitchen").unwrap().sn, sn);
    assert_eq!(site.get("KITCH").unwrap().sn, sn);
    assert_eq!(site.get(&sn.to_lowercase()).unwrap().sn, sn);
    assert_eq!(site.get(&lan.devices[1].host()).unwrap().sn, sn);
    let e = site.get("nowhere").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    // "B" starts "Bathroom floor" only; "" names nothing.
    assert_eq!(
        site.get("b").unwrap().name.as_deref(),
        Some("Bathroom floor")
    );
    assert_eq!(
        site.get(" ").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn a_saved_site_reads_state_with_no_cloud_request() {
    let lan = lan("state");
    drop(lan.synced());
    lan.cloud.reset_stats();
    let mut site = lan.site();
    lan.devices[0].reset_stats();
    let state = site.state("living").unwrap();
    assert!(state.floor_c.is_some());
    assert_eq!(lan.cloud.stats().requests, 0);
    // The state's two reads (telemetry, parameter list), nothing else.
    assert_eq!(lan.devices[0].stats().requests, 2);
    let d = Site::open(lan.path()).unwrap();
    let health = &d.get("living").unwrap().health;
    assert!(
        health.last_success.is_some() && health.failures == 0,
        "{health:?}"
    );
}

#[test]
fn a_key_changed_in_the_cloud_is_fetched_again() {
    let mut lan = lan("rekey");
    drop(lan.synced());
    // Device 0 is bound again: the cloud and the unit now have a new key.
    let mut cloud = lan.cloud.devices();
    cloud[0]["totp_key"] = "NEWKEYNEWKEY2345".into();
    lan.cloud.set_devices(cloud);
    let sn = lan.devices[0].sn().to_string();
    let rebound = MockThermostat::builder()
        .sn(&sn)
        .locked("NEWKEYNEWKEY2345", Scheme::default())
        .start()
        .unwrap();
    let host = rebound.host();
    lan.devices[0] = rebound;
    let mut site = lan.site();
    site.set_address(&sn, &host).unwrap();
    lan.cloud.reset_stats();
    site.control(&sn, &[Control::Brightness(5)]).unwrap();
    assert_eq!(lan.devices[0].parameter(23).as_deref(), Some("5"));
    // The saved token was enough: one list, no login.
    let paths: Vec<String> = lan
        .cloud
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(paths.iter().all(|p| !p.contains("login")), "{paths:?}");
    assert!(!paths.is_empty());
    let saved = Site::open(lan.path()).unwrap();
    assert_eq!(
        saved.get(&sn).unwrap().key().unwrap().as_str(),
        "NEWKEYNEWKEY2345"
    );

    // With the token gone, only a password logs in again.
    lan.cloud.revoke_tokens();
    let mut cloud = lan.cloud.devices();
    cloud[0]["totp_key"] = "THIRDKEYTHIRDKEY".into();
    lan.cloud.set_devices(cloud);
    let again = MockThermostat::builder()
        .sn(&sn)
        .locked("THIRDKEYTHIRDKEY", Scheme::default())
        .start()
        .unwrap();
    let mut site = lan.site();
    site.set_address(&sn, &again.host()).unwrap();
    let e = site.control(&sn, &[Control::Brightness(4)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Blocked, "{e}");
    assert!(e.message().contains("no password"), "{e}");
    let mut site = lan.site().password(DEMO_PASSWORD.into());
    site.control(&sn, &[Control::Brightness(4)]).unwrap();
    assert_eq!(again.parameter(23).as_deref(), Some("4"));
}

#[test]
fn a_device_that_moved_is_found_by_its_announcement() {
    let lan = lan("moved");
    let mut site = lan.synced();
    let sn = lan.devices[2].sn();
    // The saved address is now someone else's (nobody answers there).
    let port = lan.devices[2]
        .host()
        .rsplit_once(':')
        .unwrap()
        .1
        .to_string();
    site.set_address(sn, &format!("127.0.0.9:{port}")).unwrap();
    let state = site.state(sn).unwrap();
    assert!(state.setpoint_c.is_some());
    let saved = Site::open(lan.path()).unwrap();
    assert_eq!(
        saved.get(sn).unwrap().address.as_deref(),
        Some(lan.devices[2].host().as_str())
    );
}

#[test]
fn failures_in_a_row_name_a_wedged_unit_and_a_success_resets_them() {
    let lan = lan("wedged");
    let mut site = lan.synced();
    let device = &lan.devices[1];
    // Silent for three calls (silence is not retried), then well again.
    device.inject(On::Any, DeviceFault::NoAnswer, 3);
    for n in 1..=3 {
        let e = site.state("kitchen").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
        assert_eq!(
            e.message().contains("looks wedged"),
            n == 3,
            "call {n}: {e}"
        );
    }
    assert_eq!(
        Site::open(lan.path())
            .unwrap()
            .get("kitchen")
            .unwrap()
            .health
            .failures,
        3
    );
    site.state("kitchen").unwrap();
    assert_eq!(
        Site::open(lan.path())
            .unwrap()
            .get("kitchen")
            .unwrap()
            .health
            .failures,
        0
    );
}

#[test]
fn a_bad_site_file_is_a_clear_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("hmx-site-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = {
        let lan = lan("bad");
        drop(lan.synced());
        std::fs::read(lan.path()).unwrap()
    };
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "corrupt",
            b"{\"hmx_site\": 1, \"devices\": [".to_vec(),
            "not a readable site file",
        ),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "not a readable site file",
        ),
        (
            "foreign",
            b"{\"devices\": []}".to_vec(),
            "not an hmx site file",
        ),
        (
            "newer",
            b"{\"hmx_site\": 2, \"devices\": []}".to_vec(),
            "newer hmx",
        ),
        ("empty", Vec::new(), "not a readable site file"),
    ];
    for (name, bytes, says) in cases {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, &bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = Site::open(&path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Storage, "{name}: {e}");
        assert!(e.message().contains(says), "{name}: {e}");
        assert!(
            e.message().contains(&path.display().to_string()),
            "{name}: {e}"
        );
        // Left as it was.
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
    let open = dir.join("open.json");
    std::fs::write(&open, &good).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Site::open(&open).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(
        e.message().contains("readable or writable by others"),
        "{e}"
    );
    assert!(!e.message().contains("totp"), "{e}");
    // No file yet is an empty site, not an error.
    assert!(
        Site::open(dir.join("none.json"))
            .unwrap()
            .devices()
            .is_empty()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The writer half of the two-process test: saves the site over and over.
#[test]
fn site_writer_child() {
    let Ok(path) = std::env::var("HMX_TEST_SITE_WRITER") else {
        return;
    };
    for i in 0..300 {
        let mut site = Site::open(&path).unwrap();
        site.set_scheme(
            "kitchen",
            if i % 2 == 0 {
                Scheme::RAW_UNIX
            } else {
                Scheme::RAW_2000
            },
        )
        .unwrap();
    }
}

#[test]
fn a_site_written_by_another_process_is_never_seen_half_written() {
    let lan = lan("two");
    drop(lan.synced());
    let mut writer = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["site_writer_child", "--exact", "--nocapture"])
        .env("HMX_TEST_SITE_WRITER", lan.path())
        .spawn()
        .unwrap();
    let mut reads = 0;
    loop {
        let done = writer.try_wait().unwrap();
        let site = Site::open(lan.path()).unwrap_or_else(|e| panic!("read {reads}: {e}"));
        assert_eq!(site.devices().len(), 3);
        reads += 1;
        if let Some(status) = done {
            assert!(status.success());
            break;
        }
    }
    assert!(reads > 10, "{reads}");
    eprintln!("{reads} reads while another process wrote 300 times");
}

#[test]
fn many_devices_at_once_each_with_its_own_result() {
    let lan = lan("many");
    let mut site = lan.synced();
    lan.devices[1].inject(On::Any, DeviceFault::NoAnswer, 1);
    let started = std::time::Instant::now();
    let sns: Vec<&str> = lan.devices.iter().map(|d| d.sn()).collect();
    let mut queries = sns.clone();
    queries.push("nowhere");
    let results = site
        .call_many(&queries, |t| t.control(&[Control::Brightness(7)]))
        .unwrap();
    assert_eq!(results.len(), 4);
    for (i, outcome) in results.iter().enumerate() {
        match i {
            1 => assert_eq!(
                outcome.result.as_ref().unwrap_err().kind(),
                ErrorKind::Timeout
            ),
            3 => {
                assert_eq!(outcome.device, "nowhere");
                assert_eq!(
                    outcome.result.as_ref().unwrap_err().kind(),
                    ErrorKind::NotFound
                );
            }
            _ => {
                assert_eq!(outcome.device, sns[i]);
                assert!(outcome.result.is_ok(), "{outcome:?}");
                assert_eq!(lan.devices[i].parameter(23).as_deref(), Some("7"));
            }
        }
    }
    // In parallel: far less than three signed writes (clock read + write) one after another.
    eprintln!(
        "3 signed writes at once (one silent): {:?}",
        started.elapsed()
    );
}

/// The site on a LAN of network namespaces (tests/common/netns.rs): stand-in
/// thermostats on 192.0.2.0/24 announcing with real subnet broadcasts and
/// answering on port 80, the site and the stand-in cloud in the host namespace.
mod on_a_lan {
    use super::*;
    use crate::common::netns::{ANNOUNCE_PORT, DeviceSpec, Lan};
    use hmx::local::SweepOptions;

    /// Runs the whole scenario inside the host namespace, where the site lives.
    #[test]
    fn sync_moves_new_keys_wedged_units_and_a_sweep() {
        let Some(mut lan) = Lan::new() else {
            return;
        };
        let cloud_devices = demo_devices(3);
        let segment = lan.segment("192.0.2.1/24");
        let spec = |d: &Value, key: &str| {
            DeviceSpec::new(d["sn"].as_str().unwrap(), "sx").args(&["--locked", key])
        };
        let ids: Vec<_> = cloud_devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                lan.device(
                    segment,
                    &format!("192.0.2.{}/24", 10 + i),
                    spec(d, &key_of(d)),
                )
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("hmx-site-netns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("site.json");
        // Not dropped on a panic (that would wait for its accept loop, which
        // only a connection from inside the host namespace wakes): see the end.
        let cloud = std::mem::ManuallyDrop::new(lan.in_host(|| {
            MockCloud::builder()
                .devices(cloud_devices.clone())
                .start()
                .unwrap()
        }));
        let site = |password: bool| {
            let site = Site::open(&path)
                .unwrap()
                .cloud(cloud.client())
                .discovery(ANNOUNCE_PORT, Duration::from_millis(1500))
                .timeout(Duration::from_millis(800), Duration::from_millis(200));
            if password {
                site.password(DEMO_PASSWORD.into())
            } else {
                site
            }
        };

        // Sync: every device joined with its key, at its real address (port 80).
        let report = lan.in_host(|| site(true).sync(Some(DEMO_EMAIL)).unwrap());
        assert_eq!(report.joined.len(), 3, "{report:?}");
        let synced = Site::open(&path).unwrap();
        for (i, d) in synced.devices().iter().enumerate() {
            assert_eq!(
                d.address.as_deref(),
                Some(format!("192.0.2.{}", 10 + i).as_str())
            );
            assert_eq!(d.key().unwrap().as_str(), key_of(&cloud_devices[i]));
            assert_eq!(d.hw.as_deref(), Some("sx"));
        }
        cloud.reset_stats();
        lan.in_host(|| site(false).state("living").unwrap());
        assert_eq!(
            cloud.stats().requests,
            0,
            "a saved site reads without the cloud"
        );

        // Moved: reached by name with one rediscovery, the site updated.
        lan.move_device(ids[2], "192.0.2.30/24");
        let state = lan.in_host(|| site(false).state("bathroom"));
        assert!(state.is_ok(), "{state:?}");
        let moved = Site::open(&path).unwrap();
        assert_eq!(
            moved.get("bathroom").unwrap().address.as_deref(),
            Some("192.0.2.30")
        );

        // Key changed: the unit bound again, the write signed with the key fetched again.
        let mut changed = cloud.devices();
        changed[0]["totp_key"] = "REBOUNDKEY234567".into();
        cloud.set_devices(changed.clone());
        lan.restart_device(ids[0], spec(&changed[0], "REBOUNDKEY234567"));
        let written = lan.in_host(|| site(false).control("living", &[Control::Brightness(3)]));
        assert!(written.is_ok(), "{written:?}");
        assert_eq!(
            Site::open(&path)
                .unwrap()
                .get("living")
                .unwrap()
                .key()
                .unwrap()
                .as_str(),
            "REBOUNDKEY234567"
        );

        // Wedged: silent three times in a row (not heard either), then named so.
        lan.silence(ids[1]);
        for n in 1..=3 {
            let e = lan.in_host(|| site(false).state("kitchen")).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Network),
                "{e}"
            );
            assert_eq!(
                e.message().contains("looks wedged"),
                n == 3,
                "call {n}: {e}"
            );
        }
        // Back: once the host's neighbour entry for it has recovered (a few
        // seconds after a link comes up), one success resets the count.
        lan.wake(ids[1]);
        let back = std::time::Instant::now();
        while let Err(e) = lan.in_host(|| site(false).state("kitchen")) {
            assert!(back.elapsed() < Duration::from_secs(30), "not back: {e}");
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_eq!(
            Site::open(&path)
                .unwrap()
                .get("kitchen")
                .unwrap()
                .health
                .failures,
            0
        );

        // A sweep of the test subnet finds every device without listening.
        let swept_path = dir.join("swept.json");
        let report = lan.in_host(|| {
            Site::open(&swept_path)
                .unwrap()
                .cloud(cloud.client())
                .password(DEMO_PASSWORD.into())
                .sync_sweep(
                    Some(DEMO_EMAIL),
                    &["192.0.2.0/24"],
                    &SweepOptions::default()
                        .timeout(Duration::from_millis(500))
                        .concurrency(128),
                )
                .unwrap()
        });
        assert_eq!(report.joined.len(), 3, "{report:?}");
        let swept = Site::open(&swept_path).unwrap();
        let mut addresses: Vec<_> = swept
            .devices()
            .iter()
            .filter_map(|d| d.address.clone())
            .collect();
        addresses.sort();
        assert_eq!(addresses, ["192.0.2.10", "192.0.2.11", "192.0.2.30"]);
        // The command does the same with --sweep, from the host namespace.
        #[cfg(feature = "cli")]
        {
            let cli_path = dir.join("cli.json");
            let out = lan
                .host_command(env!("CARGO_BIN_EXE_hmx"))
                .args([
                    "sync",
                    "--email",
                    DEMO_EMAIL,
                    "--base-url",
                    cloud.base_url(),
                ])
                .arg("--ca-file")
                .arg(cloud.ca_file())
                .args(["--sweep", "192.0.2.0/24", "--json", "--site"])
                .arg(&cli_path)
                .env("HMX_PASSWORD", DEMO_PASSWORD)
                .output()
                .unwrap();
            crate::common::procs::assert_exit(&out, 0);
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["joined"].as_array().unwrap().len(), 3, "{report}");
            let out = lan
                .host_command(env!("CARGO_BIN_EXE_hmx"))
                .args(["discover", "--sweep", "192.0.2.0/28,192.0.2.30", "--json"])
                .output()
                .unwrap();
            crate::common::procs::assert_exit(&out, 0);
            let found: Value = serde_json::from_slice(&out.stdout).unwrap();
            let mut ips: Vec<&str> = found
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["ip"].as_str().unwrap())
                .collect();
            ips.sort();
            assert_eq!(ips, ["192.0.2.10", "192.0.2.11", "192.0.2.30"]);
        }

        // Stopped where it listens: its accept loop is woken by a connection
        // from inside the host namespace.
        let cloud = std::mem::ManuallyDrop::into_inner(cloud);
        lan.in_host(move || drop(cloud));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
