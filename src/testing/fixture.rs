//! What the stand-in thermostat needs from a [`Fixture`] beyond reading the file: the parameter list it checks writes against, and how it answers one.
//!
//! The type itself is the library's ([`hmx::local::Fixture`](crate::local::Fixture)),
//! since `Fixture::record` writes fixtures from live units; it is
//! re-exported here so that `hmx::testing::Fixture` keeps working.

use serde_json::{Map, Value};

pub use crate::local::{Fixture, SchemeRecord};

/// How a unit answers an accepted write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteForm {
    /// The parameter list after the write (vendor docs, firmware 2.5).
    Parameters,
    /// This text, whatever was written (`{"success":"true"}` on SX units).
    Text(String),
}

/// The stand-in's reading of a fixture (feature `test-util`).
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
impl Fixture {
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
