//! One device's turn at the wire: pacing, the device clock, signed bodies and retries.

use std::sync::MutexGuard;
use std::thread;
use std::time::Instant;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::parameters::loose_u64;
use super::thermostat::Thermostat;
use super::wire;
use crate::error::{Error, ErrorKind};
use crate::framing::{self, Framed};
use crate::retry::{self, Retry};
use crate::secret::TotpKey;
use crate::totp::{self, Scheme};

/// What a busy device's answer is called in messages.
const BUSY: &str = "busy ({\"status\":\"timeout\"})";
/// What a read retried after lost connections ended with.
const DROPPED: &str = "a dropped connection";

/// Whether a request may be sent again after an answer that says nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
    /// Not JSON, or more than padding after it: what arrived, quoted.
    Unreadable(String),
}

/// One device's turn at the wire: sends requests paced by the minimum interval.
pub(super) struct Session<'a> {
    pub(super) t: &'a Thermostat,
    pub(super) last_end: MutexGuard<'a, Option<Instant>>,
    /// Whether the last request went out whole (so the device may have acted on it).
    pub(super) sent: bool,
    /// The body of the last answer with a 2xx status, as it arrived (`None`
    /// after a request that got none): what a fixture records.
    pub(super) last_body: Option<Zeroizing<Vec<u8>>>,
}

/// A read's answer as it arrived, for recording a unit ([`Fixture::record`](super::Fixture::record)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawAnswer {
    /// The body exactly as sent, padding included (bytes that are not UTF-8,
    /// possible only when it is not JSON, become U+FFFD).
    pub(crate) text: String,
    /// The answer object; `None` when the body is not one JSON object (empty,
    /// cut off, not JSON, or another JSON value).
    pub(crate) object: Option<Map<String, Value>>,
}

/// What a write sent and got, for the probe: the answer's text, and the
/// scheme and device time of each signed attempt (no tokens: whoever needs
/// them computes them from the key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WriteTrace {
    /// The body of the write's answer as it arrived, when one arrived with a 2xx status.
    pub(crate) answer: Option<String>,
    /// Each signed attempt's scheme and device time, in order.
    pub(crate) signed: Vec<(Scheme, u32)>,
}

