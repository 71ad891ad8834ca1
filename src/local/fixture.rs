//! [`Fixture`]: what one unit answers on its local API, as a file (docs/FIXTURES.md): read, written, and recorded from a live unit with its serial masked and secrets replaced.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use zeroize::Zeroizing;

use super::probe::ProbeReport;
use super::thermostat::Thermostat;
use crate::error::{Error, ErrorKind};
use crate::framing::{self, Framed};

/// What replaces a secret in a recorded fixture: the marker hmx's error
/// messages use too. Plain text, so an answer that held a secret inside a
/// JSON string stays JSON.
const REDACTED: &str = "<redacted>";
/// Characters of a serial [`Fixture::mask_serial`] keeps.
const SERIAL_KEPT: usize = 8;
/// Shortest serial [`Fixture::record`] masks: a shorter one would match
/// pieces of unrelated text, and masking those would change the answers.
const MIN_SERIAL: usize = 8;
/// Shortest secret [`Fixture::record`] replaces, for the same reason.
const MIN_SECRET: usize = 4;

/// One unit: its model, where the answers come from, and each answer as the exact text it sent.
///
/// The file format is described in docs/FIXTURES.md; [`Fixture::load`] and
/// [`Fixture::from_json`] read it, [`Fixture::to_json`] writes it, and
/// [`Fixture::record`] makes one from a unit on the LAN. The stand-in
/// thermostat (feature `test-util`) answers as a fixture records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// `hw` as the unit announces it (`sx`, `ax`, `oz`, `az`, `ms`, `D2W`, …);
    /// `unknown` when recorded without an announcement.
    pub model: String,
    /// The firmware version, when the source names one.
    pub firmware: Option<String>,
    /// Where the answers come from: a capture from a unit, the vendor's
    /// documented examples, or `hmx dump, <date>`.
    pub source: String,
    /// The serial, masked except a prefix (see [`Fixture::mask_serial`]);
    /// every serial in the answers is this one.
    pub sn: String,
    /// The token scheme the unit accepted and how that was established; `None`: unknown.
    pub scheme: Option<SchemeRecord>,
    /// The discovery datagram (UDP 23500), exact text.
    pub announcement: Option<String>,
    /// `cmdN` → the exact text answered to `{"cmd":N}`. A command missing here
    /// was not recorded (or the unit lacks it): the stand-in answers `{}`.
    /// Written in command order (`cmd2` before `cmd10`).
    #[serde(serialize_with = "in_command_order")]
    pub answers: BTreeMap<String, String>,
    /// The answer to an accepted parameter write, exact text; `None`: unknown.
    pub write: Option<String>,
    /// The answer while LAN locking refuses a request; `None`: unknown.
    pub block: Option<String>,
    /// What to know about the source and the answers.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Which token scheme a unit accepted for signed writes, and how that is known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeRecord {
    /// A [`Scheme`](crate::totp::Scheme) name: `raw-2000`, `raw-unix`, `base32-2000`, `base32-unix`.
    pub name: String,
    /// How it was established (e.g. "hmx probe, 2026-05-20: accepted raw-2000").
    pub established: String,
}

/// What [`Fixture::record`] takes besides the unit itself; every member is optional.
///
/// ```
/// let with = hmx::local::Recording { firmware: Some("2.4"), ..Default::default() };
/// assert!(with.announcement.is_none() && with.probe.is_none() && with.secrets.is_empty());
/// ```
#[derive(Clone, Copy, Default)]
pub struct Recording<'a> {
    /// The unit's discovery datagram, exact text: the model is its `hw`, and
    /// the fixture keeps it (serial masked). It must be this unit's (its `sn`
    /// the same serial), else `InvalidArgument`.
    pub announcement: Option<&'a str>,
    /// What [`Thermostat::probe`] found on this unit: the accepted scheme, the
    /// write answer and the block answer come from it.
    pub probe: Option<&'a ProbeReport>,
    /// The firmware version, when the caller knows it (units do not say).
    pub firmware: Option<&'a str>,
    /// More text that must not appear in the fixture (the cloud password, a
    /// cloud session token, a Wi-Fi password): each occurrence is replaced.
    /// Empty strings are passed over; one shorter than 4 characters is
    /// `InvalidArgument`, since replacing it would change unrelated text.
    pub secrets: &'a [&'a str],
}

