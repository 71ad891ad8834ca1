//! Runs the stand-in thermostat as a process, for C, Python and shell users.
//!
//!     mock_thermostat [--fixture FILE] [--sn SN] [--hw NAME] [--locked KEY] [--scheme NAME]
//!                     [--busy N] [--fault NAME] [--listen ADDR:PORT]
//!                     [--announce PORT | --announce-to ADDR:PORT] [--every MS]
//!
//! Prints `HMX_DEVICE_HOST=<address>:<port>` and `HMX_DEVICE_SN=<serial>`,
//! then serves `POST /api.cgi` until stdin closes, and then prints
//! `HMX_DEVICE_REQUESTS=<n>` and `HMX_DEVICE_MIN_GAP_MS=<ms>` (the shortest
//! quiet time between two requests; -1 before two).
//!
//! - `--fixture FILE` answers as the unit in that fixture (docs/FIXTURES.md;
//!   its serial, answers, write answer form, and its announcement).
//! - `--sn SN` gives the demo unit another serial (several stand-ins on one
//!   LAN); `--hw NAME` the `hw` its announcement names (default `sx`).
//! - `--locked KEY` turns LAN locking on with that key, checked with the token
//!   scheme `--scheme NAME` gives (`raw-2000`, the default, `raw-unix`,
//!   `base32-2000`, `base32-unix`).
//! - `--busy N` answers the next N telemetry reads `{"status":"timeout"}`.
//! - `--fault NAME` frames every answer as small stacks do: `trailing-nul`,
//!   `padded`, `no-content-length`, `lf-chunked` (accepted by hmx),
//!   `trailing-garbage`, `no-status-line` (refused, quoting them).
//! - `--listen ADDR:PORT` serves on that address (default 127.0.0.1 on a
//!   free port), such as `192.0.2.10:80` inside a network namespace of
//!   `tests/lan.rs`: connections there are passed through to the stand-in.
//! - `--announce PORT` sends the discovery packet to the loopback broadcast
//!   127.255.255.255:PORT every 200 ms, from the address it serves on
//!   (127.0.0.1, or the `--listen` address), as a unit announces its own.
//!   A port other than 80 is not in the packet: give it to a site once with
//!   `hmx site set NAME address=127.0.0.1:PORT` (syncs keep it).
//! - `--announce-to ADDR:PORT` sends it to that address instead, from the
//!   `--listen` address (127.0.0.1 without `--listen`), every 30 s as real
//!   units do: a subnet broadcast such as `192.0.2.255:23500` from
//!   `--listen 192.0.2.10:80`. Only loopback or one documentation subnet
//!   (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) is accepted, so no
//!   packet reaches a real network.
//! - `--every MS` sets the announcement period.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use hmx::testing::{Announcer, DeviceFault, Fixture, MockThermostat, On, announcement};
use hmx::totp::Scheme;

const USAGE: &str = "usage: mock_thermostat [--fixture FILE] [--sn SN] [--hw NAME] [--locked KEY] \
    [--scheme NAME] [--busy N] [--fault NAME] [--listen ADDR:PORT] \
    [--announce PORT | --announce-to ADDR:PORT] [--every MS]";

/// Where and how often the announcement goes.
enum Announce {
    Loopback(u16),
    To(SocketAddrV4),
}

