//! The stand-in thermostat: a real HTTP server on 127.0.0.1 that answers `api.cgi` as a device does, and a UDP announcer on loopback.

use std::io::{self, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::server::{Answer, Request, read_request};
use crate::local::{Thermostat, ValueType};
use crate::sync::lock;
use crate::totp::{self, Scheme};

/// The stand-in's serial number unless another is set.
pub const DEMO_SN: &str = "058016000543464839373520000159";
/// A 16-character key, valid base32 too, for locking stand-ins.
pub const DEMO_KEY: &str = "BW4ERXAJXXXXXXXX";
/// How long a `NoAnswer` fault holds a request at most.
const HANG_LIMIT: Duration = Duration::from_secs(60);
/// Parameters the device refuses to write.
const READ_ONLY: [u16; 2] = [28, 109];

/// What the stand-in does instead of answering normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceFault {
    /// `{"status":"timeout"}`, as a busy device answers; nothing is applied.
    Busy,
    /// A 200 with an empty body (a write is applied first: the device may act and still answer nothing).
    Empty,
    /// A 200 whose JSON stops halfway (a write is applied first).
    CutOff,
    /// Reads the request and never answers (until the stand-in stops, at most 60 s).
    NoAnswer,
}

/// Which requests a fault replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    /// Every request.
    Any,
    /// Reads with this `cmd` (1 to 4).
    Cmd(u8),
    /// Writes: anything that is not a plain read.
    Write,
}

/// How a successful write is answered (firmware differs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteAnswer {
    /// `{"success":"true"}`, as captured from SX units.
    #[default]
    Success,
    /// The full `{"cmd":1}` answer, as the vendor docs (2.5) describe.
    Parameters,
}

/// Counters since start (or the last [`MockThermostat::reset_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// HTTP requests read.
    pub requests: usize,
    /// The most requests seen in flight at once (1 when clients take turns).
    pub max_concurrent: usize,
    /// Requests answered busy because another was in flight.
    pub concurrent_refused: usize,
    /// The shortest time from the end of one answer to the next request; `None` before two requests.
    pub min_gap: Option<Duration>,
    /// Write requests applied.
    pub writes_applied: usize,
    /// Write requests refused with `{"success":"block"}`.
    pub writes_blocked: usize,
    /// Write requests refused with `{"success":"false"}` (bad sn, id, type or value).
    pub writes_rejected: usize,
    /// Requests with `time` and no data, which set the device clock.
    pub clock_sets: usize,
}

struct FaultRule {
    on: On,
    fault: DeviceFault,
    remaining: usize,
}

struct Device {
    parameters: Vec<(u16, u8, String)>,
    schedule: Map<String, Value>,
    telemetry: Map<String, Value>,
    clock_offset: i64,
    last_time: Option<u32>,
    applied: Vec<(u16, String)>,
    stats: DeviceStats,
    last_end: Option<Instant>,
    faults: Vec<FaultRule>,
    bodies: Vec<String>,
}

struct Shared {
    sn: String,
    key: Option<(String, Scheme)>,
    cmd3: bool,
    sn_in_answers: bool,
    write_answer: WriteAnswer,
    service_time: Duration,
    in_flight: AtomicUsize,
    shutdown: AtomicBool,
    device: Mutex<Device>,
}

/// A parameter set like an SX unit's on firmware 2.4: ids, the type codes
/// the device reports (31 and 29 as int8, where the vendor's table says
/// uint8, as a real unit does) and values.
pub fn demo_parameters() -> Vec<(u16, u8, String)> {
    let list: [(u16, u8, &str); 38] = [
        (0, 6, "0"),
        (1, 6, "0"),
        (2, 2, "0"),
        (3, 2, "0"),
        (4, 1, "23"),
        (5, 1, "27"),
        (6, 1, "16"),
        (7, 1, "18"),
        (14, 2, "5"),
        (15, 2, "35"),
        (17, 4, "1500"),
        (18, 2, "3"),
        (19, 2, "10"),
        (20, 1, "0"),
        (21, 1, "0"),
        (23, 2, "5"),
        (25, 2, "0"),
        (26, 1, "45"),
        (27, 1, "5"),
        (28, 2, "16"),
        (29, 1, "0"),
        (31, 1, "27"),
        (33, 1, "35"),
        (34, 1, "5"),
        (52, 4, "1380"),
        (53, 4, "420"),
        (54, 2, "3"),
        (109, 7, "0"),
        (114, 7, "0"),
        (115, 7, "0"),
        (117, 7, "0"),
        (118, 7, "0"),
        (120, 7, "0"),
        (121, 7, "0"),
        (122, 7, "0"),
        (124, 7, "0"),
        (125, 7, "0"),
        (130, 0, "SX"),
    ];
    list.iter()
        .map(|(id, t, v)| (*id, *t, v.to_string()))
        .collect()
}

