//! Active discovery: asking every address of a range for its telemetry, `{"cmd":4}`, once each.
//!
//! Listening ([`discover`](super::discover)) hears a device only when its
//! next announcement comes (about every 30 s), and only on the broadcast
//! domain this machine is on. A sweep asks instead: one unsigned
//! `{"cmd":4}` to port 80 of every address given, which every unit answers
//! with its serial, LAN locking on or off. It reaches devices behind a
//! router too, and answers within one timeout.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::address::DEFAULT_PORT;
use super::discovery::{Found, FoundBy, parse_announcement};
use super::gate::Gate;
use super::thermostat::DEFAULT_MIN_INTERVAL;
use super::wire;
use crate::error::{Error, ErrorKind};
use crate::framing::{self, Framed};
use crate::sync::lock;

/// Default bound on each address's request, from connecting to the last
/// byte: a unit on the LAN answers within milliseconds, and an empty
/// address costs the whole bound.
pub const SWEEP_TIMEOUT: Duration = Duration::from_millis(1500);
/// Default number of addresses asked at once.
pub const SWEEP_CONCURRENCY: usize = 32;
/// Most addresses asked at once, whatever is asked for (each is a thread).
pub const MAX_SWEEP_CONCURRENCY: usize = 256;
/// Most addresses one sweep asks: a /16. Wider ranges are refused, since a
/// sweep that long (over half an hour at the defaults) is a mistyped prefix
/// more often than a plan.
pub const MAX_SWEEP_ADDRESSES: usize = 1 << 16;

/// How a sweep asks. `SweepOptions::default()` is port 80, 1.5 s per
/// address, 32 addresses at once, 1 s after this process's last request to
/// an address.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SweepOptions {
    /// The devices' HTTP port; default [`DEFAULT_PORT`] (80).
    pub port: u16,
    /// Bound on each address's request; default [`SWEEP_TIMEOUT`]. Zero is raised to 1 ms.
    pub timeout: Duration,
    /// Addresses asked at once; default [`SWEEP_CONCURRENCY`], at least 1,
    /// at most [`MAX_SWEEP_CONCURRENCY`].
    pub concurrency: usize,
    /// Quiet time after this process's last request to an address before
    /// the sweep asks it, as [`Thermostat::min_interval`](super::Thermostat::min_interval);
    /// default 1 s.
    pub min_interval: Duration,
}

impl Default for SweepOptions {
    fn default() -> SweepOptions {
        SweepOptions {
            port: DEFAULT_PORT,
            timeout: SWEEP_TIMEOUT,
            concurrency: SWEEP_CONCURRENCY,
            min_interval: DEFAULT_MIN_INTERVAL,
        }
    }
}

impl SweepOptions {
    /// The devices' HTTP port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Bound on each address's request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Addresses asked at once.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Quiet time after this process's last request to an address.
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }
}

/// What a sweep did: what [`sweep`] returns, and what it tried and could not name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// One entry per serial number that answered, in the order of
    /// [`tried`](SweepReport::tried); `by` is [`FoundBy::Sweep`].
    pub found: Vec<Found>,
    /// Every address asked, each once, in the order the targets gave them
    /// (a range in ascending order).
    pub tried: Vec<Ipv4Addr>,
    /// Addresses whose `api.cgi` answered with a JSON object that carries no
    /// serial number, with that answer: a Welrok D2W (it answers `deviceId`
    /// instead of `sn`), a unit that was busy (`{"status":"timeout"}`; the
    /// sweep does not ask twice). Listening ([`discover`](super::discover))
    /// finds their serials: their announcements carry them.
    pub without_sn: Vec<(Ipv4Addr, Map<String, Value>)>,
}