/// Shows how many secrets there are, never what they are.
impl fmt::Debug for Recording<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("announcement", &self.announcement.map(|_| "…"))
            .field("probe", &self.probe)
            .field("firmware", &self.firmware)
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Fixture {
    /// Reads a fixture file. A file that cannot be read, or is not a fixture,
    /// is `InvalidArgument`, naming the path.
    pub fn load(path: impl AsRef<Path>) -> Result<Fixture, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(format!("fixture {}: {e}", path.display())))?;
        Fixture::from_json(&text)
            .map_err(|e| Error::invalid(format!("fixture {}: {}", path.display(), e.message())))
    }

    /// Parses a fixture: one JSON object with the members docs/FIXTURES.md
    /// lists and no others. Anything else is `InvalidArgument`, saying where.
    pub fn from_json(text: &str) -> Result<Fixture, Error> {
        serde_json::from_str(text).map_err(|e| Error::invalid(format!("not a fixture: {e}")))
    }

    /// The fixture as a file holds it: JSON indented by two spaces, members in
    /// the format's order, answers in command order, non-ASCII text as it is,
    /// and a trailing newline (as `tests/fixtures/*.json` are written).
    pub fn to_json(&self) -> String {
        // Strings, options and maps of strings always serialize.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The recorded answer to `{"cmd":cmd}`.
    pub fn answer(&self, cmd: u64) -> Option<&str> {
        self.answers.get(&format!("cmd{cmd}")).map(String::as_str)
    }

    /// A serial as fixtures show it: the first 8 characters kept, the rest
    /// `X` (a serial of 16 characters or fewer keeps only its first half, so
    /// that a short one is never kept whole). Known serials have 30
    /// characters, and their first 8 name the model, not the unit.
    ///
    /// ```
    /// use hmx::local::Fixture;
    /// assert_eq!(Fixture::mask_serial("058016000543464839373520000159"), "05801600XXXXXXXXXXXXXXXXXXXXXX");
    /// assert_eq!(Fixture::mask_serial("0580160005"), "05801XXXXX");
    /// ```
    pub fn mask_serial(sn: &str) -> String {
        let len = sn.chars().count();
        let kept = SERIAL_KEPT.min(len / 2);
        sn.chars()
            .enumerate()
            .map(|(i, c)| if i < kept { c } else { 'X' })
            .collect()
    }

    /// Records the unit `t` talks to as a fixture, ready for
    /// [`to_json`](Fixture::to_json) and a file.
    ///
    /// Reads `{"cmd":1}` to `{"cmd":4}` once each, paced and retried as every
    /// read (so this takes a few times `t`'s minimum interval), and keeps
    /// each answer's exact text, whatever it holds: an answer without the
    /// data a command asks for (`{}`, or a relay's cmd 2 without `tt`) and
    /// one that is not JSON (after the usual retries) are recorded as
    /// answered. A command answered with an HTTP error status is left out and
    /// `notes` says so; any other failure (no answer, busy every time, an
    /// answer from another unit, a refusal) is the error.
    ///
    /// The other members: `model` is the announcement's `hw` (`unknown`
    /// without an announcement: units name their model nowhere else);
    /// `firmware` as given, else `null`; `source` is `hmx dump, <UTC date>`;
    /// from a probe that found a scheme, `scheme` (`established`:
    /// `hmx probe, <date>: accepted raw-unix (refused: raw-2000)`) and
    /// `write`, the accepted write's answer; from a
    /// probe that saw a refusal, `block`; each `null` otherwise. `notes` says
    /// what was recorded and what is unknown.
    ///
    /// **Redaction.** Every text (the announcement, each answer, the write and
    /// block answers) has, in this order:
    ///
    /// - each secret replaced by `<redacted>`: the key set on `t`, each token
    ///   the probe sent (computed from that key and the schemes and device
    ///   times in [`ProbeReport::signed`]), and [`Recording::secrets`]; both as
    ///   given and as escaped inside a JSON string, ASCII letters matched in
    ///   either case;
    /// - each occurrence of the serial, matched in either case as
    ///   [`same_serial`](crate::same_serial) does, masked by
    ///   [`mask_serial`](Fixture::mask_serial) (the occurrence's own first 8
    ///   characters kept, so an answer keeps its case); `sn` is `t`'s serial,
    ///   masked.
    ///
    /// So a stand-in replaying the fixture answers byte for byte as the unit
    /// did, except for the masked serial, replaced secrets and the clock.
    /// A serial shorter than 8 characters is `InvalidArgument` (masking it
    /// would change unrelated text).
    ///
    /// ```no_run
    /// use hmx::local::{Fixture, Recording, Thermostat};
    /// # let key = hmx::TotpKey::new("BW4ERXAJXXXXXXXX".into());
    /// let t = Thermostat::new("192.168.1.40", "058016000543464839373520000159")?.key(key);
    /// let probe = t.probe()?;
    /// let with = Recording { probe: Some(&probe), ..Default::default() };
    /// std::fs::write("unit.json", Fixture::record(&t, &with)?.to_json()).unwrap();
    /// # Ok::<(), hmx::Error>(())
    /// ```
    pub fn record(t: &Thermostat, with: &Recording<'_>) -> Result<Fixture, Error> {
        if t.sn.chars().count() < MIN_SERIAL {
            return Err(Error::invalid(format!(
                "a fixture needs the unit's whole serial to mask it; {:?} is shorter than {MIN_SERIAL} characters",
                t.sn
            )));
        }
        let secrets = secrets(t, with)?;
        let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
        let model = match with.announcement {
            Some(text) => announced_model(text, &t.sn)?,
            None => "unknown".to_string(),
        };
        let mut notes = vec![
            "Recorded from the unit by hmx: cmd 1 to 4 read once each, every answer kept as sent \
             except the serial (masked) and secrets (replaced by <redacted>)."
                .to_string(),
        ];
        let mut answers = BTreeMap::new();
        for cmd in 1..=4u8 {
            match t.read_raw(cmd) {
                Ok(raw) => {
                    answers.insert(format!("cmd{cmd}"), redact(&raw.text, &t.sn, &secrets));
                }
                Err(e) if e.kind() == ErrorKind::Http => notes.push(format!(
                    "cmd {cmd} is not recorded: the unit answered HTTP {}.",
                    e.status()
                        .map_or_else(|| "error".to_string(), |s| s.to_string())
                )),
                Err(e) => return Err(e),
            }
        }
        if with.announcement.is_none() {
            notes.push("No announcement was given, so the model is unknown.".into());
        }
        let date = utc_date(SystemTime::now());
        let probe = with.probe;
        notes.push(probe_note(probe));
        let redacted =
            |text: &Option<String>| text.as_deref().map(|t2| redact(t2, &t.sn, &secrets));
        let fixture = Fixture {
            model: redact(&model, &t.sn, &secrets),
            firmware: with.firmware.map(|f| redact(f, &t.sn, &secrets)),
            source: format!("hmx dump, {date}"),
            sn: Fixture::mask_serial(&t.sn),
            scheme: probe.and_then(|p| {
                let accepted = p.accepted?;
                let refused: Vec<&str> = p.refused.iter().map(|s| s.name()).collect();
                let refused = if refused.is_empty() {
                    String::new()
                } else {
                    format!(" (refused: {})", refused.join(", "))
                };
                Some(SchemeRecord {
                    name: accepted.name().to_string(),
                    established: format!("hmx probe, {date}: accepted {accepted}{refused}"),
                })
            }),
            announcement: with.announcement.map(|a| redact(a, &t.sn, &secrets)),
            answers,
            write: probe.and_then(|p| redacted(&p.write_answer)),
            block: probe.and_then(|p| redacted(&p.block_answer)),
            notes: Some(notes.join(" ")),
        };
        check_redacted(&fixture, &t.sn, &secrets)?;
        Ok(fixture)
    }
}

