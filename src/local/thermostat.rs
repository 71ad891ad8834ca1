//! [`Thermostat`]: the public API for one device's `api.cgi`: reads, writes and their settings.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};

use super::address::authority;
use super::gate::Gate;
use super::parameters::{self, Parameter, Schedule};
use super::session::{Kind, RawAnswer, Session, WriteTrace, check_data};
use crate::error::Error;
use crate::secret::TotpKey;
use crate::sync::lock;
use crate::totp::Scheme;

/// Default bound on one request, from connecting to the last byte of the answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default quiet time between the end of one request to a device and the start of the next.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Times a read is sent again after a busy, empty or cut-off answer (a write: after busy only).
pub const RETRIES: u32 = 2;
/// Wait before retry n is n times this (on top of the minimum interval).
pub const RETRY_BACKOFF: Duration = Duration::from_millis(250);

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
    pub(super) host: String,
    pub(super) url: String,
    pub(super) sn: String,
    pub(super) key: Option<TotpKey>,
    pub(super) scheme: Scheme,
    /// `host:port`, where requests go.
    pub(super) authority: String,
    pub(super) timeout: Duration,
    pub(super) min_interval: Duration,
    gate: Arc<Gate>,
    // The last parameter list read: where writes take their type codes from.
    pub(super) listed: Mutex<Option<Vec<Parameter>>>,
}

/// A second handle on the same device, with the same settings and the
/// parameter list read so far; it shares the device's pacing.
impl Clone for Thermostat {
    fn clone(&self) -> Thermostat {
        Thermostat {
            host: self.host.clone(),
            url: self.url.clone(),
            sn: self.sn.clone(),
            key: self.key.clone(),
            scheme: self.scheme,
            timeout: self.timeout,
            min_interval: self.min_interval,
            authority: self.authority.clone(),
            gate: self.gate.clone(),
            listed: Mutex::new(lock(&self.listed).clone()),
        }
    }
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
            gate: Gate::for_device(&authority),
            authority,
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
    /// the type code the device reports and the value as sent. A unit that
    /// answers without a `par` list, or with `par` as an object of values
    /// without type codes (Welrok D2W), is `Protocol`, saying so: hmx does
    /// not guess type codes.
    pub fn parameters(&self) -> Result<Vec<Parameter>, Error> {
        let answer = self.read(1)?;
        let list = parameters::parse_parameters(&answer).map_err(|e| self.context(e))?;
        *lock(&self.listed) = Some(list.clone());
        Ok(list)
    }

    /// `{"cmd":4}`: the telemetry object as sent, every member in the
    /// device's order, `sn` included (all values strings on known firmware:
    /// `t.N` temperatures in 1/16 °C, `m.N` modes, `o.0` RSSI, `f.N` flags,
    /// `time` on newer firmware). No field is required: some units leave
    /// fields out while off. Welrok D2W units nest the groups under
    /// `telemetry` with numbers and booleans; hmx returns that as sent too.
    pub fn telemetry(&self) -> Result<Map<String, Value>, Error> {
        self.read(4)
    }

    /// `{"cmd":2}`: the week's schedule. A unit without a schedule (relay
    /// units such as Welrok MS and D2W) answers without `tt`: `Protocol`,
    /// saying the unit lacks the command.
    pub fn schedule(&self) -> Result<Schedule, Error> {
        let answer = self.read(2)?;
        parameters::parse_schedule(&answer).map_err(|e| self.context(e))
    }

    /// The device's clock, seconds since 2000-01-01T00:00:00Z: `{"cmd":3}`,
    /// or the telemetry's `time` on firmware that answers cmd 3 without one
    /// or with text that is not JSON. `time` may be a string or a JSON number.
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
        self.set_traced(values, &mut WriteTrace::default())
    }

    /// [`set`](Thermostat::set), noting what was sent and answered in
    /// `trace` (for the probe, which keeps the unit's answers).
    pub(super) fn set_traced<V: fmt::Display>(
        &self,
        values: &[(u16, V)],
        trace: &mut WriteTrace,
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
            if values.iter().take(i).any(|(seen, _)| seen == id) {
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
        let answer = self.session().write_traced(&data, self.scheme, trace)?;
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

    /// `{"cmd":N}` (any N), paced and retried as reads are, keeping the
    /// answer's exact text: what a fixture records. An answer that is not
    /// one JSON object is returned as text, not refused (see
    /// [`Session::read_raw`]).
    pub(crate) fn read_raw(&self, cmd: u8) -> Result<RawAnswer, Error> {
        self.session().read_raw(cmd)
    }

    pub(super) fn read(&self, cmd: u8) -> Result<Map<String, Value>, Error> {
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
            sent: false,
            last_body: None,
        }
    }

    pub(super) fn context(&self, e: Error) -> Error {
        let message = format!("thermostat {}: {}", self.host, e.message());
        e.with_message(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
