//! LAN discovery: listening for the UDP announcements thermostats broadcast.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, ErrorKind};
use crate::framing::{self, Framed};
use crate::sync::lock;

/// The UDP port devices announce themselves on.
pub const DISCOVERY_PORT: u16 = 23500;
/// Largest announcement read; longer datagrams are cut and then fail to parse.
const MAX_PACKET: usize = 2048;

/// One device found on the LAN: heard in its newest announcement
/// ([`discover`]), or answering a [`sweep`](super::sweep) (then `by` says so,
/// `packet` is its telemetry and `hw`, `cloud` and `connection` are `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Serial number (30 hex characters on known devices).
    pub sn: String,
    /// Where the announcement came from: the device's address now. It changes
    /// after DHCP renewals and power cuts, so look it up again when a device
    /// stops answering.
    pub ip: IpAddr,
    /// Hardware family (`ax`, `sx`, `az`, `oz`, `ms`, `D2W`, ...), if sent.
    pub hw: Option<String>,
    /// Whether the device says it uses the cloud; not every packet carries it.
    pub cloud: Option<bool>,
    /// Connection state (`wiFiCon`, `cloudCon`, `APMode`, `noCon`, ...), if sent.
    pub connection: Option<String>,
    /// Wi-Fi signal in dBm, if sent as a number.
    pub wifi: Option<i32>,
    /// The newest announcement object, every member as sent.
    pub packet: Map<String, Value>,
    /// Announcements heard from this device while listening (1 for a sweep's answer).
    pub seen: usize,
    /// How hmx found it.
    pub by: FoundBy,
    /// The newest announcement exactly as it arrived (UTF-8, any invalid
    /// bytes replaced), for recording a unit (`Fixture::record`); `None`
    /// for a sweep's answer.
    pub datagram: Option<String>,
}

/// How a [`Found`] device was found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FoundBy {
    /// Its UDP announcement was heard ([`discover`], [`Listener`]).
    #[default]
    Announcement,
    /// It answered `{"cmd":4}` on its HTTP port ([`sweep`](super::sweep)).
    Sweep,
}

/// How long to listen to hear every device once: units announce about every
/// 30 s (vendor docs: "several times a minute"), so a shorter wait often
/// hears nothing. What the command, C and Python wait by default.
pub const DISCOVERY_WAIT: Duration = Duration::from_secs(35);

/// Listens on `port` (default [`DISCOVERY_PORT`]) for `duration` (devices
/// announce about every 30 s: [`DISCOVERY_WAIT`] hears each) and returns
/// one entry per serial number, in the order first heard, each with the
/// address of its newest announcement. Datagrams that are not announcements
/// are passed over; when nothing else was heard, that is a `Protocol` error
/// saying what arrived (see [`Listener::collect`]).
///
/// The socket binds 0.0.0.0 with address and port reuse, so it shares the
/// port with a home-automation hub already listening there (broadcasts reach
/// both). Binding failures are `Network`.
///
/// ```no_run
/// for d in hmx::local::discover(hmx::local::DISCOVERY_PORT, hmx::local::DISCOVERY_WAIT)? {
///     println!("{} at {} ({:?})", d.sn, d.ip, d.hw);
/// }
/// # Ok::<(), hmx::Error>(())
/// ```
pub fn discover(port: u16, duration: Duration) -> Result<Vec<Found>, Error> {
    Listener::bind(port)?.collect(duration)
}

/// A bound discovery socket, for callers that must know the port before
/// listening (port 0 picks a free one) or listen more than once.
#[derive(Debug)]
pub struct Listener {
    socket: UdpSocket,
    unreadable: Mutex<Unreadable>,
}

/// Datagrams a [`Listener`] heard that were not announcements it could read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unreadable {
    /// How many.
    pub count: usize,
    /// The first one: where it came from and what was wrong, with the bytes quoted.
    pub first: Option<String>,
}

