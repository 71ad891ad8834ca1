//! A LAN made of Linux network namespaces, for tests that need a real
//! broadcast domain: a bridge, a "host" where hmx runs, and stand-in
//! thermostats each at an address of its own.
//!
//! ```text
//!  <run>-host                        <run>-br                 <run>-dN
//!  lan0 192.0.2.1/24 ──veth── h0 ─── br0 (bridge) ─┬─ dN ──veth── eth0 192.0.2.10/24
//!                                                  └─ ...         mock_thermostat --listen 192.0.2.10:80
//!  lan1 198.51.100.1/24 ─veth─ h1 ─── br1 ─── ...                   --announce-to 192.0.2.255:23500
//! ```
//!
//! Built with iproute2 (`ip netns`, `ip -n NS link|addr`), as root. Every
//! namespace is named `hmxlan-<pid>-<n>-<role>` (the test process's id and a
//! counter), so runs and tests never share one; links are created directly
//! inside those namespaces (`ip -n`), so their short names (`br0`, `h0`,
//! `d3`, `eth0`, `lan0`) cannot meet another run's either. Addresses come
//! from the documentation subnets only (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24), which the stand-in's announcer also insists on. Nothing
//! touches the root namespace's interfaces or routes and the namespaces
//! have no route out, so every packet stays inside them. [`Lan`]'s `Drop`
//! stops the stand-ins and deletes every namespace (the links go with
//! them), after a failed assertion too; namespaces left by a run that was
//! killed are deleted by the next run (their process id is gone).
//!
//! Running hmx in the host namespace: [`Lan::in_host`] runs a closure on a
//! thread moved there with `setns(2)` (a thread's network namespace is its
//! own, and threads it starts inherit it), so library calls, sockets and
//! assertions stay in the test; [`Lan::host_command`] prefixes any program
//! (the `hmx` command, a C or Python test, an example) with
//! `ip netns exec <host>`.
//!
//! Without root, or where `ip` cannot make namespaces, [`Lan::new`] prints
//! why the test is skipped and returns `None`: such tests then pass.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The UDP port units announce on.
pub const ANNOUNCE_PORT: u16 = 23500;

/// A bridge in the LAN and the host's interface on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment(usize);

/// A stand-in thermostat on the LAN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceId(usize);

/// How a stand-in is started: `mock_thermostat --listen ADDR:80 --sn SN
/// --hw HW [--announce-to BROADCAST:23500 --every MS] ARGS...`.
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    /// Serial number (`--sn`); ignored with a `--fixture` in `args`.
    pub sn: String,
    /// What its announcement names as `hw`.
    pub hw: String,
    /// Announce to the subnet's broadcast address this often; `None`: never.
    pub announce_every: Option<Duration>,
    /// More `mock_thermostat` options (`--locked KEY`, `--fixture FILE`, ...).
    pub args: Vec<String>,
}

impl DeviceSpec {
    /// The demo unit as `sn` with `hw`, announcing every 100 ms.
    pub fn new(sn: &str, hw: &str) -> DeviceSpec {
        DeviceSpec {
            sn: sn.to_string(),
            hw: hw.to_string(),
            announce_every: Some(Duration::from_millis(100)),
            args: Vec::new(),
        }
    }

    /// Never announces: only a sweep finds it.
    pub fn quiet(mut self) -> DeviceSpec {
        self.announce_every = None;
        self
    }

    /// Adds `mock_thermostat` options.
    pub fn args(mut self, args: &[&str]) -> DeviceSpec {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }
}

/// What a stand-in counted, printed when it stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceCounts {
    /// HTTP requests it read.
    pub requests: usize,
    /// The shortest quiet time between two of them, in ms (-1 before two).
    pub min_gap_ms: i64,
}

struct SegmentInfo {
    bridge: String,
    host_if: String,
    host_addr: Ipv4Addr,
}

struct Device {
    ns: String,
    addr: Ipv4Addr,
    prefix: u8,
    spec: DeviceSpec,
    sn: String,
    process: Option<(Child, BufReader<ChildStdout>)>,
}