#[derive(Default)]
struct Options {
    fixture: Option<Fixture>,
    sn: Option<String>,
    hw: Option<String>,
    key: Option<String>,
    scheme: Scheme,
    busy: usize,
    fault: Option<DeviceFault>,
    listen: Option<SocketAddrV4>,
    announce: Option<Announce>,
    every: Option<Duration>,
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(why) => {
            eprintln!("mock_thermostat: {why}");
            return ExitCode::from(2);
        }
    };
    let mut builder = MockThermostat::builder();
    if let Some(f) = &o.fixture {
        builder = builder.fixture(f);
    }
    if let Some(sn) = &o.sn {
        builder = builder.sn(sn.clone());
    }
    if let Some(key) = &o.key {
        builder = builder.locked(key.clone(), o.scheme);
    }
    let device = match builder.start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mock_thermostat: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    if o.busy > 0 {
        device.inject(On::Cmd(4), DeviceFault::Busy, o.busy);
    }
    if let Some(fault) = o.fault {
        device.inject(On::Any, fault, usize::MAX);
    }
    let host = match o.listen {
        Some(addr) => match relay(addr, &device.host()) {
            Ok(bound) => bound.to_string(),
            Err(e) => {
                eprintln!("mock_thermostat: cannot listen on {addr}: {e}");
                return ExitCode::from(1);
            }
        },
        None => device.host(),
    };
    let _announcer = match &o.announce {
        Some(how) => {
            let packet = match o.fixture.as_ref().and_then(|f| f.announcement.clone()) {
                Some(text) => text,
                None => announcement(device.sn(), o.hw.as_deref().unwrap_or("sx")).to_string(),
            };
            let (source, target, every) = match how {
                // From where it serves, as a unit announces its own address.
                Announce::Loopback(port) => (
                    o.listen.map_or(Ipv4Addr::LOCALHOST, |l| *l.ip()),
                    SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), *port),
                    Duration::from_millis(200),
                ),
                Announce::To(target) => (
                    o.listen.map_or(Ipv4Addr::LOCALHOST, |l| *l.ip()),
                    *target,
                    Duration::from_secs(30),
                ),
            };
            match Announcer::start(packet, source, target, o.every.unwrap_or(every)) {
                Ok(a) => Some(a),
                Err(e) => {
                    eprintln!("mock_thermostat: cannot announce: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        None => None,
    };
    println!("HMX_DEVICE_HOST={host}");
    println!("HMX_DEVICE_SN={}", device.sn());
    let _ = io::stdout().flush();
    let _ = io::stdin().read_to_end(&mut Vec::new());
    let stats = device.stats();
    let gap = stats.min_gap.map_or(-1, |g| g.as_millis() as i64);
    println!("HMX_DEVICE_REQUESTS={}", stats.requests);
    println!("HMX_DEVICE_MIN_GAP_MS={gap}");
    ExitCode::SUCCESS
}

fn options() -> Result<Options, String> {
    let mut o = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let Some(value) = args.next() else {
            return Err(USAGE.to_string());
        };
        let bad = |what: &str| format!("bad {arg} {value:?}: {what}");
        match arg.as_str() {
            "--fixture" => {
                let f = Fixture::load(&value).map_err(|e| format!("{value}: {e}"))?;
                o.fixture = Some(f);
            }
            "--sn" => o.sn = Some(value),
            "--hw" => o.hw = Some(value),
            "--locked" => o.key = Some(value),
            "--scheme" => {
                o.scheme = value
                    .parse()
                    .map_err(|_| bad("raw-2000, raw-unix, base32-2000 or base32-unix"))?;
            }
            "--busy" => o.busy = value.parse().map_err(|_| bad("a count"))?,
            "--fault" => o.fault = Some(framing(&value).ok_or_else(|| bad("a fault name"))?),
            "--listen" => o.listen = Some(value.parse().map_err(|_| bad("IPv4 ADDR:PORT"))?),
            "--announce" => {
                let port = value.parse().map_err(|_| bad("a UDP port"))?;
                o.announce = Some(Announce::Loopback(port));
            }
            "--announce-to" => {
                let to = value.parse().map_err(|_| bad("IPv4 ADDR:PORT"))?;
                o.announce = Some(Announce::To(to));
            }
            "--every" => {
                let ms: u64 = value.parse().map_err(|_| bad("milliseconds"))?;
                o.every = Some(Duration::from_millis(ms.max(1)));
            }
            _ => return Err(USAGE.to_string()),
        }
    }
    if o.fixture.is_some() && (o.sn.is_some() || o.hw.is_some()) {
        // A fixture's answers carry its own serial byte for byte.
        return Err("--sn and --hw are for the demo unit; a --fixture has its own".into());
    }
    // A key the scheme cannot decode would lock the stand-in for good.
    let base32 = o.scheme.key == hmx::totp::KeyEncoding::Base32;
    if base32
        && o.key
            .as_ref()
            .is_some_and(|k| hmx::totp::base32_decode(k.as_bytes()).is_none())
    {
        return Err(format!(
            "--scheme {} needs a base32 key (A-Z, 2-7)",
            o.scheme.name()
        ));
    }
    if matches!(o.announce, Some(Announce::To(_)))
        && o.listen.is_some_and(|l| l.ip().is_unspecified())
    {
        return Err("--announce-to needs a --listen address to announce from, not 0.0.0.0".into());
    }
    Ok(o)
}

/// Listens on `addr` and passes every connection through to the stand-in at
/// `upstream` (127.0.0.1), both ways, until either side closes: the
/// stand-in itself serves only 127.0.0.1, and one connection in is one
/// connection to it, so its counts and its one-request-at-a-time rule hold.
fn relay(addr: SocketAddrV4, upstream: &str) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let upstream = upstream.to_string();
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            thread::spawn(move || {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    return;
                };
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    return;
                };
                let up = thread::spawn(move || pipe(client2, server2));
                pipe(server, client);
                let _ = up.join();
            });
        }
    });
    Ok(bound)
}

/// Copies `from` to `to` until `from` ends, then passes the end on: the
/// stand-in closing after its answer closes the client's side too.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
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