impl Listener {
    /// Binds 0.0.0.0:`port` with `SO_REUSEADDR`, `SO_REUSEPORT` (Unix) and `SO_BROADCAST`.
    pub fn bind(port: u16) -> Result<Listener, Error> {
        let fail = |e: std::io::Error| {
            let message = if e.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "cannot listen on UDP port {port}: another program holds it without \
                     allowing address reuse (SO_REUSEADDR/SO_REUSEPORT), so announcements \
                     cannot be shared with it; stop that program while discovering, or give \
                     the device's address instead of discovering it"
                )
            } else {
                format!("cannot listen on UDP port {port}: {e}")
            };
            Error::new(ErrorKind::Network, message)
        };
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(fail)?;
        socket.set_reuse_address(true).map_err(fail)?;
        #[cfg(unix)]
        socket.set_reuse_port(true).map_err(fail)?;
        socket.set_broadcast(true).map_err(fail)?;
        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        socket.bind(&addr.into()).map_err(fail)?;
        Ok(Listener {
            socket: socket.into(),
            unreadable: Mutex::default(),
        })
    }

    /// The port bound (the one picked when 0 was asked for).
    pub fn port(&self) -> u16 {
        self.socket.local_addr().map_or(0, |a| a.port())
    }

    /// What was heard so far that was not an announcement hmx can read.
    pub fn unreadable(&self) -> Unreadable {
        lock(&self.unreadable).clone()
    }

    /// Listens for `duration`; see [`discover`]. When nothing could be read
    /// but something was heard, that is a `Protocol` error that says what
    /// arrived, not an empty list.
    pub fn collect(&self, duration: Duration) -> Result<Vec<Found>, Error> {
        let deadline = Instant::now() + duration;
        let mut found: Vec<Found> = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(heard) = self.next(left)? else {
                break;
            };
            match found
                .iter_mut()
                .find(|f| crate::same_serial(&f.sn, &heard.sn))
            {
                Some(known) => {
                    let seen = known.seen + 1;
                    *known = heard;
                    known.seen = seen;
                }
                None => found.push(heard),
            }
        }
        let unreadable = self.unreadable();
        match (&unreadable.first, found.is_empty()) {
            (Some(first), true) => Err(Error::protocol(format!(
                "heard {} datagram(s) on UDP port {} but none was a thermostat announcement hmx can read; the first {first}",
                unreadable.count,
                self.port()
            ))),
            _ => Ok(found),
        }
    }

    /// The next well-formed announcement within `timeout`, or `None`.
    pub fn next(&self, timeout: Duration) -> Result<Option<Found>, Error> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; MAX_PACKET];
        loop {
            let Some(left) = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
            else {
                return Ok(None);
            };
            self.socket
                .set_read_timeout(Some(left))
                .map_err(|e| Error::new(ErrorKind::Network, format!("discovery: {e}")))?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    match parse_announcement(buf.get(..n).unwrap_or_default(), from.ip()) {
                        Ok(found) => return Ok(Some(found)),
                        Err(why) => {
                            let mut unreadable = lock(&self.unreadable);
                            unreadable.count += 1;
                            let first = format!("came from {}: {why}", from.ip());
                            unreadable.first.get_or_insert(first);
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    return Err(Error::new(ErrorKind::Network, format!("discovery: {e}")));
                }
            }
        }
    }
}

/// An announcement: a JSON object with a serial number of 1 to 64 ASCII
/// letters and digits. Other members are optional and taken leniently.
/// Padding around the JSON (zeros filling a fixed-size datagram, a NUL,
/// line ends) is accepted; anything else is refused with what arrived.
pub(crate) fn parse_announcement(bytes: &[u8], ip: IpAddr) -> Result<Found, String> {
    let packet = match framing::json_value(bytes) {
        Framed::Value(Value::Object(packet)) => packet,
        Framed::Value(_) => return Err(format!("not a JSON object: `{}`", framing::quote(bytes))),
        Framed::Empty => return Err("an empty datagram".to_string()),
        Framed::CutOff => return Err(format!("cut-off JSON: `{}`", framing::quote(bytes))),
        Framed::Unreadable(arrived) => return Err(arrived),
    };
    let sn = match packet.get("sn") {
        Some(Value::String(sn)) => sn.trim().to_string(),
        _ => {
            return Err(format!(
                "a JSON object without a serial number (sn): `{}`",
                framing::quote(bytes)
            ));
        }
    };
    if sn.is_empty() || sn.len() > 64 || !sn.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "a serial number that is not 1 to 64 letters and digits: {:?}",
            framing::quote(sn.as_bytes())
        ));
    }
    let text = |name: &str| {
        packet
            .get(name)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let cloud = match packet.get("cloud") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    let wifi = match packet.get("wifi") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .and_then(|w| i32::try_from(w).ok());
    Ok(Found {
        sn,
        ip,
        hw: text("hw"),
        cloud,
        connection: text("connection"),
        wifi,
        seen: 1,
        packet,
        by: FoundBy::Announcement,
        datagram: Some(String::from_utf8_lossy(bytes).into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_parse_leniently() {
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let f = parse_announcement(
            br#"{"sn":"058016000543464839373520000159","hw":"sx","cloud":"true","connection":"cloudCon","wifi":"-61","display":"1"}"#,
            ip,
        )
        .unwrap();
        assert_eq!(f.hw.as_deref(), Some("sx"));
        assert_eq!((f.cloud, f.wifi, f.ip), (Some(true), Some(-61), ip));
        let bare = parse_announcement(br#"{"sn":"AB12"}"#, ip).unwrap();
        // Padded as small UDP stacks pad: zeros to a fixed size, a NUL, a line end.
        let mut zeros = br#"{"sn":"AB12"}"#.to_vec();
        zeros.resize(512, 0);
        for padded in [&zeros[..], b"{\"sn\":\"AB12\"}\0", b"{\"sn\":\"AB12\"}\r\n"] {
            assert_eq!(parse_announcement(padded, ip).unwrap().sn, "AB12");
        }
        assert_eq!((bare.hw, bare.cloud, bare.wifi), (None, None, None));
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"sn":""}"#,
            br#"{"sn":5}"#,
            br#"{"sn":"a b"}"#,
            br#"{"hw":"sx"}"#,
            b"{\"sn\":\"AB12\"}\nxyz",
        ] {
            let why = parse_announcement(bad, ip).unwrap_err();
            assert!(!why.is_empty());
        }
    }
}
