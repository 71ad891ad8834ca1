//! [`Announcer`]: discovery packets as devices broadcast them, on loopback or a documentation subnet only.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::sync::lock;

/// `MSG_DONTROUTE`: send only to a directly connected network, never
/// through a gateway. The same value on Linux, the BSDs and macOS; std and
/// socket2 do not name it, and libc is not a dependency of this feature.
const MSG_DONTROUTE: std::ffi::c_int = 4;

/// The documentation subnets (RFC 5737: TEST-NET-1, -2 and -3), which no
/// real network uses: the network namespaces of `tests/lan.rs` number their
/// LAN from them.
const TEST_NETS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 0, 2, 0),
    Ipv4Addr::new(198, 51, 100, 0),
    Ipv4Addr::new(203, 0, 113, 0),
];

/// A discovery packet as devices send it.
pub fn announcement(sn: &str, hw: &str) -> Value {
    json!({"sn": sn, "hw": hw, "cloud": "true", "connection": "cloudCon", "wifi": "-61", "display": "1"})
}

/// Sends a discovery packet over and over, until dropped, from a loopback
/// address or from an address in a documentation subnet.
///
/// Never onto a real network: either the source and the target are both in
/// 127.0.0.0/8 (`127.255.255.255` for the loopback broadcast, or one 127.x
/// address), or both are in the same documentation subnet (192.0.2.0/24,
/// 198.51.100.0/24 or 203.0.113.0/24; the target usually its broadcast
/// address, such as `192.0.2.255`). Anything else is refused. A
/// documentation source must be an address of this machine (or of the
/// network namespace the announcer runs in), since the socket binds it, and
/// packets from it are sent with `MSG_DONTROUTE`: only onto the link that
/// holds that subnet, never through a gateway.
pub struct Announcer {
    source: Arc<Mutex<Ipv4Addr>>,
    target: SocketAddrV4,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer")
            .field("source", &*lock(&self.source))
            .field("target", &self.target)
            .finish()
    }
}

/// The documentation subnet `ip` is in, if any.
fn test_net(ip: Ipv4Addr) -> Option<Ipv4Addr> {
    let [a, b, c, _] = ip.octets();
    let net = Ipv4Addr::new(a, b, c, 0);
    TEST_NETS.contains(&net).then_some(net)
}

/// Whether packets from `source` to `target` stay off every real network.
fn allowed(source: Ipv4Addr, target: Ipv4Addr) -> io::Result<()> {
    if source.is_loopback() && target.is_loopback() {
        return Ok(());
    }
    match (test_net(source), test_net(target)) {
        (Some(a), Some(b)) if a == b => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the announcer sends only within loopback (127.x to 127.x) or within one \
                 documentation subnet (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24), \
                 not from {source} to {target}"
            ),
        )),
    }
}

/// A UDP socket bound to `source` (any port) that may send broadcasts.
fn bind_source(source: Ipv4Addr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_broadcast(true)?;
    socket.bind(&SockAddr::from(SocketAddrV4::new(source, 0)))?;
    Ok(socket)
}

/// Loopback stays on loopback by itself; a documentation subnet only on its link.
fn send(socket: &Socket, packet: &[u8], source: Ipv4Addr, target: SocketAddrV4) -> io::Result<()> {
    let flags = if source.is_loopback() {
        0
    } else {
        MSG_DONTROUTE
    };
    socket
        .send_to_with_flags(packet, &SockAddr::from(target), flags)
        .map(|_| ())
}

impl Announcer {
    /// Starts sending `packet` (any bytes, so malformed ones can be sent
    /// too) from `source` to `target` every `every`, the first at once.
    /// Refuses (`InvalidInput`) a source and target that are not both
    /// loopback or both in one documentation subnet.
    pub fn start(
        packet: impl Into<Vec<u8>>,
        source: Ipv4Addr,
        target: SocketAddrV4,
        every: Duration,
    ) -> io::Result<Announcer> {
        allowed(source, *target.ip())?;
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
                    // A failed send (the link is down: the device is off the
                    // network for a while) is skipped; later ones go out again.
                    if send(&socket, &packet, bound, target).is_ok() {
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
            target,
            stop,
            sent,
            thread: Some(thread),
        })
    }

    /// The device "moves": later packets come from `source`, which must
    /// pass the same check against the target as the first one.
    pub fn move_to(&self, source: Ipv4Addr) -> io::Result<()> {
        allowed(source, *self.target.ip())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_or_one_documentation_subnet() {
        let ok = [
            ("127.0.0.2", "127.255.255.255"),
            ("127.0.0.2", "127.0.0.1"),
            ("192.0.2.10", "192.0.2.255"),
            ("198.51.100.7", "198.51.100.255"),
            ("203.0.113.1", "203.0.113.2"),
        ];
        for (source, target) in ok {
            allowed(source.parse().unwrap(), target.parse().unwrap()).unwrap();
        }
        let refused = [
            ("127.0.0.2", "255.255.255.255"),
            ("127.0.0.2", "192.0.2.255"),
            ("192.0.2.10", "127.255.255.255"),
            ("192.0.2.10", "198.51.100.255"),
            ("192.0.2.10", "255.255.255.255"),
            ("192.0.2.10", "192.0.3.255"),
            ("192.168.1.10", "192.168.1.255"),
            ("10.0.0.2", "10.0.0.255"),
            ("0.0.0.0", "192.0.2.255"),
        ];
        for (source, target) in refused {
            let e = allowed(source.parse().unwrap(), target.parse().unwrap()).unwrap_err();
            assert_eq!(
                e.kind(),
                io::ErrorKind::InvalidInput,
                "{source} -> {target}"
            );
        }
    }
}
