//! An account on loopback for the site tests: the stand-in cloud with three devices and three stand-in thermostats announcing themselves.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use hmx::local::Listener;
use hmx::testing::{Announcer, MockCloud, MockThermostat, announcement, demo_devices};
use hmx::totp::Scheme;
use serde_json::Value;

/// The stand-in cloud with three devices ("Living room", "Kitchen",
/// "Bathroom floor"), three stand-in thermostats with those serials, locked
/// with the cloud's keys, each announcing itself from 127.0.0.1 every 50 ms
/// to a free UDP port, and a folder for the site (removed on drop).
pub struct Lan {
    pub cloud: MockCloud,
    pub devices: Vec<MockThermostat>,
    _announcers: Vec<Announcer>,
    /// Where the announcements go.
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Lan {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A device's key, as the cloud lists it.
pub fn key_of(device: &Value) -> String {
    device["totp_key"].as_str().unwrap().to_string()
}

/// Starts the account; `name` keeps each test's folder its own.
pub fn lan(name: &str) -> Lan {
    let cloud_devices = demo_devices(3);
    let cloud = MockCloud::builder()
        .devices(cloud_devices.clone())
        .start()
        .unwrap();
    let port = Listener::bind(0).unwrap().port();
    let target = SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), port);
    let mut devices = Vec::new();
    let mut announcers = Vec::new();
    for d in &cloud_devices {
        let sn = d["sn"].as_str().unwrap();
        devices.push(
            MockThermostat::builder()
                .sn(sn)
                .locked(key_of(d), Scheme::default())
                .start()
                .unwrap(),
        );
        let packet = announcement(sn, "sx").to_string();
        let every = Duration::from_millis(50);
        announcers.push(Announcer::start(packet, Ipv4Addr::LOCALHOST, target, every).unwrap());
    }
    let dir = std::env::temp_dir().join(format!("hmx-site-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Lan {
        cloud,
        devices,
        _announcers: announcers,
        port,
        dir,
    }
}

impl Lan {
    /// Where the site file goes: `hmx/site.json` in the test's folder.
    pub fn path(&self) -> PathBuf {
        self.dir.join("hmx").join("site.json")
    }
}
