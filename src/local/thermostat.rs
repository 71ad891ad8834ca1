//! The client for one thermostat's `api.cgi`: pacing, the device clock, signing and retries.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use ureq::Agent;
use zeroize::Zeroizing;

use super::parameters::{self, Parameter, Schedule, ValueType, loose_u64};
use crate::error::{Error, ErrorKind};
use crate::secret::TotpKey;
use crate::sync::lock;
use crate::totp::{self, Scheme};

/// The device's HTTP port.
pub const DEFAULT_PORT: u16 = 80;
/// Default bound on one request, from connecting to the last byte of the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default quiet time between the end of one request to a device and the start of the next.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Times a read is sent again after a busy, empty or cut-off answer (a write: after busy only).
pub const RETRIES: u32 = 2;
/// Wait before retry n is n times this (on top of the minimum interval).
pub const RETRY_BACKOFF: Duration = Duration::from_millis(250);

/// What a read retried after lost connections ended with.
const DROPPED: &str = "a dropped connection";
/// Longest serial number accepted (devices have 30 hex characters).
const MAX_SN_LEN: usize = 64;

/// What a write answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// `{"success":"true"}`, as the firmware in the field captures answers.
    Accepted,
    /// The full parameter list after the write, as the vendor docs (2.5) describe.
    Parameters(Vec<Parameter>),
}

/// One thermostat on the LAN, by address and serial number.
///
/// `Send + Sync`; every method takes `&self`. However many `Thermostat`s
/// and threads talk to one address, hmx sends it one request at a time, with
/// at least the [minimum interval](Thermostat::min_interval) between the end
/// of one and the start of the next: the devices serve one request at a
/// time and answer `{"status":"timeout"}` to a second.
///
/// ```no_run
/// use hmx::local::Thermostat;
/// # let key = hmx::TotpKey::new("BW4ERXAJXXXXXXXX".into());
/// let t = Thermostat::new("192.168.1.40", "058016000543464839373520000159")?.key(key);
/// for p in t.parameters()? {
///     println!("{} (type {}) = {}", p.id, p.type_code, p.value);
/// }
/// t.set(&[(23, 5)])?;                      // brightness 5, signed with the device's own clock
/// # Ok::<(), hmx::Error>(())
/// ```
pub struct Thermostat {
    host: String,
    url: String,
    sn: String,
    key: Option<TotpKey>,
    scheme: Scheme,
    timeout: Duration,
    min_interval: Duration,
    agent: Agent,
    gate: Arc<Gate>,
    // The last parameter list read: where writes take their type codes from.
    listed: Mutex<Option<Vec<Parameter>>>,
}

impl fmt::Debug for Thermostat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thermostat")
            .field("url", &self.url)
            .field("sn", &self.sn)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("scheme", &self.scheme)
            .field("timeout", &self.timeout)
            .field("min_interval", &self.min_interval)
            .finish()
    }
}

/// Whether a request may be sent again after an answer that says nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Reading changes nothing: retried after busy, empty and cut-off answers.
    Read,
    /// The device may have acted: retried only after it said busy.
    Write,
}

/// An answer before retries are decided.
enum Answer {
    Object(Map<String, Value>),
    Busy,
    Empty,
    CutOff,
    NotJson,
}