/// Every secret `record` replaces: the key, the probe's tokens and the
/// caller's, each as given and as escaped in a JSON string, longest first
/// (so that a secret holding another is replaced whole).
fn secrets(t: &Thermostat, with: &Recording<'_>) -> Result<Vec<Zeroizing<String>>, Error> {
    let mut plain: Vec<Zeroizing<String>> = Vec::new();
    for secret in with.secrets.iter().filter(|s| !s.is_empty()) {
        if secret.chars().count() < MIN_SECRET {
            return Err(Error::invalid(format!(
                "a secret to replace must have {MIN_SECRET} or more characters: replacing a shorter one would change unrelated text"
            )));
        }
        plain.push(Zeroizing::new(secret.to_string()));
    }
    if let Some(key) = &t.key {
        let text = String::from_utf8_lossy(key.as_bytes());
        if !text.is_empty() {
            plain.push(Zeroizing::new(text.into_owned()));
        }
        for (scheme, time) in with.probe.map(|p| p.signed.as_slice()).unwrap_or_default() {
            if let Ok(code) = scheme.code(key.as_bytes(), *time) {
                plain.push(Zeroizing::new(code.to_string()));
            }
        }
    }
    let mut all = Vec::with_capacity(plain.len() * 2);
    for secret in plain {
        // serde_json writes a string's JSON text: quotes around the escaped form.
        let quoted = Zeroizing::new(serde_json::to_string(secret.as_str()).unwrap_or_default());
        let escaped = quoted
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or_default();
        if escaped != secret.as_str() && !escaped.is_empty() {
            all.push(Zeroizing::new(escaped.to_string()));
        }
        all.push(secret);
    }
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
    Ok(all)
}

