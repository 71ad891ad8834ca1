//! Runs the stand-in thermostat as a process, for C, Python and shell users.
//!
//!     mock_thermostat [--fixture FILE] [--locked KEY] [--scheme NAME] [--busy N]
//!                     [--announce PORT] [--fault NAME]
//!
//! Prints `HMX_DEVICE_HOST=127.0.0.1:<port>` and `HMX_DEVICE_SN=<serial>`,
//! then serves `POST /api.cgi` until stdin closes, and then prints
//! `HMX_DEVICE_REQUESTS=<n>` and `HMX_DEVICE_MIN_GAP_MS=<ms>` (the shortest
//! quiet time between two requests; -1 before two). `--fixture FILE` answers
//! as the unit in that fixture (docs/FIXTURES.md; its serial, answers, write
//! answer form, and its announcement with `--announce`). `--locked KEY` turns
//! LAN locking on with that key, checked with the token scheme `--scheme NAME`
//! gives (`raw-2000`, the default, `raw-unix`, `base32-2000`, `base32-unix`);
//! `--busy N` answers
//! the next N telemetry reads `{"status":"timeout"}`; `--announce PORT` sends
//! the discovery packet from 127.0.0.2 to 127.255.255.255:PORT (loopback
//! only) every 200 ms; `--fault NAME` frames every answer as small stacks do:
//! `trailing-nul`, `padded`, `no-content-length`, `lf-chunked` (accepted by
//! hmx), `trailing-garbage`, `no-status-line` (refused, quoting them).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::time::Duration;

use hmx::testing::{Announcer, DeviceFault, Fixture, MockThermostat, On, announcement};
use hmx::totp::Scheme;

fn main() -> ExitCode {
    let (mut busy, mut announce, mut fault) = (0, None, None);
    let (mut fixture, mut key, mut scheme) = (None, None, Scheme::default());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let parsed = match (arg.as_str(), value) {
            ("--fixture", Some(path)) => match Fixture::load(&path) {
                Ok(f) => {
                    fixture = Some(f);
                    Ok(())
                }
                Err(e) => {
                    eprintln!("mock_thermostat: {path}: {e}");
                    Err("bad --fixture")
                }
            },
            ("--locked", Some(k)) => {
                key = Some(k);
                Ok(())
            }
            ("--scheme", Some(name)) => name
                .parse()
                .map(|s| scheme = s)
                .map_err(|_| "bad --scheme (raw-2000, raw-unix, base32-2000, base32-unix)"),
            ("--busy", Some(n)) => n.parse().map(|n| busy = n).map_err(|_| "bad --busy"),
            ("--announce", Some(p)) => p
                .parse::<u16>()
                .map(|p| announce = Some(p))
                .map_err(|_| "bad --announce"),
            ("--fault", Some(name)) => framing(&name).map(|f| fault = Some(f)).ok_or("bad --fault"),
            _ => Err(
                "usage: mock_thermostat [--fixture FILE] [--locked KEY] [--scheme NAME] [--busy N] [--announce PORT] [--fault NAME]",
            ),
        };
        if let Err(why) = parsed {
            eprintln!("mock_thermostat: {why}");
            return ExitCode::from(2);
        }
    }
    let mut builder = MockThermostat::builder();
    if let Some(f) = &fixture {
        builder = builder.fixture(f);
    }
    if let Some(key) = key {
        builder = builder.locked(key, scheme);
    }
    let device = match builder.start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mock_thermostat: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    if busy > 0 {
        device.inject(On::Cmd(4), DeviceFault::Busy, busy);
    }
    if let Some(fault) = fault {
        device.inject(On::Any, fault, usize::MAX);
    }
    let _announcer = match announce {
        Some(port) => {
            let packet = match fixture.as_ref().and_then(|f| f.announcement.clone()) {
                Some(text) => text,
                None => announcement(device.sn(), "sx").to_string(),
            };
            let target = SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), port);
            let every = Duration::from_millis(200);
            match Announcer::start(packet, Ipv4Addr::new(127, 0, 0, 2), target, every) {
                Ok(a) => Some(a),
                Err(e) => {
                    eprintln!("mock_thermostat: cannot announce: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        None => None,
    };
    println!("HMX_DEVICE_HOST={}", device.host());
    println!("HMX_DEVICE_SN={}", device.sn());
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let stats = device.stats();
    let gap = stats.min_gap.map_or(-1, |g| g.as_millis() as i64);
    println!("HMX_DEVICE_REQUESTS={}", stats.requests);
    println!("HMX_DEVICE_MIN_GAP_MS={gap}");
    ExitCode::SUCCESS
}

fn framing(name: &str) -> Option<DeviceFault> {
    Some(match name {
        "trailing-nul" => DeviceFault::TrailingNul,
        "padded" => DeviceFault::Padded,
        "no-content-length" => DeviceFault::NoContentLength,
        "lf-chunked" => DeviceFault::LfChunked,
        "trailing-garbage" => DeviceFault::TrailingGarbage,
        "no-status-line" => DeviceFault::NoStatusLine,
        _ => return None,
    })
}