/// A body as text for a fixture: answers are JSON, so UTF-8.
fn body_text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
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
        self.last_body = None;
        self.pace();
        let mut sent = false;
        let result = wire::post(&self.t.authority, body, self.t.timeout, what, &mut sent);
        self.sent = sent;
        *self.last_end = Some(Instant::now());
        let transient = retry::transient(&result);
        let reply = result?;
        if !(200..=299).contains(&reply.status) {
            let e = Error::new(ErrorKind::Http, format!("{what}: HTTP {}", reply.status))
                .with_status(reply.status);
            return Err(if transient { e.transient() } else { e });
        }
        let framed = framing::json_value(&reply.body);
        self.last_body = Some(reply.body);
        let answer = match framed {
            Framed::Value(Value::Object(map)) => map,
            Framed::Value(_) => {
                return Err(Error::protocol(format!(
                    "{what}: the answer is not a JSON object"
                )));
            }
            Framed::Empty => return Ok(Answer::Empty),
            Framed::CutOff => return Ok(Answer::CutOff),
            Framed::Unreadable(arrived) => return Ok(Answer::Unreadable(arrived)),
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
            Some(Value::String(sn)) if !crate::same_serial(sn, &self.t.sn) => {
                return Err(Error::protocol(format!(
                    "{what}: the device at this address is {sn}, not {}",
                    self.t.sn
                ))
                .answered_by_another_device());
            }
            _ => {}
        }
        Ok(Answer::Object(answer))
    }

    /// Sends a fixed body, retrying as `kind` allows, and returns the answer object.
    pub(super) fn exchange(
        &mut self,
        body: &[u8],
        kind: Kind,
        what: &str,
    ) -> Result<Map<String, Value>, Error> {
        self.exchange_with(kind, what, |_| Ok(Zeroizing::new(body.to_vec())))
    }

    /// `{"cmd":N}` for a recording: the answer's exact text with its object,
    /// retried as reads are. When the last try got a 2xx body that is not
    /// one JSON object (the unit answers so: the MS example's cmd 3 has a
    /// brace too many), that body is the answer instead of an error; every
    /// other failure (busy every time, no answer, another unit's serial, a
    /// refusal, an HTTP error) stays one.
    pub(super) fn read_raw(&mut self, cmd: u8) -> Result<RawAnswer, Error> {
        let body = format!(r#"{{"cmd":{cmd}}}"#);
        let result = self.exchange(body.as_bytes(), Kind::Read, &format!("cmd {cmd}"));
        let arrived = self.last_body.take();
        match (result, arrived) {
            (Ok(object), Some(arrived)) => Ok(RawAnswer {
                text: body_text(&arrived),
                object: Some(object),
            }),
            (Err(e), Some(arrived)) => match framing::json_value(&arrived) {
                // An object here was refused for what it says (busy, block, another sn).
                Framed::Value(Value::Object(_)) => Err(e),
                _ => Ok(RawAnswer {
                    text: body_text(&arrived),
                    object: None,
                }),
            },
            (Err(e), None) => Err(e),
            // An answer object always comes with its body.
            (Ok(_), None) => Err(self.t.context(Error::protocol(format!(
                "cmd {cmd}: the answer's body was not kept"
            )))),
        }
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
        let policy = Retry::DEVICE;
        // What the last try ended with, and the kind of error that makes.
        let (mut last, mut last_kind) = (String::new(), ErrorKind::Protocol);
        for attempt in 0..=policy.retries {
            policy.wait_before(attempt);
            let body = make(self)?;
            let answer = match self.send_once(&body, what) {
                Ok(answer) => answer,
                Err(e) if kind == Kind::Read && e.is_transient() => {
                    (last, last_kind) = (DROPPED.to_string(), ErrorKind::Network);
                    continue;
                }
                Err(e) if kind == Kind::Write && self.sent && e.kind() != ErrorKind::Blocked => {
                    let message = format!(
                        "{}; the request had reached the device, which may have applied the write, so it was not sent again",
                        e.message()
                    );
                    return Err(self.t.context(e.with_message(message)).applied_maybe());
                }
                Err(e) => return Err(self.t.context(e)),
            };
            (last, last_kind) = match answer {
                Answer::Object(map) => return Ok(map),
                Answer::Busy => (BUSY.to_string(), ErrorKind::Timeout),
                Answer::Empty => ("an empty body".to_string(), ErrorKind::Protocol),
                Answer::CutOff => ("cut-off JSON".to_string(), ErrorKind::Protocol),
                Answer::Unreadable(arrived) => (arrived, ErrorKind::Protocol),
            };
            // Only a busy device has surely not acted on a write.
            if kind == Kind::Write && last_kind != ErrorKind::Timeout {
                return Err(self
                    .t
                    .context(Error::protocol(format!(
                        "{what}: the device answered with {last}; it may have applied the write, so it was not sent again"
                    )))
                    .applied_maybe());
            }
        }
        let tries = policy.tries();
        let message = format!("{what}: the device answered {tries} times with {last}");
        Err(self.t.context(Error::new(last_kind, message)))
    }

    /// The device clock: cmd 3, else the telemetry's `time`. A cmd 3 answer
    /// hmx cannot read (a `Protocol` error: not JSON, as one documented MS
    /// example is) also falls back to the telemetry; when that has no clock
    /// either, the cmd 3 error stands.
    pub(super) fn device_time(&mut self) -> Result<u32, Error> {
        let mut unreadable = None;
        for cmd in [3, 4] {
            let body = format!(r#"{{"cmd":{cmd}}}"#);
            let answer = match self.exchange(body.as_bytes(), Kind::Read, &format!("cmd {cmd}")) {
                Ok(answer) => answer,
                Err(e) if cmd == 3 && e.kind() == ErrorKind::Protocol => {
                    unreadable = Some(e);
                    continue;
                }
                Err(e) => return Err(unreadable.unwrap_or(e)),
            };
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
        Err(unreadable.unwrap_or_else(|| {
            self.t.context(Error::protocol(
                "the device reports no clock: neither cmd 3 nor the telemetry has `time`",
            ))
        }))
    }

    /// A write: `sn` and `data`, signed with the device's clock when a key is set.
    pub(super) fn write(
        &mut self,
        data: &Map<String, Value>,
        scheme: Scheme,
    ) -> Result<Map<String, Value>, Error> {
        self.write_traced(data, scheme, &mut WriteTrace::default())
    }

    /// [`write`](Session::write), noting in `trace` each signed attempt and
    /// the answer's text (the write's own answer, when it came: the clock
    /// reads before it are not kept).
    pub(super) fn write_traced(
        &mut self,
        data: &Map<String, Value>,
        scheme: Scheme,
        trace: &mut WriteTrace,
    ) -> Result<Map<String, Value>, Error> {
        check_data(data)?;
        let t = self.t;
        let Some(key) = &t.key else {
            let body = body(&t.sn, None, data);
            let result = self
                .exchange(&body, Kind::Write, "write")
                .map_err(|e| explain_block(e, "no key is set"));
            trace.answer = self.last_body.take().map(|b| body_text(&b));
            return result;
        };
        let mut signed_at = 0;
        let mut written = false;
        let result = self
            .exchange_with(Kind::Write, "signed write", |session| {
                written = false;
                let (time, body) = session.sign(key, scheme, data)?;
                signed_at = time;
                trace.signed.push((scheme, time));
                written = true;
                Ok(body)
            })
            .map_err(|e| {
                explain_block(
                    e,
                    &format!("signed with scheme {scheme} at device time {signed_at}"),
                )
            });
        // Before the write went out, the last body is a clock read's.
        let last = self.last_body.take();
        trace.answer = last.filter(|_| written).map(|b| body_text(&b));
        result
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
        let (time, body, turned) = self.sign_once(key, scheme, data)?;
        if !turned {
            return Ok((time, body));
        }
        let (time, body, _) = self.sign_once(key, scheme, data)?;
        Ok((time, body))
    }

    /// One clock read and signature, after the pacing wait; and whether the
    /// token's 30-second window may have turned during that wait.
    fn sign_once(
        &mut self,
        key: &TotpKey,
        scheme: Scheme,
        data: &Map<String, Value>,
    ) -> Result<(u32, Zeroizing<Vec<u8>>, bool), Error> {
        let window = |t: u64| t / u64::from(totp::PERIOD);
        let time = self.device_time()?;
        let read_at = Instant::now();
        let code = scheme
            .code(key.as_bytes(), time)
            .map_err(|e| self.t.context(e))?;
        let body = body(&self.t.sn, Some((time, code)), data);
        self.pace();
        // The clock read is whole seconds: the device may be up to 1 s further on.
        let latest = u64::from(time) + read_at.elapsed().as_secs() + 1;
        Ok((time, body, window(latest) != window(u64::from(time))))
    }
}

/// Adds what hmx knows to a `Blocked` error.
fn explain_block(e: Error, how: &str) -> Error {
    if e.kind() != ErrorKind::Blocked {
        return e;
    }
    Error::new(ErrorKind::Blocked, format!("{} ({how})", e.message()))
}

/// `data` must be a non-empty object without the members hmx sets.
pub(crate) fn check_data(data: &Map<String, Value>) -> Result<(), Error> {
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
pub(crate) fn body(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