/// Settings for a [`MockThermostat`]: the demo SX, unlocked, clock in step with this machine.
pub struct MockThermostatBuilder {
    sn: String,
    key: Option<(String, Scheme)>,
    parameters: Vec<(u16, u8, String)>,
    clock_offset: i64,
    cmd3: bool,
    sn_in_answers: bool,
    write_answer: WriteAnswer,
    service_time: Duration,
    faults: Vec<FaultRule>,
}

impl MockThermostatBuilder {
    /// The serial number.
    pub fn sn(mut self, sn: impl Into<String>) -> Self {
        self.sn = sn.into();
        self
    }

    /// LAN locking on (parameter 114 = 1): writes need `time` and an `auth`
    /// that `scheme` gives for `key` (the key text as the cloud sends it).
    pub fn locked(mut self, key: impl Into<String>, scheme: Scheme) -> Self {
        self.key = Some((key.into(), scheme));
        self.set(114, "1")
    }

    /// The device clock runs this many seconds ahead of this machine's (negative: behind).
    pub fn clock_offset(mut self, seconds: i64) -> Self {
        self.clock_offset = seconds;
        self
    }

    /// Firmware without `{"cmd":3}`: it answers with an object without `time`;
    /// the telemetry still has `time`.
    pub fn without_cmd3(mut self) -> Self {
        self.cmd3 = false;
        self
    }

    /// Answers without `sn` members (firmware differs).
    pub fn without_sn_in_answers(mut self) -> Self {
        self.sn_in_answers = false;
        self
    }

    /// How a write is answered.
    pub fn write_answer(mut self, style: WriteAnswer) -> Self {
        self.write_answer = style;
        self
    }

    /// How long each request takes to serve (default 2 ms); longer makes overlaps easier to see.
    pub fn service_time(mut self, d: Duration) -> Self {
        self.service_time = d;
        self
    }

    /// Sets a listed parameter's value.
    pub fn set(mut self, id: u16, value: &str) -> Self {
        if let Some(p) = self.parameters.iter_mut().find(|p| p.0 == id) {
            p.2 = value.to_string();
        }
        self
    }

    /// Replaces the parameter list.
    pub fn parameters(mut self, list: Vec<(u16, u8, String)>) -> Self {
        self.parameters = list;
        self
    }

    /// The next `times` requests matching `on` get `fault`.
    pub fn fault(mut self, on: On, fault: DeviceFault, times: usize) -> Self {
        self.faults.push(FaultRule {
            on,
            fault,
            remaining: times,
        });
        self
    }

    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn start(self) -> io::Result<MockThermostat> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut schedule = Map::new();
        for day in 0..7 {
            schedule.insert(
                day.to_string(),
                json!([[360, 240], [480, 180], [1020, 240], [1320, 180]]),
            );
        }
        let telemetry = json!({
            "t.1": "432", "t.2": "368", "t.5": "432", "m.0": "0", "m.1": "0",
            "m.3": if self.key.is_some() { "2" } else { "0" },
            "o.0": "-61", "f.0": "1", "f.16": "0",
        });
        let shared = Arc::new(Shared {
            sn: self.sn,
            key: self.key,
            cmd3: self.cmd3,
            sn_in_answers: self.sn_in_answers,
            write_answer: self.write_answer,
            service_time: self.service_time,
            in_flight: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            device: Mutex::new(Device {
                parameters: self.parameters,
                schedule,
                telemetry: telemetry.as_object().cloned().unwrap_or_default(),
                clock_offset: self.clock_offset,
                last_time: None,
                applied: Vec::new(),
                stats: DeviceStats::default(),
                last_end: None,
                faults: self.faults,
                bodies: Vec::new(),
            }),
        });
        let accept = super::serve_each(listener, shared.clone(), |s| &s.shutdown, serve);
        Ok(MockThermostat {
            addr,
            shared,
            accept: Some(accept),
        })
    }
}