impl Thermostat {
    /// A client for the device at `host` (an IP address or name, with an
    /// optional `:port`; IPv6 in brackets when a port follows) whose serial
    /// number is `sn`. Nothing is sent yet. A host with a scheme, a path or
    /// characters a host cannot have, or an empty or non-ASCII `sn`, is
    /// `InvalidArgument`.
    pub fn new(host: &str, sn: &str) -> Result<Thermostat, Error> {
        let authority = authority(host)?;
        let sn = sn.trim();
        if sn.is_empty() || sn.len() > MAX_SN_LEN || !sn.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Error::invalid(
                "sn must be 1 to 64 ASCII letters and digits",
            ));
        }
        Ok(Thermostat {
            host: host.trim().to_string(),
            url: format!("http://{authority}/api.cgi"),
            sn: sn.to_string(),
            key: None,
            scheme: Scheme::default(),
            timeout: DEFAULT_TIMEOUT,
            min_interval: DEFAULT_MIN_INTERVAL,
            agent: agent(DEFAULT_TIMEOUT),
            gate: Gate::for_device(&authority),
            listed: Mutex::new(None),
        })
    }

    /// Signs writes with this key (needed when LAN locking is on).
    pub fn key(mut self, key: TotpKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The token scheme for signed writes; default [`Scheme::RAW_2000`].
    /// [`probe`](Thermostat::probe) tells which one a device accepts.
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// Bound on each request, from connecting to the last byte; default 5 s.
    /// Zero is raised to 1 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self.agent = agent(self.timeout);
        self
    }

    /// Quiet time between the end of one request to this device and the
    /// start of the next, across threads; default 1 s (integrations in the
    /// field wait 0.5 to 1 s, and the vendor blames devices that go down on
    /// too many requests).
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// The serial number requests carry.
    pub fn sn(&self) -> &str {
        &self.sn
    }

    /// `http://host:port/api.cgi`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `{"cmd":1}`: every parameter the device lists, in its order, each with
    /// the type code the device reports and the value as sent.
    pub fn parameters(&self) -> Result<Vec<Parameter>, Error> {
        let answer = self.read(1)?;
        let list = parameters::parse_parameters(&answer).map_err(|e| self.context(e))?;
        *lock(&self.listed) = Some(list.clone());
        Ok(list)
    }

    /// `{"cmd":4}`: the telemetry object as sent (all values strings on known
    /// firmware: `t.N` temperatures in 1/16 °C, `m.N` modes, `o.0` RSSI, `f.N`
    /// flags, `time` on newer firmware). No field is required: some units
    /// leave fields out while off.
    pub fn telemetry(&self) -> Result<Map<String, Value>, Error> {
        let mut answer = self.read(4)?;
        answer.remove("sn");
        Ok(answer)
    }

    /// `{"cmd":2}`: the week's schedule.
    pub fn schedule(&self) -> Result<Schedule, Error> {
        let answer = self.read(2)?;
        parameters::parse_schedule(&answer).map_err(|e| self.context(e))
    }

    /// The device's clock, seconds since 2000-01-01T00:00:00Z: `{"cmd":3}`,
    /// or the telemetry's `time` on firmware that answers cmd 3 without one.
    pub fn device_time(&self) -> Result<u32, Error> {
        self.session().device_time()
    }

    /// Writes parameters (`{"par":[[id, type, "value"], ...]}`), signed when a
    /// key is set. Each value goes out with the type code the device itself
    /// lists for that id (read with `{"cmd":1}` first if this `Thermostat` has
    /// not read the list yet); integers are range-checked for that type and
    /// booleans may be `0`/`1`/`true`/`false`. An id the device does not
    /// list, a value that does not fit, a repeated id or an empty list is
    /// `InvalidArgument`, and nothing is sent.
    ///
    /// A write is sent again only after the device answered busy; after an
    /// empty or cut-off answer it may have acted, so the error says so instead.
    pub fn set<V: fmt::Display>(&self, values: &[(u16, V)]) -> Result<Written, Error> {
        self.set_with(values, self.scheme)
    }

    pub(crate) fn set_with<V: fmt::Display>(
        &self,
        values: &[(u16, V)],
        scheme: Scheme,
    ) -> Result<Written, Error> {
        if values.is_empty() {
            return Err(Error::invalid("nothing to write"));
        }
        let cached = lock(&self.listed).clone();
        let listed = match cached {
            Some(list) => list,
            None => self.parameters()?,
        };
        let mut par = Vec::with_capacity(values.len());
        for (i, (id, value)) in values.iter().enumerate() {
            if values[..i].iter().any(|(seen, _)| seen == id) {
                return Err(Error::invalid(format!("parameter {id} is given twice")));
            }
            let Some(p) = parameters::find(&listed, *id) else {
                return Err(Error::invalid(format!(
                    "parameter {id} is not one the device lists; nothing was sent"
                )));
            };
            let Some(value_type) = p.value_type() else {
                return Err(Error::invalid(format!(
                    "parameter {id} has type code {}, which hmx does not know; nothing was sent",
                    p.type_code
                )));
            };
            let value = value_type
                .normalize(&value.to_string())
                .map_err(|e| Error::invalid(format!("parameter {id}: {e}")))?;
            par.push(Value::Array(vec![
                Value::from(*id),
                Value::from(p.type_code),
                Value::String(value),
            ]));
        }
        let mut data = Map::new();
        data.insert("par".into(), Value::Array(par));
        let answer = self.session().write(&data, scheme)?;
        match answer.get("success").and_then(Value::as_str) {
            Some("true") => return Ok(Written::Accepted),
            Some(other) => {
                return Err(self.context(Error::protocol(format!(
                    "the device did not confirm the write: it answered success = {other:?}"
                ))));
            }
            None => {}
        }
        if answer.contains_key("par") {
            let list = parameters::parse_parameters(&answer).map_err(|e| self.context(e))?;
            *lock(&self.listed) = Some(list.clone());
            return Ok(Written::Parameters(list));
        }
        Err(self.context(Error::protocol(
            "the device answered the write with neither `success` nor `par`",
        )))
    }

    /// Sends any other command and returns the answer object as sent.
    ///
    /// `data` (a JSON object: a `serde_json::Map` or `json!({...})`) is the request without `sn`, `time` and `auth` (hmx adds them;
    /// giving one is `InvalidArgument`, and so is an empty `data`, since a
    /// body with only `sn` and `time` would set the device's clock). A body
    /// that is exactly `{"cmd":1}` to `{"cmd":4}` is a read: sent unsigned and
    /// retried like the read methods. Everything else is treated as a write:
    /// `sn` added, signed when a key is set, retried only after busy. Unlike
    /// [`set`](Thermostat::set), `par` values are sent as given.
    pub fn request(&self, data: impl Into<Value>) -> Result<Map<String, Value>, Error> {
        let Value::Object(data) = data.into() else {
            return Err(Error::invalid("the request must be a JSON object"));
        };
        check_data(&data)?;
        let read = match data.get("cmd").and_then(Value::as_u64) {
            Some(cmd @ 1..=4) if data.len() == 1 => Some(cmd as u8),
            _ => None,
        };
        if let Some(cmd) = read {
            return self.read(cmd);
        }
        self.session().write(&data, self.scheme)
    }

    /// The key, for the probe.
    pub(crate) fn key_ref(&self) -> Option<&TotpKey> {
        self.key.as_ref()
    }

    fn read(&self, cmd: u8) -> Result<Map<String, Value>, Error> {
        let body = format!(r#"{{"cmd":{cmd}}}"#);
        self.session()
            .exchange(body.as_bytes(), Kind::Read, &format!("cmd {cmd}"))
    }

    /// Takes this device's turn: until the session is dropped, no other
    /// request goes to the device from this process.
    fn session(&self) -> Session<'_> {
        Session {
            t: self,
            last_end: lock(&self.gate.last_end),
        }
    }

    fn context(&self, e: Error) -> Error {
        let kind = e.kind();
        let mut out = Error::new(kind, format!("thermostat {}: {}", self.host, e.message()));
        if let Some(status) = e.status() {
            out = out.with_status(status);
        }
        out
    }
}

