//! The probe: which token scheme a locked device accepts, found by writing one harmless value back unchanged.

use std::fmt;

use zeroize::Zeroizing;

use super::fixture::redact;
use super::parameters::{self, BRIGHTNESS, CLOUD_LOCK, LAN_LOCK};
use super::parameters::{Parameter, ValueType};
use super::session::WriteTrace;
use super::thermostat::Thermostat;
use crate::error::{Error, ErrorKind};
use crate::totp::{Scheme, base32_decode};

/// Parameters a probe may write back, in order of preference: brightness,
/// then the night-brightness start and end minutes. Writing a value back
/// unchanged changes nothing on the device.
pub const PROBE_PARAMETERS: [u16; 3] = [BRIGHTNESS, 52, 53];

/// What [`Thermostat::probe`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReport {
    /// The parameter written back (see [`PROBE_PARAMETERS`]).
    pub parameter: u16,
    /// Its value, read first and written back unchanged.
    pub value: String,
    /// Parameter 114 (LAN locking) as listed; `None` when the device does not list it.
    pub lan_lock: Option<bool>,
    /// Parameter 115 (cloud locking); with LAN locking also on, every write is refused.
    pub cloud_lock: Option<bool>,
    /// Schemes the device refused (`{"success":"block"}`), in the order tried.
    pub refused: Vec<Scheme>,
    /// Schemes not tried: the base32 ones when the key is not base32.
    pub skipped: Vec<Scheme>,
    /// The first scheme the device accepted; `None` when all were refused or
    /// LAN locking is off (then nothing is written: any write is accepted, so
    /// a probe could tell nothing).
    pub accepted: Option<Scheme>,
    /// Each signed write's scheme and the device time it was signed with, in
    /// order (a write sent again after a busy answer is signed afresh). No
    /// tokens: with the key, [`Fixture::record`](super::Fixture::record)
    /// computes them to keep them out of a fixture.
    pub signed: Vec<(Scheme, u32)>,
    /// The accepted write's answer, exact text, as a fixture's `write`;
    /// `None` when nothing was accepted. Any token the probe sent is replaced
    /// by `<redacted>`.
    pub write_answer: Option<String>,
    /// The first refusal's answer (`{"success":"block"}` on most units),
    /// exact text, as a fixture's `block`; `None` when nothing was refused.
    /// Any token the probe sent is replaced by `<redacted>`.
    pub block_answer: Option<String>,
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |v: Option<bool>| match v {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown",
        };
        let list = |schemes: &[Scheme]| {
            let names: Vec<&str> = schemes.iter().map(|s| s.name()).collect();
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        write!(
            f,
            "LAN lock {}, cloud lock {}; ",
            flag(self.lan_lock),
            flag(self.cloud_lock),
        )?;
        let (parameter, value) = (self.parameter, &self.value);
        match (self.accepted, self.lan_lock) {
            (Some(scheme), _) => write!(
                f,
                "parameter {parameter} = {value:?} written back unchanged; accepted: {scheme}; "
            )?,
            (None, Some(false)) => {
                return f.write_str("nothing written: LAN locking is off, so every write is accepted; turn it on and probe again");
            }
            (None, _) => write!(
                f,
                "parameter {parameter} = {value:?} not written: every scheme tried was refused; accepted: none; "
            )?,
        }
        write!(
            f,
            "refused: {}; skipped: {}",
            list(&self.refused),
            list(&self.skipped)
        )?;
        if self.accepted.is_none() && self.lan_lock == Some(true) && self.cloud_lock == Some(true) {
            f.write_str(" (LAN and cloud locking are both on: devices then refuse every network write, signed or not)")?;
        }
        Ok(())
    }
}

impl Thermostat {
    /// Finds the token scheme this device accepts, changing nothing.
    ///
    /// Reads the parameters, picks a harmless writable one (brightness, 23,
    /// when listed; else 52 or 53) and writes its current value back once
    /// with each [`Scheme`] in [`Scheme::ALL`] order, stopping at the first
    /// the device accepts. Each write is signed with the device's own clock.
    /// When LAN locking (114) is listed as off, nothing is written.
    ///
    /// Needs a [key](Thermostat::key) (else `InvalidArgument`). A device that
    /// lists none of the probe parameters is `Protocol`. Any failure other
    /// than a refusal stops the probe with that error.
    pub fn probe(&self) -> Result<ProbeReport, Error> {
        self.probe_schemes(&Scheme::ALL)
    }