/// A running stand-in thermostat; stops when dropped.
pub struct MockThermostat {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockThermostat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockThermostat")
            .field("addr", &self.addr)
            .field("sn", &self.shared.sn)
            .finish()
    }
}

impl MockThermostat {
    /// Settings to start from: [`DEMO_SN`], [`demo_parameters`], unlocked.
    pub fn builder() -> MockThermostatBuilder {
        MockThermostatBuilder {
            sn: DEMO_SN.to_string(),
            key: None,
            parameters: demo_parameters(),
            clock_offset: 0,
            cmd3: true,
            sn_in_answers: true,
            write_answer: WriteAnswer::Success,
            service_time: Duration::from_millis(2),
            faults: Vec::new(),
        }
    }

    /// Starts the default stand-in.
    pub fn start() -> io::Result<MockThermostat> {
        MockThermostat::builder().start()
    }

    /// `127.0.0.1:port`, for [`Thermostat::new`].
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The serial number.
    pub fn sn(&self) -> &str {
        &self.shared.sn
    }

    /// A client for this stand-in with default settings (no key, 1 s between requests).
    pub fn client(&self) -> Thermostat {
        Thermostat::new(&self.host(), &self.shared.sn).expect("the stand-in's address is valid")
    }

    /// The device clock now: seconds since 2000.
    pub fn device_time(&self) -> u32 {
        device_now(lock(&self.shared.device).clock_offset)
    }

    /// Sets the device clock to run `seconds` ahead of this machine's (negative: behind).
    pub fn set_clock_offset(&self, seconds: i64) {
        lock(&self.shared.device).clock_offset = seconds;
    }

    /// A parameter's current value.
    pub fn parameter(&self, id: u16) -> Option<String> {
        lock(&self.shared.device)
            .parameters
            .iter()
            .find(|p| p.0 == id)
            .map(|p| p.2.clone())
    }

    /// Every `(id, value)` applied by a write, in order.
    pub fn applied(&self) -> Vec<(u16, String)> {
        lock(&self.shared.device).applied.clone()
    }

