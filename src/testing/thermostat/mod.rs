//! [`MockThermostat`]: the stand-in thermostat, a real HTTP server on 127.0.0.1 that answers `api.cgi` as a device does.

mod announcer;
mod demo;
mod device;

pub use announcer::{Announcer, announcement};
pub use demo::{DEMO_KEY, DEMO_SN, demo_parameters};

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::Acceptor;
use super::fixture::{Fixture, WriteForm};
use crate::local::Thermostat;
use crate::sync::lock;
use crate::totp::Scheme;

use device::{device_now, serve};

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
    /// The answer, then one NUL byte (as some firmware's buffers end up on the wire).
    TrailingNul,
    /// The answer, then zeros and spaces up to 512 bytes.
    Padded,
    /// The answer, then a line end and `GARBAGE`: not padding, so ambiguous.
    TrailingGarbage,
    /// The answer without `Content-Length`, ended by closing the connection.
    NoContentLength,
    /// The answer chunked, every chunk line ended by a bare LF instead of CRLF.
    LfChunked,
    /// The answer's JSON alone, without a status line or headers, then close.
    NoStatusLine,
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
    /// Telemetry members that writes changed (`t.5` after 31, `m.1` after 2,
    /// `f.16` after 125, `m.3` after 114/115), laid over the cmd 4 answer
    /// where it has them, so that a read after a write shows it.
    telemetry_changes: Map<String, Value>,
    clock_offset: i64,
    last_time: Option<u32>,
    applied: Vec<(u16, String)>,
    stats: DeviceStats,
    last_end: Option<Instant>,
    faults: Vec<FaultRule>,
    bodies: Vec<String>,
}

/// A fixture being replayed: its answers, and its parameter list as recorded.
struct Replay {
    fixture: Fixture,
    /// `None` when the unit's cmd 1 has no `[id, type, value]` list (D2W).
    original: Option<Vec<(u16, u8, String)>>,
    write_form: WriteForm,
}

struct Shared {
    sn: String,
    replay: Option<Replay>,
    key: Option<(String, Scheme)>,
    cmd3: bool,
    sn_in_answers: bool,
    write_answer: WriteAnswer,
    service_time: Duration,
    in_flight: AtomicUsize,
    shutdown: AtomicBool,
    device: Mutex<Device>,
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
    replay: Option<Replay>,
}

impl MockThermostatBuilder {
    /// Answers as the unit `fixture` records (docs/FIXTURES.md): its serial,
    /// each `{"cmd":N}` answered with the recorded text byte for byte (`{}`
    /// when none is recorded), its parameters and type codes checked on
    /// writes, its write answer form and its block answer. A write that
    /// changes a value makes cmd 1 list the new value (the recorded answer
    /// with `par` replaced, compact). Call before [`locked`](Self::locked),
    /// which sets the key and scheme a fixture does not hold; with a key set,
    /// the `time` of cmd 3 and cmd 4 answers follows the stand-in's clock so
    /// that signed writes can be checked. A unit without a parameter list
    /// hmx can read (D2W) is locked by `locked` alone and answers any
    /// accepted write with its recorded write answer, applying nothing.
    pub fn fixture(mut self, fixture: &Fixture) -> Self {
        let original = fixture.parameters();
        self.sn = fixture.sn.clone();
        self.parameters = original.clone().unwrap_or_default();
        self.replay = Some(Replay {
            fixture: fixture.clone(),
            original,
            write_form: fixture.write_form(),
        });
        self
    }

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
            replay: self.replay,
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
                telemetry_changes: Map::new(),
                clock_offset: self.clock_offset,
                last_time: None,
                applied: Vec::new(),
                stats: DeviceStats::default(),
                last_end: None,
                faults: self.faults,
                bodies: Vec::new(),
            }),
        });
        let accept = super::serve_each(listener, shared.clone(), |s| &s.shutdown, serve)?;
        Ok(MockThermostat {
            addr,
            shared,
            _accept: accept,
        })
    }
}

/// A running stand-in thermostat; stops when dropped.
pub struct MockThermostat {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _accept: Acceptor,
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
            replay: None,
        }
    }

    /// Starts a stand-in answering as the unit in the fixture file at `path`, unlocked.
    pub fn from_fixture(path: impl AsRef<std::path::Path>) -> io::Result<MockThermostat> {
        let fixture = Fixture::load(path)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.message().to_string()))?;
        MockThermostat::builder().fixture(&fixture).start()
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