    /// [`probe`](Thermostat::probe) with only `schemes`, in their order
    /// (one scheme: check that the device accepts it, with one write). The
    /// schemes of [`Scheme::ALL`] not given are reported as skipped. An
    /// empty list is `InvalidArgument`.
    pub fn probe_schemes(&self, schemes: &[Scheme]) -> Result<ProbeReport, Error> {
        if schemes.is_empty() {
            return Err(Error::invalid("a probe needs at least one token scheme"));
        }
        let Some(key) = &self.key else {
            return Err(Error::invalid(
                "a probe needs the device's key: set one with .key()",
            ));
        };
        let base32_ok = base32_decode(key.as_bytes()).is_some();
        let listed = self.parameters()?;
        let flag = |id| parameters::find(&listed, id).map(|p| p.value.trim() == "1");
        let (parameter, value) = PROBE_PARAMETERS
            .iter()
            .find_map(|id| {
                let p = parameters::find(&listed, *id)?;
                Some((p.id, listed_value(p)?))
            })
            .ok_or_else(|| {
                Error::protocol(format!(
                    "thermostat {}: the device lists none of the parameters a probe may write back ({PROBE_PARAMETERS:?})",
                    self.url()
                ))
            })?;
        let mut report = ProbeReport {
            parameter,
            value,
            lan_lock: flag(LAN_LOCK),
            cloud_lock: flag(CLOUD_LOCK),
            refused: Vec::new(),
            skipped: Vec::new(),
            accepted: None,
            signed: Vec::new(),
            write_answer: None,
            block_answer: None,
        };
        if report.lan_lock == Some(false) {
            return Ok(report);
        }
        report.skipped = Scheme::ALL
            .into_iter()
            .filter(|s| !schemes.contains(s))
            .collect();
        for &scheme in schemes {
            if scheme.key == crate::totp::KeyEncoding::Base32 && !base32_ok {
                report.skipped.push(scheme);
                continue;
            }
            let mut trace = WriteTrace::default();
            let result = self
                .clone()
                .scheme(scheme)
                .set_traced(&[(parameter, &report.value)], &mut trace);
            report.signed.extend_from_slice(&trace.signed);
            match result {
                Ok(_) => {
                    report.accepted = Some(scheme);
                    report.write_answer = trace.answer;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Blocked => {
                    report.refused.push(scheme);
                    if report.block_answer.is_none() {
                        report.block_answer = trace.answer;
                    }
                }
                Err(e) => {
                    return Err(Error::new(
                        e.kind(),
                        format!(
                            "probe stopped after {} refusal(s): {}",
                            report.refused.len(),
                            e.message()
                        ),
                    ));
                }
            }
        }
        // The unit's answers are kept for a fixture, without any token that
        // went out (a unit could echo one, or the next one: all of them).
        let tokens: Vec<Zeroizing<String>> = report
            .signed
            .iter()
            .filter_map(|(s, time)| s.code(key.as_bytes(), *time).ok())
            .map(|code| Zeroizing::new(code.to_string()))
            .collect();
        let tokens: Vec<&str> = tokens.iter().map(|t| t.as_str()).collect();
        for answer in [&mut report.write_answer, &mut report.block_answer] {
            if let Some(text) = answer.as_mut() {
                *text = redact(text, "", &tokens);
            }
        }
        Ok(report)
    }
}

/// A parameter's value normalised for its listed type (for the probe).
fn listed_value(p: &Parameter) -> Option<String> {
    let t = p.value_type().filter(|t| *t != ValueType::String)?;
    t.normalize(&p.value).ok()
}

/// As JSON: `{"parameter":23,"value":"5","lan_lock":true,"cloud_lock":false,
/// "refused":["raw-2000"],"skipped":[],"accepted":"raw-unix"}`, schemes by
/// name, unknown locks and no accepted scheme as `null`. What the C layer
/// and the command hand out.
impl serde::Serialize for ProbeReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let names = |list: &[Scheme]| list.iter().map(|x| x.name()).collect::<Vec<_>>();
        let mut out = s.serialize_struct("ProbeReport", 7)?;
        out.serialize_field("parameter", &self.parameter)?;
        out.serialize_field("value", &self.value)?;
        out.serialize_field("lan_lock", &self.lan_lock)?;
        out.serialize_field("cloud_lock", &self.cloud_lock)?;
        out.serialize_field("refused", &names(&self.refused))?;
        out.serialize_field("skipped", &names(&self.skipped))?;
        out.serialize_field("accepted", &self.accepted.map(Scheme::name))?;
        out.end()
    }
}