    /// Every request body as received, in order (they hold tokens: tests only).
    pub fn bodies(&self) -> Vec<String> {
        lock(&self.shared.device).bodies.clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> DeviceStats {
        lock(&self.shared.device).stats
    }

    /// Zeroes the counters and forgets bodies and applied writes.
    pub fn reset_stats(&self) {
        let mut device = lock(&self.shared.device);
        device.stats = DeviceStats::default();
        device.last_end = None;
        device.applied.clear();
        device.bodies.clear();
    }

    /// The next `times` requests matching `on` get `fault`.
    pub fn inject(&self, on: On, fault: DeviceFault, times: usize) {
        lock(&self.shared.device).faults.push(FaultRule {
            on,
            fault,
            remaining: times,
        });
    }
}

impl Drop for MockThermostat {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn device_now(offset: i64) -> u32 {
    (i64::from(totp::device_time_now()) + offset).clamp(0, i64::from(u32::MAX)) as u32
}

/// What one request gets.
enum Reply {
    Json(Value),
    Raw(Vec<u8>),
    Silence,
}

fn serve(tcp: TcpStream, shared: &Shared) -> io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    tcp.set_nodelay(true)?;
    let mut reader = BufReader::new(tcp);
    while let Some(request) = read_request(&mut reader)? {
        let reply =
            if !request.well_formed || request.method != "POST" || request.path != "/api.cgi" {
                Reply::Raw(Answer::json(404, json!({})).bytes())
            } else {
                take_turn(shared, &request)
            };
        let bytes = match reply {
            Reply::Json(v) => Answer::json(200, v).bytes(),
            Reply::Raw(bytes) => bytes,
            Reply::Silence => {
                let start = Instant::now();
                while !shared.shutdown.load(Ordering::SeqCst) && start.elapsed() < HANG_LIMIT {
                    thread::sleep(Duration::from_millis(20));
                }
                return Ok(());
            }
        };
        reader.get_mut().write_all(&bytes)?;
        reader.get_mut().flush()?;
        if request.header("connection") == Some("close") {
            break;
        }
    }
    Ok(())
}

/// One request at a time: a second one in flight is answered busy.
fn take_turn(shared: &Shared, request: &Request) -> Reply {
    let start = Instant::now();
    let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    {
        let mut device = lock(&shared.device);
        device.stats.requests += 1;
        device.stats.max_concurrent = device.stats.max_concurrent.max(in_flight);
        if let Some(end) = device.last_end {
            let gap = start.saturating_duration_since(end);
            device.stats.min_gap = Some(device.stats.min_gap.map_or(gap, |g| g.min(gap)));
        }
        device
            .bodies
            .push(String::from_utf8_lossy(&request.body).into_owned());
        if in_flight > 1 {
            device.stats.concurrent_refused += 1;
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Reply::Json(json!({"status": "timeout"}));
        }
    }
    thread::sleep(shared.service_time);
    let reply = handle(shared, &request.body);
    let mut device = lock(&shared.device);
    device.last_end = Some(Instant::now());
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    reply
}

fn handle(shared: &Shared, body: &[u8]) -> Reply {
    let request = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        _ => return Reply::Json(json!({"success": "false"})),
    };
    let read = match request.get("cmd").and_then(Value::as_u64) {
        Some(cmd @ 1..=4) if !request.contains_key("par") && !request.contains_key("tt") => {
            Some(cmd as u8)
        }
        _ => None,
    };
    let mut device = lock(&shared.device);
    let fault = take_fault(&mut device.faults, read);
    match fault {
        Some(DeviceFault::Busy) => return Reply::Json(json!({"status": "timeout"})),
        Some(DeviceFault::NoAnswer) => return Reply::Silence,
        _ => {}
    }
    let answer = match read {
        Some(cmd) => read_answer(shared, &device, cmd),
        None => write(shared, &mut device, &request),
    };
    match fault {
        Some(DeviceFault::Empty) => Reply::Raw(
            Answer {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
            }
            .bytes(),
        ),
        Some(DeviceFault::CutOff) => {
            let mut text = answer.to_string().into_bytes();
            text.truncate(text.len() / 2);
            Reply::Raw(
                Answer {
                    status: 200,
                    headers: Vec::new(),
                    body: text,
                }
                .bytes(),
            )
        }
        _ => Reply::Json(answer),
    }
}

fn take_fault(faults: &mut Vec<FaultRule>, read: Option<u8>) -> Option<DeviceFault> {
    let i = faults.iter().position(|r| match r.on {
        On::Any => true,
        On::Cmd(c) => read == Some(c),
        On::Write => read.is_none(),
    })?;
    let fault = faults[i].fault;
    faults[i].remaining -= 1;
    if faults[i].remaining == 0 {
        faults.remove(i);
    }
    Some(fault)
}

fn with_sn(shared: &Shared, mut answer: Map<String, Value>) -> Value {
    if shared.sn_in_answers {
        let mut out = Map::new();
        out.insert("sn".into(), json!(shared.sn));
        out.append(&mut answer);
        return Value::Object(out);
    }
    Value::Object(answer)
}

fn read_answer(shared: &Shared, device: &Device, cmd: u8) -> Value {
    let mut answer = Map::new();
    match cmd {
        1 => {
            let par: Vec<Value> = device
                .parameters
                .iter()
                .map(|(id, t, v)| json!([id, t, v]))
                .collect();
            answer.insert("par".into(), Value::Array(par));
        }
        2 => return json!({"tt": device.schedule}),
        3 if shared.cmd3 => {
            answer.insert(
                "time".into(),
                json!(device_now(device.clock_offset).to_string()),
            );
        }
        3 => {}
        _ => {
            answer = device.telemetry.clone();
            answer.insert(
                "time".into(),
                json!(device_now(device.clock_offset).to_string()),
            );
        }
    }
    with_sn(shared, answer)
}

