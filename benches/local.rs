//! What talking to a thermostat costs: a read, and a signed write (clock read + write), against the stand-in.
//!
//!     cargo bench --features test-util --bench local    # the figures in the README
//!
//! `cargo test` runs this too, in a short mode, only to check that it runs.
//! The stand-in runs in the same process on 127.0.0.1 with no service time
//! of its own, so the figures are hmx's cost plus loopback HTTP (one TCP
//! connection per request: hmx asks the device to close after each answer).

use std::time::{Duration, Instant};

use hmx::TotpKey;
use hmx::local::Thermostat;
use hmx::testing::{DEMO_KEY, MockThermostat};
use hmx::totp::Scheme;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Times `iterations` runs of `f`: (median, p99).
fn time(iterations: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (iterations, paced) = if full { (500, 5) } else { (5, 1) };
    println!(
        "hmx local benchmark ({} mode); stand-in thermostat on 127.0.0.1, LAN locking on",
        if full { "full" } else { "short" }
    );
    let device = MockThermostat::builder()
        .locked(DEMO_KEY, Scheme::default())
        .service_time(Duration::ZERO)
        .start()
        .unwrap();
    let key = || TotpKey::new(DEMO_KEY.to_string());
    let unpaced = device.client().key(key()).min_interval(Duration::ZERO);
    // Warm-up: reads the parameter list the writes take their type codes from.
    unpaced.set(&[(23, 5)]).unwrap();
    device.reset_stats();

    println!();
    println!("| operation | min interval | median | p99 | requests each |");
    println!("|---|---:|---:|---:|---:|");
    let (median, p99) = time(iterations, || {
        unpaced.telemetry().unwrap();
    });
    println!("| read (cmd 4) | 0 | {} | {} | 1 |", ms(median), ms(p99));
    let before = device.stats();
    let (median, p99) = time(iterations, || {
        unpaced.set(&[(23, 5)]).unwrap();
    });
    let after = device.stats();
    let per_write = (after.requests - before.requests) as f64 / iterations as f64;
    println!(
        "| signed write (cmd 3 + write) | 0 | {} | {} | {per_write:.0} |",
        ms(median),
        ms(p99)
    );
    assert_eq!(after.writes_blocked, 0, "a signed write was refused");

    // With the default pacing the interval between the clock read and the write dominates.
    let default = Thermostat::new(&device.host(), device.sn())
        .unwrap()
        .key(key());
    default.set(&[(23, 5)]).unwrap();
    let (median, p99) = time(paced, || {
        default.set(&[(23, 5)]).unwrap();
    });
    println!(
        "| signed writes back to back | 1 s (default) | {} | {} | 2 |",
        ms(median),
        ms(p99)
    );
    // One write on a quiet device: the clock read goes at once, the write one interval later.
    let mut quiet: Vec<Duration> = (0..paced)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(1100));
            let start = Instant::now();
            default.set(&[(23, 5)]).unwrap();
            start.elapsed()
        })
        .collect();
    quiet.sort();
    println!(
        "| one signed write on a quiet device | 1 s (default) | {} | {} | 2 |",
        ms(percentile(&quiet, 0.5)),
        ms(percentile(&quiet, 0.99))
    );
    let stats = device.stats();
    assert_eq!(stats.max_concurrent, 1);
    assert_eq!(stats.clock_sets, 0);
}