/// The announcement's `hw`, after checking that it is this unit's.
fn announced_model(text: &str, sn: &str) -> Result<String, Error> {
    let Framed::Value(Value::Object(packet)) = framing::json_value(text.as_bytes()) else {
        return Err(Error::invalid(
            "the announcement is not a JSON object, as units send",
        ));
    };
    if let Some(announced) = packet.get("sn").and_then(Value::as_str)
        && !crate::same_serial(announced, sn)
    {
        return Err(Error::invalid(format!(
            "the announcement is from unit {announced}, not {sn}"
        )));
    }
    Ok(packet
        .get("hw")
        .and_then(Value::as_str)
        .map_or_else(|| "unknown".to_string(), |hw| hw.trim().to_string()))
}

/// What the notes say about the probe: where `scheme`, `write` and `block` come from.
fn probe_note(probe: Option<&ProbeReport>) -> String {
    let Some(p) = probe else {
        return "No probe was run, so the scheme and the write and block answers are unknown."
            .into();
    };
    let block = if p.block_answer.is_some() {
        " The block answer is the unit's to a refused write."
    } else {
        ""
    };
    match (p.accepted, p.lan_lock) {
        (Some(s), _) => format!(
            "hmx probe wrote parameter {} back unchanged, signed with scheme {s}: the write answer is the unit's.{block}",
            p.parameter
        ),
        (None, Some(false)) => {
            "LAN locking was off, so the probe wrote nothing: the scheme and the write answer are unknown."
                .into()
        }
        (None, _) => format!(
            "The unit refused every scheme the probe tried, so the scheme and the write answer are unknown.{block}"
        ),
    }
}

/// `text` with each secret replaced by [`REDACTED`] and each occurrence of
/// `sn` masked (both matched with ASCII letters in either case). Secrets
/// first, longest first, so that a secret holding the serial goes whole.
pub(crate) fn redact(text: &str, sn: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        out = replace_any_case(&out, secret, |_| REDACTED.to_string());
    }
    replace_any_case(&out, sn, Fixture::mask_serial)
}

