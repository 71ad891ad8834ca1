//! [`Fixture`]: what one real unit answers, as a file the stand-in thermostat replays (docs/FIXTURES.md).
//!
//! Here, behind `test-util`, because only the stand-in and the tests read
//! fixtures today; a future `hmx dump` that writes them would move the type
//! into the library proper.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One unit: its model, where the answers come from, and each answer as the exact text it sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// `hw` as the unit announces it (`sx`, `ax`, `oz`, `az`, `ms`, `D2W`, …).
    pub model: String,
    /// The firmware version, when the source names one.
    pub firmware: Option<String>,
    /// Where the answers come from: a capture from a unit, or the vendor's documented examples.
    pub source: String,
    /// The serial, masked except a prefix; every serial in the answers is this one.
    pub sn: String,
    /// The token scheme the unit accepted and how that was established; `None`: unknown.
    pub scheme: Option<SchemeRecord>,
    /// The discovery datagram (UDP 23500), exact text.
    pub announcement: Option<String>,
    /// `cmdN` → the exact text answered to `{"cmd":N}`. A command missing here
    /// was not recorded (or the unit lacks it): the stand-in answers `{}`.
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
    /// How it was established (e.g. "hmx probe on the unit, firmware 2.4").
    pub established: String,
}

/// How a unit answers an accepted write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteForm {
    /// The parameter list after the write (vendor docs, firmware 2.5).
    Parameters,
    /// This text, whatever was written (`{"success":"true"}` on SX units).
    Text(String),
}

impl Fixture {
    /// Reads a fixture file.
    pub fn load(path: impl AsRef<Path>) -> io::Result<Fixture> {
        let text = std::fs::read_to_string(path)?;
        Fixture::from_json(&text)
    }

    /// Parses a fixture.
    pub fn from_json(text: &str) -> io::Result<Fixture> {
        serde_json::from_str(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The recorded answer to `{"cmd":cmd}`.
    pub fn answer(&self, cmd: u64) -> Option<&str> {
        self.answers.get(&format!("cmd{cmd}")).map(String::as_str)
    }

    /// The `cmd1` answer as a JSON object, when it is one.
    pub fn cmd1_object(&self) -> Option<Map<String, Value>> {
        match serde_json::from_str(self.answer(1)?) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    /// The parameter list `[[id, type, "value"], …]` of `cmd1`, when the unit
    /// answers in that shape (D2W units do not: `None`).
    pub fn parameters(&self) -> Option<Vec<(u16, u8, String)>> {
        let map = self.cmd1_object()?;
        map.get("par")?
            .as_array()?
            .iter()
            .map(|entry| {
                let [id, code, value] = entry.as_array()?.as_slice() else {
                    return None;
                };
                Some((
                    u16::try_from(id.as_u64()?).ok()?,
                    u8::try_from(code.as_u64()?).ok()?,
                    value.as_str()?.to_string(),
                ))
            })
            .collect()
    }

    /// How the unit answers an accepted write: the parameter list when the
    /// recorded answer has a `par` list, else the recorded text
    /// (`{"success":"true"}` when none is recorded).
    pub fn write_form(&self) -> WriteForm {
        let Some(text) = &self.write else {
            return WriteForm::Text(r#"{"success":"true"}"#.into());
        };
        match serde_json::from_str::<Value>(text) {
            Ok(v) if v.get("par").is_some_and(Value::is_array) => WriteForm::Parameters,
            _ => WriteForm::Text(text.clone()),
        }
    }
}