/// The LAN; see the module's documentation. Dropping it stops every
/// stand-in and deletes every namespace.
pub struct Lan {
    run: String,
    bridge_ns: String,
    host_ns: String,
    /// Every namespace created, in order (deleted in reverse).
    namespaces: Vec<String>,
    segments: Vec<SegmentInfo>,
    devices: Vec<Device>,
}

/// Why namespace tests cannot run here, checked once per test process.
fn unavailable() -> Option<&'static str> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Some("not root: `ip netns` needs CAP_SYS_ADMIN and CAP_NET_ADMIN".into());
        }
        match Command::new("ip").arg("-V").output() {
            Ok(out) if out.status.success() => {}
            _ => return Some("no `ip` command (iproute2)".into()),
        }
        remove_stale();
        let probe = format!("hmxlan-{}-probe", std::process::id());
        let made = ip_output(&["netns", "add", &probe]);
        if !made.status.success() {
            return Some(format!(
                "`ip netns add` fails here: {}",
                String::from_utf8_lossy(&made.stderr).trim()
            ));
        }
        let _ = ip_output(&["netns", "delete", &probe]);
        None
    })
    .as_deref()
}

/// Deletes namespaces left by test processes that no longer run (killed
/// before their `Drop`). Only names this file makes: `hmxlan-<pid>-...`.
fn remove_stale() {
    let out = ip_output(&["netns", "list"]);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix("hmxlan-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip_output(&["netns", "delete", name]);
        }
    }
}

fn ip_output(args: &[&str]) -> Output {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("`ip` runs")
}

/// Runs `ip ARGS`; fails the test, with what `ip` said, when it fails.
fn ip(args: &[&str]) {
    let out = ip_output(args);
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// `"192.0.2.10/24"` as an address and a prefix length, in a documentation subnet.
fn parse_cidr(cidr: &str) -> (Ipv4Addr, u8) {
    let (addr, prefix) = cidr.split_once('/').expect("ADDR/PREFIX");
    let addr: Ipv4Addr = addr.parse().expect("an IPv4 address");
    let prefix: u8 = prefix.parse().expect("a prefix length");
    let [a, b, c, _] = addr.octets();
    assert!(
        matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113)) && prefix >= 24,
        "{cidr}: the test LAN uses documentation subnets only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24)"
    );
    (addr, prefix)
}

/// The broadcast address of `addr/prefix`.
fn broadcast(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) | (u32::MAX >> prefix))
}