fn flag(device: &Device, id: u16) -> bool {
    device.parameters.iter().any(|p| p.0 == id && p.2 == "1")
}

/// Applies a write when it passes the device's checks; answers as the firmware does.
fn write(shared: &Shared, device: &mut Device, request: &Map<String, Value>) -> Value {
    let text = |name: &str| request.get(name).and_then(Value::as_str);
    let time = text("time").and_then(|t| t.parse::<u32>().ok());
    let now = device_now(device.clock_offset);
    let blocked = |device: &mut Device| {
        device.stats.writes_blocked += 1;
        json!({"success": "block"})
    };
    // LAN and cloud locking both on: every network write is refused.
    if flag(device, 114) && flag(device, 115) {
        return blocked(device);
    }
    if flag(device, 114) {
        let Some((key, scheme)) = &shared.key else {
            return blocked(device);
        };
        let (Some(time), Some(auth)) = (time, text("auth")) else {
            return blocked(device);
        };
        let expected = scheme.code(key.as_bytes(), time).map(|c| c.to_string());
        // The token must be right for the time sent, and that time within one
        // 30-second window of the device's own clock.
        let window = |t: u32| i64::from(t / totp::PERIOD);
        let fresh = (window(time) - window(now)).abs() <= 1;
        if expected.as_deref() != Ok(auth) || !fresh {
            return blocked(device);
        }
    }
    if let Some(time) = time {
        // No command with a time earlier than the last one processed.
        if device.last_time.is_some_and(|last| time < last) {
            return blocked(device);
        }
    }
    if text("sn") != Some(shared.sn.as_str()) {
        device.stats.writes_rejected += 1;
        return json!({"success": "false"});
    }
    let data: Vec<&String> = request
        .keys()
        .filter(|k| !["sn", "time", "auth"].contains(&k.as_str()))
        .collect();
    if data.is_empty() {
        if let Some(time) = time {
            // Only sn and time: the device sets its clock (and would stop syncing it from the cloud).
            device.stats.clock_sets += 1;
            device.clock_offset = i64::from(time) - i64::from(totp::device_time_now());
            return json!({"success": "true"});
        }
        device.stats.writes_rejected += 1;
        return json!({"success": "false"});
    }
    let mut changes = Vec::new();
    if let Some(par) = request.get("par") {
        let Some(entries) = par.as_array() else {
            device.stats.writes_rejected += 1;
            return json!({"success": "false"});
        };
        for entry in entries {
            match check_entry(device, entry) {
                Some(change) => changes.push(change),
                None => {
                    device.stats.writes_rejected += 1;
                    return json!({"success": "false"});
                }
            }
        }
    }
    if let Some(Value::Object(days)) = request.get("tt") {
        for (day, periods) in days {
            device.schedule.insert(day.clone(), periods.clone());
        }
    }
    for (id, value) in changes {
        if let Some(p) = device.parameters.iter_mut().find(|p| p.0 == id) {
            p.2 = value.clone();
        }
        device.applied.push((id, value));
    }
    if let Some(time) = time {
        device.last_time = Some(device.last_time.map_or(time, |last| last.max(time)));
    }
    device.stats.writes_applied += 1;
    match shared.write_answer {
        WriteAnswer::Success => json!({"success": "true"}),
        WriteAnswer::Parameters => read_answer(shared, device, 1),
    }
}

/// `[id, type, "value"]` checked against the device's own list and type codes.
fn check_entry(device: &Device, entry: &Value) -> Option<(u16, String)> {
    let [id, code, value] = entry.as_array()?.as_slice() else {
        return None;
    };
    let id = u16::try_from(id.as_u64()?).ok()?;
    let code = u8::try_from(code.as_u64()?).ok()?;
    let value = value.as_str()?;
    let listed = device.parameters.iter().find(|p| p.0 == id)?;
    if listed.1 != code || READ_ONLY.contains(&id) {
        return None;
    }
    let normal = ValueType::from_code(code)?.normalize(value).ok()?;
    (normal == value).then_some((id, normal))
}

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