/// One device's turn at the wire: sends requests paced by the minimum interval.
struct Session<'a> {
    t: &'a Thermostat,
    last_end: MutexGuard<'a, Option<Instant>>,
}

impl Session<'_> {
    /// Waits until the minimum interval since the last request's end has passed.
    fn pace(&self) {
        if let Some(end) = *self.last_end {
            let ready = end + self.t.min_interval;
            let now = Instant::now();
            if ready > now {
                thread::sleep(ready - now);
            }
        }
    }

    /// Sends `body` once (after pacing) and sorts out the answer.
    fn send_once(&mut self, body: &[u8], what: &str) -> Result<Answer, Error> {
        self.pace();
        let result = self
            .t
            .agent
            .post(&self.t.url)
            .header("Content-Type", "application/json")
            .header("Connection", "close")
            .send(body)
            .map_err(|e| Error::from_transport(e, what))
            .and_then(|response| crate::cloud::read_reply(response, what));
        *self.last_end = Some(Instant::now());
        let reply = result?;
        if !(200..=299).contains(&reply.status) {
            return Err(
                Error::new(ErrorKind::Http, format!("{what}: HTTP {}", reply.status))
                    .with_status(reply.status),
            );
        }
        let text = reply.body.trim_ascii();
        if text.is_empty() {
            return Ok(Answer::Empty);
        }
        let answer = match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(Error::protocol(format!(
                    "{what}: the answer is not a JSON object"
                )));
            }
            Err(e) if e.is_eof() => return Ok(Answer::CutOff),
            Err(_) => return Ok(Answer::NotJson),
        };
        if answer.get("status").and_then(Value::as_str) == Some("timeout") {
            return Ok(Answer::Busy);
        }
        if answer.get("success").and_then(Value::as_str) == Some("block") {
            return Err(Error::new(
                ErrorKind::Blocked,
                format!(
                    "{what}: the device refused the request: LAN locking is on and the token was missing or wrong"
                ),
            ));
        }
        match answer.get("sn") {
            Some(Value::String(sn)) if !sn.trim().eq_ignore_ascii_case(&self.t.sn) => {
                return Err(Error::protocol(format!(
                    "{what}: the device at this address is {sn}, not {}",
                    self.t.sn
                )));
            }
            _ => {}
        }
        Ok(Answer::Object(answer))
    }

    /// Sends a fixed body, retrying as `kind` allows, and returns the answer object.
    fn exchange(
        &mut self,
        body: &[u8],
        kind: Kind,
        what: &str,
    ) -> Result<Map<String, Value>, Error> {
        self.exchange_with(kind, what, |_| Ok(Zeroizing::new(body.to_vec())))
    }

    /// Sends what `make` builds (afresh for every attempt, so a signed write
    /// sent again after busy gets a fresh clock read and token), retrying as
    /// `kind` allows.
    fn exchange_with(
        &mut self,
        kind: Kind,
        what: &str,
        mut make: impl FnMut(&mut Self) -> Result<Zeroizing<Vec<u8>>, Error>,
    ) -> Result<Map<String, Value>, Error> {
        let mut last = "";
        for attempt in 0..=RETRIES {
            if attempt > 0 {
                thread::sleep(RETRY_BACKOFF * attempt);
            }
            let body = make(self)?;
            let answer = match self.send_once(&body, what) {
                Ok(answer) => answer,
                Err(e) if kind == Kind::Read && e.is_transient() => {
                    last = DROPPED;
                    continue;
                }
                Err(e) => return Err(self.t.context(e)),
            };
            last = match answer {
                Answer::Object(map) => return Ok(map),
                Answer::Busy => "busy ({\"status\":\"timeout\"})",
                Answer::Empty => "an empty body",
                Answer::CutOff => "cut-off JSON",
                Answer::NotJson => "a body that is not JSON",
            };
            if kind == Kind::Write && !matches!(answer, Answer::Busy) {
                return Err(self.t.context(Error::protocol(format!(
                    "{what}: the device answered with {last}; it may have applied the write, so it was not sent again"
                ))));
            }
        }
        let tries = RETRIES + 1;
        let message = format!("{what}: the device answered {tries} times with {last}");
        let kind = if last.starts_with("busy") {
            ErrorKind::Timeout
        } else if last == DROPPED {
            ErrorKind::Network
        } else {
            ErrorKind::Protocol
        };
        Err(self.t.context(Error::new(kind, message)))
    }

    /// The device clock: cmd 3, else the telemetry's `time`.
    fn device_time(&mut self) -> Result<u32, Error> {
        for cmd in [3, 4] {
            let body = format!(r#"{{"cmd":{cmd}}}"#);
            let answer = self.exchange(body.as_bytes(), Kind::Read, &format!("cmd {cmd}"))?;
            if let Some(time) = answer.get("time") {
                return loose_u64(time)
                    .and_then(|t| u32::try_from(t).ok())
                    .ok_or_else(|| {
                        self.t.context(Error::protocol(format!(
                            "cmd {cmd}: the device clock {time} is not seconds since 2000"
                        )))
                    });
            }
        }
        Err(self.t.context(Error::protocol(
            "the device reports no clock: neither cmd 3 nor the telemetry has `time`",
        )))
    }

    /// A write: `sn` and `data`, signed with the device's clock when a key is set.
    fn write(
        &mut self,
        data: &Map<String, Value>,
        scheme: Scheme,
    ) -> Result<Map<String, Value>, Error> {
        check_data(data)?;
        let t = self.t;
        let Some(key) = &t.key else {
            let body = body(&t.sn, None, data);
            return self
                .exchange(&body, Kind::Write, "write")
                .map_err(|e| explain_block(e, "no key is set"));
        };
        let mut signed_at = 0;
        self.exchange_with(Kind::Write, "signed write", |session| {
            let (time, body) = session.sign(key, scheme, data)?;
            signed_at = time;
            Ok(body)
        })
        .map_err(|e| {
            explain_block(
                e,
                &format!("signed with scheme {scheme} at device time {signed_at}"),
            )
        })
    }

    /// Reads the clock and signs `data`, ready to send: the pacing wait is
    /// over. When a 30-second window may have turned during that wait, reads
    /// the clock and signs once more.
    fn sign(
        &mut self,
        key: &TotpKey,
        scheme: Scheme,
        data: &Map<String, Value>,
    ) -> Result<(u32, Zeroizing<Vec<u8>>), Error> {
        let window = |t: u64| t / u64::from(totp::PERIOD);
        for attempt in 0..2 {
            let time = self.device_time()?;
            let read_at = Instant::now();
            let code = scheme
                .code(key.as_bytes(), time)
                .map_err(|e| self.t.context(e))?;
            let body = body(&self.t.sn, Some((time, code)), data);
            self.pace();
            // The clock read is whole seconds: the device may be up to 1 s further on.
            let latest = u64::from(time) + read_at.elapsed().as_secs() + 1;
            if attempt == 0 && window(latest) != window(u64::from(time)) {
                continue;
            }
            return Ok((time, body));
        }
        unreachable!("the second attempt always returns")
    }
}