/// Runs `f` on a thread inside network namespace `ns` and returns what it returns.
fn in_namespace<R: Send>(ns: &str, f: impl FnOnce() -> R + Send) -> R {
    let handle = File::open(format!("/run/netns/{ns}")).expect("the namespace exists");
    thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: a valid namespace file descriptor; setns changes only
                // this thread (and the threads it starts from now on).
                let rc = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                drop(handle);
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

impl Lan {
    /// A LAN with no segment yet: a bridge namespace and an empty host
    /// namespace (loopback up). `None`, after printing why the calling test
    /// is skipped, when namespaces cannot be made here.
    pub fn new() -> Option<Lan> {
        if let Some(why) = unavailable() {
            // The harness names each test's thread after the test.
            let test = thread::current().name().unwrap_or("a LAN test").to_string();
            // Straight to stderr: the harness captures print! from passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped: {why} (the namespace LAN tests need root on Linux with iproute2)"
            );
            return None;
        }
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let run = format!(
            "hmxlan-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::SeqCst)
        );
        let mut lan = Lan {
            bridge_ns: format!("{run}-br"),
            host_ns: format!("{run}-host"),
            run,
            namespaces: Vec::new(),
            segments: Vec::new(),
            devices: Vec::new(),
        };
        let (bridge_ns, host_ns) = (lan.bridge_ns.clone(), lan.host_ns.clone());
        lan.add_namespace(&bridge_ns);
        lan.add_namespace(&host_ns);
        Some(lan)
    }

    fn add_namespace(&mut self, ns: &str) {
        ip(&["netns", "add", ns]);
        self.namespaces.push(ns.to_string());
        ip(&["-n", ns, "link", "set", "lo", "up"]);
    }

    /// A new bridge, and a host interface (`lan0`, `lan1`, ...) on it with
    /// `host_cidr` (such as `192.0.2.1/24`) and its broadcast address.
    pub fn segment(&mut self, host_cidr: &str) -> Segment {
        let (host_addr, _) = parse_cidr(host_cidr);
        let n = self.segments.len();
        let (bridge, host_if, port) = (format!("br{n}"), format!("lan{n}"), format!("h{n}"));
        let (br, host) = (self.bridge_ns.as_str(), self.host_ns.as_str());
        ip(&["-n", br, "link", "add", &bridge, "type", "bridge"]);
        ip(&["-n", br, "link", "set", &bridge, "up"]);
        ip(&[
            "-n", br, "link", "add", &port, "type", "veth", "peer", "name", &host_if, "netns", host,
        ]);
        ip(&["-n", br, "link", "set", &port, "master", &bridge, "up"]);
        ip(&[
            "-n", host, "addr", "add", host_cidr, "brd", "+", "dev", &host_if,
        ]);
        ip(&["-n", host, "link", "set", &host_if, "up"]);
        self.segments.push(SegmentInfo {
            bridge,
            host_if,
            host_addr,
        });
        Segment(n)
    }

    /// A stand-in thermostat in a namespace of its own, joined to `segment`
    /// at `cidr` (such as `192.0.2.10/24`), serving port 80 there and
    /// announcing to the subnet's broadcast address as `spec` says.
    /// Returns once it serves.
    pub fn device(&mut self, segment: Segment, cidr: &str, spec: DeviceSpec) -> DeviceId {
        let (addr, prefix) = parse_cidr(cidr);
        let n = self.devices.len();
        let ns = format!("{}-d{n}", self.run);
        self.add_namespace(&ns);
        let bridge = &self.segments[segment.0].bridge;
        let port = format!("d{n}");
        let br = self.bridge_ns.as_str();
        ip(&[
            "-n", br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        ip(&["-n", br, "link", "set", &port, "master", bridge, "up"]);
        ip(&["-n", &ns, "addr", "add", cidr, "brd", "+", "dev", "eth0"]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        self.devices.push(Device {
            ns,
            addr,
            prefix,
            sn: spec.sn.clone(),
            spec,
            process: None,
        });
        self.start(n);
        DeviceId(n)
    }

    /// Starts device `n`'s stand-in at its address and waits for its first lines.
    fn start(&mut self, n: usize) {
        let device = &mut self.devices[n];
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &device.ns])
            .arg(super::example("mock_thermostat"))
            .arg("--listen")
            .arg(format!("{}:80", device.addr));
        if !device.spec.args.iter().any(|a| a == "--fixture") {
            cmd.args(["--sn", &device.spec.sn, "--hw", &device.spec.hw]);
        }
        if let Some(every) = device.spec.announce_every {
            let to = SocketAddrV4::new(broadcast(device.addr, device.prefix), ANNOUNCE_PORT);
            cmd.arg("--announce-to")
                .arg(to.to_string())
                .arg("--every")
                .arg(every.as_millis().to_string());
        }
        cmd.args(&device.spec.args);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ip netns exec mock_thermostat starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut value = |name: &str| {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            line.trim_end()
                .strip_prefix(name)
                .unwrap_or_else(|| panic!("mock_thermostat printed {line:?}, not {name}..."))
                .to_string()
        };
        assert_eq!(value("HMX_DEVICE_HOST="), format!("{}:80", device.addr));
        device.sn = value("HMX_DEVICE_SN=");
        device.process = Some((child, out));
    }

    /// Stops device `n`'s stand-in (closing its stdin, as it expects) and
    /// returns what it counted since it started.
    fn stop(&mut self, n: usize) -> Option<DeviceCounts> {
        let (mut child, mut out) = self.devices[n].process.take()?;
        drop(child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut rest);
        let field = |name: &str| {
            rest.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        Some(DeviceCounts {
            requests: field("HMX_DEVICE_REQUESTS=")? as usize,
            min_gap_ms: field("HMX_DEVICE_MIN_GAP_MS=")?,
        })
    }

    /// Stops device `id`'s stand-in and returns its counts (its namespace
    /// and address stay until the LAN is dropped).
    pub fn stop_device(&mut self, id: DeviceId) -> DeviceCounts {
        self.stop(id.0)
            .expect("the stand-in was running and stopped when asked")
    }

    /// The unit is bound again or reflashed: its stand-in stops and starts
    /// again in place (same namespace, interface and address) as `spec`.
    pub fn restart_device(&mut self, id: DeviceId, spec: DeviceSpec) -> DeviceCounts {
        let counts = self.stop_device(id);
        self.devices[id.0].spec = spec;
        self.start(id.0);
        counts
    }

    /// The device "moves" as after a power cut that brought a new DHCP
    /// lease: its stand-in stops, its interface gets `cidr` (such as
    /// `192.0.2.30/24`, in the same segment) instead of the old address, and
    /// the stand-in starts again there with the same serial and options.
    pub fn move_device(&mut self, id: DeviceId, cidr: &str) -> DeviceCounts {
        let counts = self.stop_device(id);
        let (addr, prefix) = parse_cidr(cidr);
        let device = &mut self.devices[id.0];
        let old = format!("{}/{}", device.addr, device.prefix);
        // Old first: with both on one subnet the new one would be a
        // secondary address, which the kernel deletes with the primary.
        ip(&["-n", &device.ns, "addr", "del", &old, "dev", "eth0"]);
        ip(&[
            "-n", &device.ns, "addr", "add", cidr, "brd", "+", "dev", "eth0",
        ]);
        (device.addr, device.prefix) = (addr, prefix);
        self.start(id.0);
        counts
    }

    /// The device drops off the network (its link goes down, as a unit off
    /// Wi-Fi or a wedged one): it answers no HTTP and its announcements go
    /// nowhere, while its stand-in keeps running.
    pub fn silence(&self, id: DeviceId) {
        ip(&["-n", &self.devices[id.0].ns, "link", "set", "eth0", "down"]);
    }

    /// The device is back on the network at the same address.
    pub fn wake(&self, id: DeviceId) {
        ip(&["-n", &self.devices[id.0].ns, "link", "set", "eth0", "up"]);
    }

    /// The device's address now.
    pub fn addr(&self, id: DeviceId) -> Ipv4Addr {
        self.devices[id.0].addr
    }

    /// The device's serial number, as its stand-in printed it.
    pub fn sn(&self, id: DeviceId) -> &str {
        &self.devices[id.0].sn
    }

    /// The host's address on `segment`.
    pub fn host_addr(&self, segment: Segment) -> Ipv4Addr {
        self.segments[segment.0].host_addr
    }

    /// The host's interface on `segment` (`lan0`, `lan1`, ...).
    pub fn host_if(&self, segment: Segment) -> &str {
        &self.segments[segment.0].host_if
    }

    /// The host namespace's name, for `ip netns exec` or `ip -n`.
    pub fn host_ns(&self) -> &str {
        &self.host_ns
    }

    /// `program` run inside the host namespace: `ip netns exec <host> program`.
    /// Add arguments, environment and standard streams as to any `Command`.
    pub fn host_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.host_ns]).arg(program);
        cmd
    }

    /// Runs `f` inside the host namespace, on a thread of its own (see the
    /// module's documentation), and returns what it returns; a panic in `f`
    /// fails the test as usual. Sockets made in `f` stay in the host
    /// namespace after it returns.
    pub fn in_host<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        in_namespace(&self.host_ns, f)
    }

    /// A home-automation hub's socket: bound to 0.0.0.0:`port` in the host
    /// namespace with address and port reuse, as Home Assistant's
    /// integrations bind it, before hmx comes.
    pub fn hub(&self, port: u16) -> UdpSocket {
        self.in_host(|| {
            use socket2::{Domain, Protocol, Socket, Type};
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
            s.set_reuse_address(true).unwrap();
            s.set_reuse_port(true).unwrap();
            s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())
                .unwrap();
            s.into()
        })
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for n in 0..self.devices.len() {
            let _ = self.stop(n);
        }
        // A namespace goes with its name once no process is left in it; the
        // veth pairs and bridges inside go with it.
        for ns in self.namespaces.iter().rev() {
            let _ = ip_output(&["netns", "delete", ns]);
        }
    }
}
