//! Stand-ins for what hmx talks to, enabled by the `test-util` feature: the
//! cloud, a real HTTPS server on 127.0.0.1 that speaks the vendor's protocol
//! with faults on demand, and a thermostat ([`MockThermostat`], an HTTP
//! `api.cgi` on 127.0.0.1, and [`Announcer`], discovery packets on loopback).
//!
//! Used by hmx's tests, the `keys --demo` run, the benchmarks, and (as the
//! `mock_cloud` example process) the C and Python tests.
//!
//! ```
//! let cloud = hmx::testing::MockCloud::start()?;
//! let client = cloud.client();
//! let devices = client.fetch_devices(hmx::testing::DEMO_EMAIL, hmx::testing::DEMO_PASSWORD)?;
//! assert_eq!(devices.len(), 5);
//! assert_eq!(cloud.stats().connections, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Test equipment, not what users run: a stand-in that finds itself broken
// (its own address unusable, a request it cannot take apart) stops that test
// loudly instead of answering something a test would then believe.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod certs;
mod cloud;
mod fixture;
mod proxy;
mod thermostat;
mod wire;

pub use cloud::{
    CLOUD_HOST, DEMO_EMAIL, DEMO_PASSWORD, Fault, ListChange, MockCloud, MockCloudBuilder,
    NextLink, RecordedRequest, Route, Stats, TlsMode, demo_devices,
};
pub use thermostat::{
    Announcer, DEMO_KEY, DEMO_SN, DeviceFault, DeviceStats, MockThermostat, MockThermostatBuilder,
    On, WriteAnswer, announcement, demo_parameters,
};

pub use fixture::{Fixture, SchemeRecord, WriteForm};
pub use proxy::{MockProxy, MockProxyBuilder, ProxyStats};

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use std::{io, thread};

/// A stand-in's accept loop on a thread of its own; dropping it stops the
/// loop (it sets the stand-in's shutdown flag, then wakes the loop with a
/// connection of its own) and waits for it.
pub(crate) struct Acceptor {
    addr: SocketAddr,
    stop: Box<dyn Fn() + Send + Sync>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        (self.stop)();
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections on `listener` until `shutdown(&shared)` is set, and
/// serves each with `serve` on a thread of its own: the stand-ins' accept loop.
pub(crate) fn serve_each<S: Send + Sync + 'static>(
    listener: TcpListener,
    shared: Arc<S>,
    shutdown: fn(&S) -> &AtomicBool,
    serve: fn(TcpStream, &S) -> io::Result<()>,
) -> io::Result<Acceptor> {
    let addr = listener.local_addr()?;
    let stopping = shared.clone();
    let thread = thread::spawn(move || {
        for stream in listener.incoming() {
            if shutdown(&shared).load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let shared = shared.clone();
            thread::spawn(move || {
                let _ = serve(stream, &shared);
            });
        }
    });
    Ok(Acceptor {
        addr,
        stop: Box::new(move || shutdown(&stopping).store(true, Ordering::SeqCst)),
        thread: Some(thread),
    })
}