/// Adds what hmx knows to a `Blocked` error.
fn explain_block(e: Error, how: &str) -> Error {
    if e.kind() != ErrorKind::Blocked {
        return e;
    }
    Error::new(
        ErrorKind::Blocked,
        format!(
            "{} ({how}; if a fresh token is refused, Thermostat::probe tells which scheme the firmware uses)",
            e.message()
        ),
    )
}

/// `data` must be a non-empty object without the members hmx sets.
fn check_data(data: &Map<String, Value>) -> Result<(), Error> {
    if let Some(reserved) = ["sn", "time", "auth"]
        .into_iter()
        .find(|k| data.contains_key(*k))
    {
        return Err(Error::invalid(format!(
            "the request must not have a `{reserved}` member: hmx sets it"
        )));
    }
    if data.is_empty() {
        return Err(Error::invalid(
            "the request is empty (a body with only sn and time would set the device clock)",
        ));
    }
    Ok(())
}

/// `{"sn":…,"time":…,"auth":…, data…}` (time and auth only when signed), in a wiped buffer.
fn body(
    sn: &str,
    signed: Option<(u32, totp::Code)>,
    data: &Map<String, Value>,
) -> Zeroizing<Vec<u8>> {
    let mut head = Map::with_capacity(3);
    head.insert("sn".into(), Value::String(sn.to_string()));
    if let Some((time, code)) = signed {
        head.insert("time".into(), Value::String(time.to_string()));
        head.insert("auth".into(), Value::String(code.to_string()));
    }
    // Sized up front so the buffer holding the token never reallocates.
    let data_len = serde_json::to_vec(data).map_or(0, |v| v.len());
    let mut out = Zeroizing::new(Vec::with_capacity(data_len + 6 * sn.len() + 64));
    out.push(b'{');
    for (i, (k, v)) in head.iter().chain(data.iter()).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing strings and JSON values to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, v);
    }
    out.push(b'}');
    out
}

