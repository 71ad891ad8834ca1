//! [`Announcer`]: discovery packets as devices broadcast them, on loopback only.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::sync::lock;

/// A discovery packet as devices send it.
pub fn announcement(sn: &str, hw: &str) -> Value {
    json!({"sn": sn, "hw": hw, "cloud": "true", "connection": "cloudCon", "wifi": "-61", "display": "1"})
}

/// Sends a discovery packet from a loopback address, over and over, until dropped.
///
/// Only loopback: the source must be in 127.0.0.0/8 and so must the target
/// (`127.255.255.255` for the loopback broadcast, or one 127.x address), so no
/// test or demo ever puts a packet on a real network.
pub struct Announcer {
    source: Arc<Mutex<Ipv4Addr>>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer")
            .field("source", &*lock(&self.source))
            .finish()
    }
}

fn loopback_only(ip: Ipv4Addr, what: &str) -> io::Result<()> {
    if ip.is_loopback() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the announcer's {what} must be a loopback address (127.x), not {ip}"),
        ))
    }
}

fn bind_source(source: Ipv4Addr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind((source, 0))?;
    socket.set_broadcast(true)?;
    Ok(socket)
}

impl Announcer {
    /// Starts sending `packet` (any bytes, so malformed ones can be sent
    /// too) from `source` to `target` every `every`, the first at once.
    pub fn start(
        packet: impl Into<Vec<u8>>,
        source: Ipv4Addr,
        target: SocketAddrV4,
        every: Duration,
    ) -> io::Result<Announcer> {
        loopback_only(source, "source")?;
        loopback_only(*target.ip(), "target")?;
        let packet = packet.into();
        let mut socket = bind_source(source)?;
        let source = Arc::new(Mutex::new(source));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (source, stop, sent) = (source.clone(), stop.clone(), sent.clone());
            thread::spawn(move || {
                let mut bound = *lock(&source);
                while !stop.load(Ordering::SeqCst) {
                    let wanted = *lock(&source);
                    if wanted != bound {
                        match bind_source(wanted) {
                            Ok(s) => socket = s,
                            Err(_) => return,
                        }
                        bound = wanted;
                    }
                    if socket.send_to(&packet, target).is_ok() {
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                    let until = Instant::now() + every;
                    while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                        thread::sleep(every.min(Duration::from_millis(10)));
                    }
                }
            })
        };
        Ok(Announcer {
            source,
            stop,
            sent,
            thread: Some(thread),
        })
    }

    /// The device "moves": later packets come from `source` (a loopback address).
    pub fn move_to(&self, source: Ipv4Addr) -> io::Result<()> {
        loopback_only(source, "source")?;
        *lock(&self.source) = source;
        Ok(())
    }

    /// Packets sent so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