/// Asks every address of `targets` for its telemetry (`{"cmd":4}`, unsigned,
/// which units answer even with LAN locking on) and returns one [`Found`]
/// per serial number that answered: `sn` and `packet` from the answer,
/// `ip` the address asked, `wifi` from its `o.0`, `hw`, `cloud` and
/// `connection` unknown (`None`), `by` = [`FoundBy::Sweep`]. Nothing is
/// sent to any address outside `targets`.
///
/// Each target is one item or several separated by commas or white space:
/// an IPv4 address (`192.168.1.7`), a range in CIDR form (`192.168.1.0/24`;
/// host bits are ignored, so an interface's own `192.168.1.40/24` names its
/// subnet; the network and broadcast addresses of a range up to /30 are left
/// out) or a host name (every IPv4 address it resolves to). Ranges wider than
/// /16, more than [`MAX_SWEEP_ADDRESSES`] addresses in all, IPv6, a port in
/// a target (set [`SweepOptions::port`]), multicast, broadcast and 0.0.0.0
/// are `InvalidArgument`; a name that does not resolve to an IPv4 address is
/// `Network`. All before anything is sent.
///
/// Each address gets one request, never a second: no retry after a busy or
/// empty answer, so a unit that was busy is missed (see
/// [`SweepReport::without_sn`]). The request takes the address's turn in
/// this process like every [`Thermostat`](super::Thermostat) call: it waits
/// for a request in flight there and for `min_interval` after it. At most
/// `concurrency` addresses are asked at once, each bounded by `timeout`, so
/// a /24 at the defaults takes at most about 8 × 1.5 s = 12 s. A unit that
/// answers without a serial (a D2W answers `deviceId`) or not with a JSON
/// object (another web server) is not in the list; [`sweep_report`] says
/// which addresses answered without a serial. When two addresses answer
/// with one serial, the first in target order is kept.
///
/// ```no_run
/// use hmx::local::{self, SweepOptions};
/// for d in local::sweep(&["192.168.1.0/24"], &SweepOptions::default())? {
///     println!("{} at {}", d.sn, d.ip);
/// }
/// # Ok::<(), hmx::Error>(())
/// ```
pub fn sweep<T: AsRef<str>>(targets: &[T], options: &SweepOptions) -> Result<Vec<Found>, Error> {
    Ok(sweep_report(targets, options)?.found)
}

/// [`sweep`], with the addresses tried and those that answered without a serial.
pub fn sweep_report<T: AsRef<str>>(
    targets: &[T],
    options: &SweepOptions,
) -> Result<SweepReport, Error> {
    sweep_report_with_progress(targets, options, |_, _, _| {})
}

/// [`sweep_report`], calling `progress(asked, addresses, found)` after each
/// address has answered or timed out (from the sweep's threads), for tools
/// that show how far a long sweep got.
pub fn sweep_report_with_progress<T: AsRef<str>>(
    targets: &[T],
    options: &SweepOptions,
    progress: impl Fn(usize, usize, usize) + Sync,
) -> Result<SweepReport, Error> {
    let addresses = sweep_addresses(targets)?;
    let answers = ask_all(&addresses, options, &progress)?;
    let mut report = SweepReport {
        tried: addresses,
        ..SweepReport::default()
    };
    for (ip, answer) in answers {
        match answer {
            Answer::Found(found) => {
                if !report
                    .found
                    .iter()
                    .any(|f| crate::same_serial(&f.sn, &found.sn))
                {
                    report.found.push(*found);
                }
            }
            Answer::WithoutSn(object) => report.without_sn.push((ip, object)),
            Answer::Nothing => {}
        }
    }
    Ok(report)
}

/// The addresses a sweep of `targets` would ask, in order, each once; see
/// [`sweep`] for the forms and the limits. Host names are resolved.
pub fn sweep_addresses<T: AsRef<str>>(targets: &[T]) -> Result<Vec<Ipv4Addr>, Error> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut add = |ip: Ipv4Addr| {
        if seen.insert(ip) {
            out.push(ip);
        }
        if out.len() > MAX_SWEEP_ADDRESSES {
            return Err(Error::invalid(format!(
                "the sweep targets hold more than {MAX_SWEEP_ADDRESSES} addresses (a /16); \
                 sweep the subnet the devices are on"
            )));
        }
        Ok(())
    };
    for item in targets
        .iter()
        .flat_map(|t| t.as_ref().split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|item| !item.is_empty())
    {
        for ip in target(item)? {
            add(ip)?;
        }
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "nothing to sweep: give addresses, ranges such as 192.168.1.0/24, or host names",
        ));
    }
    Ok(out)
}