/// Whether `needle` occurs in `text`, ASCII letters in either case.
fn contains_any_case(text: &str, needle: &str) -> bool {
    !needle.is_empty()
        && text
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// `text` with every occurrence of `needle` (ASCII letters in either case)
/// replaced by `with(occurrence)`.
///
/// Matching bytes is safe for UTF-8: case folding leaves bytes past ASCII
/// alone, and a whole character sequence found inside valid UTF-8 starts and
/// ends on character boundaries.
fn replace_any_case(text: &str, needle: &str, with: impl Fn(&str) -> String) -> String {
    let (hay, pat) = (text.as_bytes(), needle.as_bytes());
    if pat.is_empty() || pat.len() > hay.len() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, 0);
    while at + pat.len() <= hay.len() {
        let window = hay.get(at..at + pat.len()).unwrap_or_default();
        if window.eq_ignore_ascii_case(pat) {
            out.push_str(text.get(copied..at).unwrap_or_default());
            out.push_str(&with(text.get(at..at + pat.len()).unwrap_or_default()));
            at += pat.len();
            copied = at;
        } else {
            at += 1;
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

/// The last line of defence: no text of the fixture holds a secret or the
/// whole serial (a replacement could in theory join its neighbours into one).
fn check_redacted(f: &Fixture, sn: &str, secrets: &[&str]) -> Result<(), Error> {
    let texts = [&f.model, &f.source, &f.sn]
        .into_iter()
        .chain(f.answers.values())
        .chain(f.announcement.iter())
        .chain(f.firmware.iter())
        .chain(f.write.iter())
        .chain(f.block.iter())
        .chain(f.notes.iter());
    for text in texts {
        // An already masked serial (a stand-in replaying a fixture) masks to itself.
        let serial_left = contains_any_case(text, sn) && Fixture::mask_serial(sn) != sn;
        if serial_left || secrets.iter().any(|s| contains_any_case(text, s)) {
            return Err(Error::invalid(
                "the fixture could not be redacted safely: a secret given overlaps the serial or the <redacted> marker",
            ));
        }
    }
    Ok(())
}

/// Writes `answers` in command order (`cmd2` before `cmd10`), as the files
/// list them; names that are not `cmdN` go last, in name order.
fn in_command_order<S: Serializer>(
    answers: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let number = |name: &str| {
        name.strip_prefix("cmd")
            .and_then(|n| n.parse::<u64>().ok())
            .map_or((1, u64::MAX), |n| (0, n))
    };
    let mut entries: Vec<(&String, &String)> = answers.iter().collect();
    entries.sort_by(|a, b| number(a.0).cmp(&number(b.0)).then(a.0.cmp(b.0)));
    serializer.collect_map(entries)
}

/// `time` as a UTC date, `YYYY-MM-DD` (Howard Hinnant's days-to-civil).
fn utc_date(time: SystemTime) -> String {
    let days = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_calendar_days() {
        let at = |secs| utc_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01");
        assert_eq!(at(951_782_400), "2000-02-29");
        assert_eq!(at(1_767_225_599), "2025-12-31");
        assert_eq!(at(1_767_225_600), "2026-01-01");
    }

    #[test]
    fn serials_and_secrets_go_in_any_case() {
        let sn = "0580160005434648393735200001AB";
        let text = format!(
            r#"{{"sn":"{sn}","id":"{}","k":"Secret-Key","x":"ab"}}"#,
            sn.to_lowercase()
        );
        let out = redact(&text, sn, &["secret-key"]);
        assert_eq!(
            out,
            r#"{"sn":"05801600XXXXXXXXXXXXXXXXXXXXXX","id":"05801600XXXXXXXXXXXXXXXXXXXXXX","k":"<redacted>","x":"ab"}"#
        );
        // Past ASCII, matching stays on character boundaries.
        assert_eq!(replace_any_case("é€PASS€", "pass", |_| "*".into()), "é€*€");
        assert_eq!(replace_any_case("abc", "", |_| "*".into()), "abc");
        assert_eq!(Fixture::mask_serial(""), "");
        assert_eq!(Fixture::mask_serial("AB"), "AX");
    }

    #[test]
    fn answers_are_written_in_command_order() {
        let mut answers = BTreeMap::new();
        for name in ["cmd10", "cmd2", "cmd1", "other"] {
            answers.insert(name.to_string(), "{}".to_string());
        }
        let f = Fixture {
            model: "oz".into(),
            firmware: None,
            source: "test".into(),
            sn: "X".into(),
            scheme: None,
            announcement: None,
            answers,
            write: None,
            block: None,
            notes: None,
        };
        let text = f.to_json();
        let at = |name: &str| text.find(&format!("\"{name}\"")).unwrap();
        assert!(at("cmd1") < at("cmd2") && at("cmd2") < at("cmd10") && at("cmd10") < at("other"));
        assert!(text.ends_with("}\n"));
        assert_eq!(Fixture::from_json(&text).unwrap(), f);
    }
}
