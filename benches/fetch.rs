//! What a fetch and a token cost, and how that grows: one table.
//!
//!     cargo bench --features test-util            # the figures in the README
//!
//! `cargo test` runs this too, in a short mode (few iterations, no release
//! build), only to check that it runs. Timings include the in-process
//! stand-in's own work (TLS and JSON on the server side) on the same 2 cores.

use std::process::Command;
use std::time::{Duration, Instant};

use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, MockCloud, demo_devices};

/// Counts the heap use of the thread that asked for it (not the stand-in's threads).
#[cfg(not(feature = "zeroize-heap"))]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static ON: Cell<bool> = const { Cell::new(false) };
        static LIVE: Cell<usize> = const { Cell::new(0) };
        static PEAK: Cell<usize> = const { Cell::new(0) };
        static ALLOCS: Cell<usize> = const { Cell::new(0) };
    }

    fn grow(size: usize) {
        if ON.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
            let live = LIVE.with(|l| {
                l.set(l.get() + size);
                l.get()
            });
            PEAK.with(|p| p.set(p.get().max(live)));
        }
    }

    fn shrink(size: usize) {
        if ON.with(Cell::get) {
            LIVE.with(|l| l.set(l.get().saturating_sub(size)));
        }
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            grow(layout.size());
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            shrink(layout.size());
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            shrink(layout.size());
            grow(new_size);
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// (peak bytes, live bytes at the end, allocations) of `f` on this thread.
    pub fn measure<T>(f: impl FnOnce() -> T) -> (usize, usize, usize, T) {
        LIVE.with(|l| l.set(0));
        PEAK.with(|p| p.set(0));
        ALLOCS.with(|a| a.set(0));
        ON.with(|o| o.set(true));
        let out = f();
        ON.with(|o| o.set(false));
        (
            PEAK.with(Cell::get),
            LIVE.with(Cell::get),
            ALLOCS.with(Cell::get),
            out,
        )
    }
}

#[cfg(not(feature = "zeroize-heap"))]
#[global_allocator]
static COUNTING: counting::Counting = counting::Counting;

#[cfg(not(feature = "zeroize-heap"))]
fn measure<T>(f: impl FnOnce() -> T) -> Option<(usize, usize, usize, T)> {
    Some(counting::measure(f))
}

/// With `zeroize-heap` hmx installs its own global allocator: no counting then.
#[cfg(feature = "zeroize-heap")]
fn measure<T>(_f: impl FnOnce() -> T) -> Option<(usize, usize, usize, T)> {
    None
}

const PAGE_SIZE: usize = 100;