/// One target's addresses, in ascending order.
fn target(item: &str) -> Result<Vec<Ipv4Addr>, Error> {
    let bad = |why: &str| Error::invalid(format!("sweep target {item:?}: {why}"));
    if item.contains(':') {
        return Err(bad(
            "IPv6 addresses and ports are not sweep targets: give IPv4 addresses or ranges, and the port in the options",
        ));
    }
    if let Some((net, prefix)) = item.split_once('/') {
        let net: Ipv4Addr = net
            .parse()
            .map_err(|_| bad("a range is an IPv4 address, `/` and a prefix length"))?;
        let prefix: u32 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| bad("the prefix length must be 0 to 32"))?;
        if prefix < 16 {
            return Err(bad(
                "wider than /16 (65,536 addresses): sweep the subnet the devices are on",
            ));
        }
        let size = 1u32 << (32 - prefix);
        let first = u32::from(net) & !(size - 1);
        usable(Ipv4Addr::from(first)).map_err(|why| bad(&why))?;
        // A subnet's first and last addresses name the network and its
        // broadcast; no device has them (RFC 3021: /31 and /32 have no such).
        let (start, end) = if prefix <= 30 {
            (first + 1, first + size - 2)
        } else {
            (first, first + size - 1)
        };
        return Ok((start..=end).map(Ipv4Addr::from).collect());
    }
    if let Ok(ip) = item.parse::<Ipv4Addr>() {
        usable(ip).map_err(|why| bad(&why))?;
        return Ok(vec![ip]);
    }
    let name_ok = item.len() <= 253
        && !item.starts_with(['-', '.'])
        && item
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !name_ok {
        return Err(bad(
            "not an IPv4 address, a range such as 192.168.1.0/24 or a host name",
        ));
    }
    let resolved = (item, DEFAULT_PORT).to_socket_addrs().map_err(|e| {
        Error::new(
            ErrorKind::Network,
            format!("sweep target {item:?}: cannot resolve the name: {e}"),
        )
    })?;
    let mut ips: Vec<Ipv4Addr> = resolved
        .filter_map(|a| match a.ip() {
            IpAddr::V4(v4) if usable(v4).is_ok() => Some(v4),
            _ => None,
        })
        .collect();
    ips.sort();
    ips.dedup();
    if ips.is_empty() {
        return Err(Error::new(
            ErrorKind::Network,
            format!("sweep target {item:?}: the name has no IPv4 address a device could have"),
        ));
    }
    Ok(ips)
}

/// Addresses no device has: asking them is an error in the targets.
fn usable(ip: Ipv4Addr) -> Result<(), String> {
    let [first, ..] = ip.octets();
    if first == 0 {
        Err(format!("{ip} is in 0.0.0.0/8, which names no device"))
    } else if ip.is_multicast() {
        Err(format!("{ip} is a multicast address"))
    } else if first >= 240 {
        Err(format!(
            "{ip} is reserved (240.0.0.0/4) or the broadcast address"
        ))
    } else {
        Ok(())
    }
}

/// What one address answered.
enum Answer {
    Found(Box<Found>),
    WithoutSn(Map<String, Value>),
    Nothing,
}

/// Asks every address, `concurrency` at a time; the answers in address order.
fn ask_all(
    addresses: &[Ipv4Addr],
    options: &SweepOptions,
    progress: &(dyn Fn(usize, usize, usize) + Sync),
) -> Result<Vec<(Ipv4Addr, Answer)>, Error> {
    let found = AtomicUsize::new(0);
    let workers = options
        .concurrency
        .clamp(1, MAX_SWEEP_CONCURRENCY)
        .min(addresses.len());
    let next = AtomicUsize::new(0);
    let answers: Mutex<Vec<(usize, Answer)>> = Mutex::new(Vec::with_capacity(addresses.len()));
    let work = || {
        loop {
            let at = next.fetch_add(1, Ordering::SeqCst);
            let Some(ip) = addresses.get(at) else {
                break;
            };
            let answer = ask(*ip, options);
            if matches!(answer, Answer::Found(_)) {
                found.fetch_add(1, Ordering::SeqCst);
            }
            let asked = {
                let mut answers = lock(&answers);
                answers.push((at, answer));
                answers.len()
            };
            progress(asked, addresses.len(), found.load(Ordering::SeqCst));
        }
    };
    thread::scope(|scope| {
        let mut spawned = Vec::with_capacity(workers);
        for n in 0..workers {
            let worker = thread::Builder::new()
                .name(format!("hmx-sweep-{n}"))
                .spawn_scoped(scope, work);
            match worker {
                Ok(handle) => spawned.push(handle),
                // Fewer threads still ask every address; none at all cannot.
                Err(e) if spawned.is_empty() => {
                    return Err(Error::new(
                        ErrorKind::Network,
                        format!("sweep: cannot start a thread: {e}"),
                    ));
                }
                Err(_) => break,
            }
        }
        Ok(())
    })?;
    let mut answers = answers.into_inner().unwrap_or_else(|e| e.into_inner());
    answers.sort_by_key(|(at, _)| *at);
    Ok(answers
        .into_iter()
        .filter_map(|(at, answer)| addresses.get(at).map(|ip| (*ip, answer)))
        .collect())
}