/// `host[:port]` for the URL, from an IP address or name with an optional port.
fn authority(host: &str) -> Result<String, Error> {
    let host = host.trim();
    let bad = || {
        Error::invalid(format!(
            "{host:?} is not a device address: give an IP address or host name, optionally with :port"
        ))
    };
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(match ip {
            std::net::IpAddr::V4(v4) => format!("{v4}:{DEFAULT_PORT}"),
            std::net::IpAddr::V6(v6) => format!("[{v6}]:{DEFAULT_PORT}"),
        });
    }
    if let Ok(addr) = host.parse::<std::net::SocketAddr>() {
        return Ok(addr.to_string());
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, port.parse::<u16>().map_err(|_| bad())?),
        None => (host, DEFAULT_PORT),
    };
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !name.starts_with(['-', '.']);
    if !valid || port == 0 {
        return Err(bad());
    }
    Ok(format!("{}:{port}", name.to_ascii_lowercase()))
}

fn agent(timeout: Duration) -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .save_redirect_history(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("hmx/", env!("CARGO_PKG_VERSION")))
        .accept("application/json")
        // The device is on the LAN: an environment proxy has no business seeing its tokens.
        .proxy(None)
        .build()
        .into()
}

/// The process-wide turn for one device address: the end of its last request.
struct Gate {
    last_end: Mutex<Option<Instant>>,
}