struct Row {
    devices: usize,
    reuse: bool,
    median: Duration,
    p99: Duration,
    requests: f64,
    connections: f64,
    handshakes: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn fetch_rows(devices: usize, iterations: usize) -> [Row; 2] {
    let cloud = MockCloud::builder()
        .devices(demo_devices(devices))
        .page_size(PAGE_SIZE)
        .start()
        .unwrap();
    [true, false].map(|reuse| {
        let shared = cloud.client();
        // One warm-up fetch, so that the reused client's connection exists.
        shared.fetch_devices(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
        cloud.reset_stats();
        let mut times = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let started = Instant::now();
            let got = if reuse {
                shared.fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
            } else {
                cloud.client().fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
            };
            times.push(started.elapsed());
            assert_eq!(got.unwrap().len(), devices);
        }
        times.sort();
        let s = cloud.stats();
        let per = |n: usize| n as f64 / iterations as f64;
        Row {
            devices,
            reuse,
            median: percentile(&times, 0.5),
            p99: percentile(&times, 0.99),
            requests: per(s.requests),
            connections: per(s.connections),
            handshakes: per(s.handshakes),
        }
    })
}

fn totp_rate(codes: u32) -> (f64, Option<f64>) {
    let key = *b"BW4ERXAJXXXXXXXX";
    let run = || {
        let started = Instant::now();
        let mut acc = 0u32;
        for i in 0..codes {
            acc ^= hmx::totp::code(&key, i.wrapping_mul(30)).value();
        }
        std::hint::black_box(acc);
        started.elapsed()
    };
    run(); // warm-up
    let took = run();
    let allocs = measure(|| {
        for i in 0..1000u32 {
            std::hint::black_box(hmx::totp::code(&key, i * 30));
        }
    })
    .map(|(_, _, allocs, ())| allocs as f64 / 1000.0);
    (codes as f64 / took.as_secs_f64(), allocs)
}

/// (stripped size of the release cdylib as the C quick start builds it, crates in the normal tree).
fn library_size() -> (Option<u64>, usize) {
    let root = env!("CARGO_MANIFEST_DIR");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tree = Command::new(&cargo)
        .args([
            "tree",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--features",
            "zeroize-heap",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    let mut crates: Vec<String> = String::from_utf8_lossy(&tree.stdout)
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_string())
        .filter(|l| !l.is_empty() && !l.starts_with("hmx "))
        .collect();
    crates.sort();
    crates.dedup();
    let built = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--lib",
            "--features",
            "zeroize-heap",
        ])
        .current_dir(root)
        .status()
        .is_ok_and(|s| s.success());
    let stripped = std::env::temp_dir().join(format!("hmx-bench-{}.so", std::process::id()));
    let size = built
        .then(|| std::fs::copy(format!("{root}/target/release/libhmx.so"), &stripped).ok())
        .flatten()
        .and_then(|_| {
            Command::new("strip")
                .arg("--strip-all")
                .arg(&stripped)
                .status()
                .ok()
        })
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&stripped).ok())
        .map(|m| m.len());
    let _ = std::fs::remove_file(&stripped);
    (size, crates.len())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test` does not: then run short.
    let full = std::env::args().any(|a| a == "--bench");
    let sizes: [(usize, usize); 3] = if full {
        [(1, 300), (100, 200), (10_000, 40)]
    } else {
        [(1, 3), (100, 3), (10_000, 1)]
    };

    println!(
        "hmx benchmark ({} mode); stand-in on 127.0.0.1, {PAGE_SIZE} devices a page",
        if full { "full" } else { "short" }
    );
    println!();
    println!(
        "| devices | client | median | p99 | per device | requests | TCP conns | TLS handshakes |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    for (devices, iterations) in sizes {
        for row in fetch_rows(devices, iterations) {
            println!(
                "| {} | {} | {} | {} | {:.1} µs | {:.2} | {:.2} | {:.2} |",
                row.devices,
                if row.reuse { "reused" } else { "fresh" },
                ms(row.median),
                ms(row.p99),
                row.median.as_secs_f64() * 1e6 / row.devices as f64,
                row.requests,
                row.connections,
                row.handshakes
            );
            assert!(
                row.connections <= 1.0 && row.handshakes <= 1.0,
                "more than one connection per fetch"
            );
        }
    }

    println!();
    let cloud = MockCloud::builder()
        .devices(demo_devices(10_000))
        .page_size(PAGE_SIZE)
        .start()
        .unwrap();
    let small = MockCloud::builder()
        .devices(demo_devices(100))
        .page_size(PAGE_SIZE)
        .start()
        .unwrap();
    let heap =
        |c: &MockCloud| measure(|| c.client().fetch_devices(DEMO_EMAIL, DEMO_PASSWORD).unwrap());
    match (heap(&small), heap(&cloud)) {
        (Some((peak_s, live_s, _, d_s)), Some((peak, live, _, d))) => {
            println!("| heap | 100 devices | 10,000 devices | per device (10,000) |");
            println!("|---|---:|---:|---:|");
            println!(
                "| peak during the fetch | {} KiB | {} KiB | {} B |",
                peak_s / 1024,
                peak / 1024,
                peak / d.len()
            );
            println!(
                "| held by the result | {} KiB | {} KiB | {} B |",
                live_s / 1024,
                live / 1024,
                live / d.len()
            );
            drop((d_s, d));
        }
        _ => println!("heap: not measured (zeroize-heap installs its own allocator)"),
    }

    println!();
    let (rate, allocs) = totp_rate(if full { 5_000_000 } else { 20_000 });
    println!(
        "TOTP: {:.2} M codes/s on one core; {} allocations per code",
        rate / 1e6,
        allocs.map_or("n/a (zeroize-heap)".to_string(), |a| format!("{a}"))
    );
    if let Some(a) = allocs {
        assert_eq!(a, 0.0, "code generation must not allocate");
    }

    if full {
        let (size, crates) = library_size();
        match size {
            Some(bytes) => println!(
                "release cdylib (zeroize-heap), stripped: {:.2} MB ({bytes} bytes)",
                bytes as f64 / 1e6
            ),
            None => println!("release cdylib: could not build or strip"),
        }
        println!("crates in the normal dependency tree: {crates}");
    } else {
        println!("cdylib size and crate count: full mode only (cargo bench --features test-util)");
    }
}