/// One `{"cmd":4}` to `ip`, in its turn, never repeated.
fn ask(ip: Ipv4Addr, options: &SweepOptions) -> Answer {
    let authority = format!("{ip}:{}", options.port);
    // The same turn a Thermostat for this address takes (the same key as
    // its `host:port`), so a sweep never overlaps a request of this process.
    let gate = Gate::for_device(&authority);
    let mut last_end = lock(&gate.last_end);
    if let Some(end) = *last_end {
        let ready = end + options.min_interval;
        let now = Instant::now();
        if ready > now {
            thread::sleep(ready - now);
        }
    }
    let mut sent = false;
    let timeout = options.timeout.max(Duration::from_millis(1));
    let result = wire::post(
        &authority,
        br#"{"cmd":4}"#,
        timeout,
        "sweep cmd 4",
        &mut sent,
    );
    // Only an address that took the request has a device to pace. One
    // that took no connection keeps no time, so its gate is forgotten at
    // once and a sweep of many empty addresses leaves the table as it was.
    if sent {
        *last_end = Some(Instant::now());
    }
    drop(last_end);
    let Ok(reply) = result else {
        return Answer::Nothing;
    };
    if !(200..=299).contains(&reply.status) {
        return Answer::Nothing;
    }
    match parse_announcement(&reply.body, IpAddr::V4(ip)) {
        Ok(mut found) => {
            // Telemetry is not an announcement: what only announcements
            // carry is unknown, whatever members the answer happens to have.
            found.by = FoundBy::Sweep;
            (found.hw, found.cloud, found.connection) = (None, None, None);
            found.datagram = None;
            found.wifi = rssi(&found.packet);
            Answer::Found(Box::new(found))
        }
        Err(_) => match framing::json_value(&reply.body) {
            Framed::Value(Value::Object(object)) => Answer::WithoutSn(object),
            _ => Answer::Nothing,
        },
    }
}

/// The telemetry's `o.0`, the Wi-Fi signal in dBm, as a string or a number.
fn rssi(telemetry: &Map<String, Value>) -> Option<i32> {
    match telemetry.get("o.0") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .and_then(|w| i32::try_from(w).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(targets: &[&str]) -> Result<Vec<String>, Error> {
        Ok(sweep_addresses(targets)?
            .iter()
            .map(|ip| ip.to_string())
            .collect())
    }

    #[test]
    fn targets_are_ranges_addresses_and_lists() {
        let all = ips(&["192.0.2.0/24"]).unwrap();
        assert_eq!(all.len(), 254, "no network or broadcast address");
        assert_eq!(
            (all[0].as_str(), all[253].as_str()),
            ("192.0.2.1", "192.0.2.254")
        );
        // Host bits name the subnet; lists by commas, spaces or slices; no address twice.
        assert_eq!(
            ips(&["192.0.2.9/30, 198.51.100.7", "192.0.2.10\t198.51.100.7"]).unwrap(),
            ["192.0.2.9", "192.0.2.10", "198.51.100.7"]
        );
        assert_eq!(ips(&["192.0.2.8/31"]).unwrap(), ["192.0.2.8", "192.0.2.9"]);
        assert_eq!(ips(&["192.0.2.8/32"]).unwrap(), ["192.0.2.8"]);
        assert_eq!(ips(&["10.1.0.0/16"]).unwrap().len(), 65_534);
        assert_eq!(ips(&["localhost"]).unwrap(), ["127.0.0.1"]);
    }

    #[test]
    fn bad_targets_are_refused_before_anything_is_sent() {
        for (bad, says) in [
            ("10.0.0.0/15", "wider than /16"),
            ("10.0.0.0/33", "0 to 32"),
            ("10.0.0.0/x", "0 to 32"),
            ("10.0.0/24", "IPv4 address"),
            ("::1", "IPv6"),
            ("192.0.2.7:80", "port"),
            ("224.0.0.1", "multicast"),
            ("224.0.0.0/24", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("0.0.0.0", "0.0.0.0/8"),
            ("http://192.0.2.7", "IPv6 addresses and ports"),
            ("b/c", "IPv4 address"),
            ("under_score!", "not an IPv4 address"),
        ] {
            let e = sweep_addresses(&[bad]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message().contains(says), "{bad}: {e}");
        }
        let e = sweep_addresses(&[" , "]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        let empty: [&str; 0] = [];
        assert!(sweep_addresses(&empty).is_err());
        // Two /16s are more than one sweep asks.
        let e = sweep_addresses(&["10.1.0.0/16,10.2.0.0/16"]).unwrap_err();
        assert!(e.message().contains("more than 65536"), "{e}");
    }

    #[test]
    fn the_signal_comes_from_the_telemetry() {
        let t = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(rssi(&t(serde_json::json!({"o.0": "-61"}))), Some(-61));
        assert_eq!(rssi(&t(serde_json::json!({"o.0": -70}))), Some(-70));
        assert_eq!(rssi(&t(serde_json::json!({"o.0": "x"}))), None);
    }
}