impl Gate {
    /// The gate for `authority`, shared by every `Thermostat` aimed at it.
    fn for_device(authority: &str) -> Arc<Gate> {
        type Registry = Mutex<Vec<(String, Weak<Gate>)>>;
        static GATES: OnceLock<Registry> = OnceLock::new();
        let mut gates = lock(GATES.get_or_init(Default::default));
        gates.retain(|(_, gate)| gate.strong_count() > 0);
        if let Some(gate) = gates
            .iter()
            .find(|(a, _)| a == authority)
            .and_then(|(_, g)| g.upgrade())
        {
            return gate;
        }
        let gate = Arc::new(Gate {
            last_end: Mutex::new(None),
        });
        gates.push((authority.to_string(), Arc::downgrade(&gate)));
        gate
    }
}

/// A parameter's value normalised for its listed type (for the probe).
pub(crate) fn listed_value(p: &Parameter) -> Option<String> {
    let t = p.value_type().filter(|t| *t != ValueType::String)?;
    t.normalize(&p.value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let ok = [
            ("192.168.0.1", "192.168.0.1:80"),
            (" 10.0.0.7:8080 ", "10.0.0.7:8080"),
            ("Thermostat.lan", "thermostat.lan:80"),
            ("therm-1:81", "therm-1:81"),
            ("::1", "[::1]:80"),
            ("[fe80::1]:8080", "[fe80::1]:8080"),
        ];
        for (given, want) in ok {
            assert_eq!(authority(given).unwrap(), want);
        }
        for bad in [
            "",
            "http://1.2.3.4",
            "1.2.3.4/api.cgi",
            "a:b",
            "host:0",
            "user@host",
            "-x",
            "a b",
        ] {
            assert!(authority(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_put_sn_time_auth_first() {
        let mut data = Map::new();
        data.insert("par".into(), serde_json::json!([[23, 2, "5"]]));
        let signed = body("SN1", Some((30, totp::code(b"k", 30))), &data);
        let text = std::str::from_utf8(&signed).unwrap();
        let want = format!(
            r#"{{"sn":"SN1","time":"30","auth":"{}","par":[[23,2,"5"]]}}"#,
            totp::code(b"k", 30)
        );
        assert_eq!(text, want);
        assert_eq!(
            &body("SN1", None, &data)[..],
            br#"{"sn":"SN1","par":[[23,2,"5"]]}"#
        );
        assert!(check_data(&Map::new()).is_err());
    }

    #[test]
    fn gates_are_shared_per_address() {
        let a = Thermostat::new("127.0.0.9:1234", "A1").unwrap();
        let b = Thermostat::new("127.0.0.9:1234", "B2").unwrap();
        let c = Thermostat::new("127.0.0.9:1235", "A1").unwrap();
        assert!(Arc::ptr_eq(&a.gate, &b.gate));
        assert!(!Arc::ptr_eq(&a.gate, &c.gate));
        assert!(
            format!("{:?}", a.key(crate::TotpKey::new("SECRETKEY".into()))).contains("<redacted>")
        );
    }
}
