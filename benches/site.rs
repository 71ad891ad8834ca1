//! What a write to every device of a site costs next to a write to one: 50 stand-in thermostats, each a signed write.
//!
//!     cargo bench --features test-util --bench site    # the figures in the README
//!
//! `cargo test` runs this too, in a short mode, only to check that it runs.
//! Every device is a stand-in in this process on its own 127.0.0.1 port,
//! LAN-locked with its own key from the stand-in cloud, paced as real units
//! are (1 s between requests to one device). A call through the site makes
//! a fresh `Thermostat`, so each write is three requests: the parameter
//! list (for the type code), the clock, the signed write.

use std::time::{Duration, Instant};

use hmx::Site;
use hmx::local::{Control, Listener};
use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, MockCloud, MockThermostat, demo_devices};
use hmx::totp::Scheme;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (devices, rounds, interval) = if full {
        (50, 5, Duration::from_secs(1))
    } else {
        (8, 1, Duration::from_millis(20))
    };
    println!(
        "hmx site benchmark ({} mode): {devices} stand-in devices, LAN locking on, {} ms between requests to a device",
        if full { "full" } else { "short" },
        interval.as_millis()
    );
    let cloud_devices = demo_devices(devices);
    let cloud = MockCloud::builder()
        .devices(cloud_devices.clone())
        .page_size(100)
        .start()
        .unwrap();
    let units: Vec<MockThermostat> = cloud_devices
        .iter()
        .map(|d| {
            MockThermostat::builder()
                .sn(d["sn"].as_str().unwrap())
                .locked(d["totp_key"].as_str().unwrap(), Scheme::default())
                .service_time(Duration::ZERO)
                .start()
                .unwrap()
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("hmx-bench-site-{}", std::process::id()));
    let path = dir.join("site.json");
    // Nobody announces on this port: the sync takes the keys and hears nothing.
    let port = Listener::bind(0).unwrap().port();
    let mut site = Site::open(&path)
        .unwrap()
        .cloud(cloud.client())
        .password(DEMO_PASSWORD.into())
        .discovery(port, Duration::from_millis(100))
        .timeout(Duration::from_secs(5), interval);
    let report = site.sync(Some(DEMO_EMAIL)).unwrap();
    assert_eq!(report.cloud_only.len(), devices);
    for u in &units {
        site.set_address(u.sn(), &u.host()).unwrap();
    }
    let sns: Vec<&str> = units.iter().map(|u| u.sn()).collect();

    let mut one = Vec::new();
    let mut all = Vec::new();
    for round in 0..rounds {
        let level = (round % 9) as u8;
        let start = Instant::now();
        site.control(sns[0], &[Control::Brightness(level)]).unwrap();
        one.push(start.elapsed());
        // The gate of each device also waits out the interval after the last
        // round, for the one device as for all: start both from rest.
        std::thread::sleep(interval);

        let start = Instant::now();
        let results = site
            .call_many(&sns, |t| t.control(&[Control::Brightness(level)]))
            .unwrap();
        all.push(start.elapsed());
        assert!(results.iter().all(|r| r.result.is_ok()), "{results:?}");
        std::thread::sleep(interval);
    }
    for u in &units {
        assert_eq!(
            u.stats().writes_applied,
            rounds * if u.sn() == sns[0] { 2 } else { 1 }
        );
    }
    let (one, all) = (median(one), median(all));
    println!();
    println!("| write | devices | median | requests each |");
    println!("|---|---:|---:|---:|");
    println!(
        "| one device by name (`Site::control`) | 1 | {} | 3 |",
        secs(one)
    );
    println!(
        "| every device at once (`Site::call_many`) | {devices} | {} | 3 |",
        secs(all)
    );
    println!();
    println!(
        "all / one: {:.2} (target under 1.5); {rounds} round(s), median of each",
        all.as_secs_f64() / one.as_secs_f64()
    );
    drop(site);
    let _ = std::fs::remove_dir_all(&dir);
}
