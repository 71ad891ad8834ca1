//! `hmx demo`: the whole chain against stand-ins, from the cloud account to a signed write.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use hmx::local::{Listener, Thermostat};
use hmx::testing::{Announcer, MockCloud, MockThermostat, announcement, demo_devices};
use hmx::totp::Scheme;
use serde_json::json;

use crate::Failure;

/// The stand-ins' pause between requests: shorter than a real device's 1 s, so the demo is quick.
const INTERVAL: Duration = Duration::from_millis(250);

fn started<T>(what: &str, result: std::io::Result<T>) -> Result<T, Failure> {
    result.map_err(|e| Failure {
        code: 4,
        message: Some(format!("cannot start {what}: {e}")),
    })
}

fn step(n: u32, text: &str) {
    println!("\n{n}. {text}");
}

pub fn run() -> Result<(), Failure> {
    let fail = |e: hmx::Error| Failure::hmx(&e, None);
    // Three thermostats, the first with LAN locking on; the cloud lists them with their keys.
    let mut cloud_devices = demo_devices(3);
    let mut thermostats = Vec::new();
    for (i, device) in cloud_devices.iter_mut().enumerate() {
        let sn = format!("0580160005434648393735200001{i:02}");
        device["sn"] = json!(sn);
        let mut builder = MockThermostat::builder().sn(sn.clone());
        if i == 0 {
            let key = device["totp_key"].as_str().unwrap_or_default().to_string();
            builder = builder.locked(key, Scheme::default());
        }
        thermostats.push(started("a stand-in thermostat", builder.start())?);
    }
    let cloud = started(
        "the stand-in cloud",
        MockCloud::builder().devices(cloud_devices).start(),
    )?;
    println!(
        "hmx demo: a stand-in cloud and three stand-in thermostats on this machine; no network."
    );

    step(1, &format!("Log in to the cloud at {}", cloud.base_url()));
    let client = cloud.client();
    let token = client
        .login(hmx::testing::DEMO_EMAIL, hmx::testing::DEMO_PASSWORD)
        .map_err(fail)?;
    println!("   logged in as {}", hmx::testing::DEMO_EMAIL);

    step(2, "List the devices and their TOTP keys (every page)");
    let devices = client.list_devices(&token).map_err(fail)?;
    for d in &devices {
        let key = d.totp_key.as_ref().map_or("-", |k| k.as_str());
        println!("   {}  {:<16}  {key}", d.sn, d.name);
    }

    step(3, "Discover the thermostats by their UDP announcements");
    let listener = Listener::bind(0).map_err(fail)?;
    let target = SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), listener.port());
    let mut announcers = Vec::new();
    for (i, t) in thermostats.iter().enumerate() {
        let source = Ipv4Addr::new(127, 0, 0, 2 + i as u8);
        let packet = announcement(t.sn(), "sx").to_string();
        let announcer = Announcer::start(packet, source, target, Duration::from_millis(200));
        announcers.push(started("an announcer", announcer)?);
    }
    let found = listener
        .collect(Duration::from_millis(1500))
        .map_err(fail)?;
    for f in &found {
        println!(
            "   {} announced from {} ({})",
            f.sn,
            f.ip,
            f.hw.as_deref().unwrap_or("?")
        );
    }
    println!(
        "   (a real device answers on port 80 of the address it announces from; the stand-ins \
         listen on 127.0.0.1 at ports of their own, which the demo looks up by serial)"
    );
    drop(announcers);

    let client_for = |t: &MockThermostat| -> Result<Thermostat, Failure> {
        let th = Thermostat::new(&t.host(), t.sn()).map_err(fail)?;
        Ok(th.min_interval(INTERVAL))
    };

    step(4, "Read each thermostat's telemetry");
    for t in &thermostats {
        let telemetry = client_for(t)?.telemetry().map_err(fail)?;
        let temp = |k: &str| {
            telemetry
                .get(k)
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse::<f64>().ok())
                .map_or("-".to_string(), |v| format!("{:.1} °C", v / 16.0))
        };
        let lock = match telemetry.get("m.3").and_then(|v| v.as_str()) {
            Some("2") | Some("3") => "LAN locking on",
            _ => "unlocked",
        };
        println!(
            "   {}: floor {}, air {}, {lock}",
            t.sn(),
            temp("t.1"),
            temp("t.2")
        );
    }

    let Some(locked) = thermostats.first() else {
        return Err(Failure {
            code: 5,
            message: Some("the demo started no thermostat".into()),
        });
    };
    let device = hmx::find_device(&devices, locked.sn()).ok_or_else(|| Failure {
        code: 6,
        message: Some("the cloud does not list the locked thermostat".into()),
    })?;
    let key = device.totp_key.clone().ok_or_else(|| Failure {
        code: 6,
        message: Some("the cloud has no key for the locked thermostat".into()),
    })?;
    let before = client_for(locked)?.parameters().map_err(fail)?;
    let old = hmx::local::find(&before, 23).map_or("?".to_string(), |p| p.value.clone());
    let new = if old == "7" { "3" } else { "7" };

    step(
        5,
        &format!(
            "Write brightness (parameter 23) = {new} to the locked {}",
            locked.sn()
        ),
    );
    match client_for(locked)?.set(&[(23, new)]) {
        Err(e) if e.kind() == hmx::ErrorKind::Blocked => {
            println!("   without the key: refused, as it should be ({e})")
        }
        other => {
            return Err(Failure {
                code: 5,
                message: Some(format!("an unsigned write was not refused: {other:?}")),
            });
        }
    }
    client_for(locked)?
        .key(key)
        .set(&[(23, new)])
        .map_err(fail)?;
    println!("   with the cloud's key, signed with the device's own clock: accepted");
    let after = client_for(locked)?.parameters().map_err(fail)?;
    let now = hmx::local::find(&after, 23).map_or("?".to_string(), |p| p.value.clone());
    println!("   read back: parameter 23 was {old}, is now {now}");
    if now != new {
        return Err(Failure {
            code: 5,
            message: Some("the write did not take".into()),
        });
    }
    println!("\nDone: cloud account -> keys -> discovery -> telemetry -> a signed write.");
    Ok(())
}
