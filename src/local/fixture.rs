//! [`Fixture`]: what one unit answers on its local API, as a file (docs/FIXTURES.md): read, written, and recorded from a live unit with its serial masked and secrets replaced.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::Error;

/// What replaces a secret in a recorded fixture: the marker hmx's error
/// messages use too. Plain text, so an answer that held a secret inside a
/// JSON string stays JSON.
const REDACTED: &str = "<redacted>";
/// Characters of a serial [`Fixture::mask_serial`] keeps.
const SERIAL_KEPT: usize = 8;

/// One unit: its model, where the answers come from, and each answer as the exact text it sent.
///
/// The file format is described in docs/FIXTURES.md; [`Fixture::load`] and
/// [`Fixture::from_json`] read it, [`Fixture::to_json`] writes it. The
/// stand-in thermostat (feature `test-util`) answers as a fixture records.
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

#[cfg(test)]
mod tests {
    use super::*;

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
