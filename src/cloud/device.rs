//! A thermostat as the cloud lists it, and the parser for one page of the device list.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::secret::TotpKey;

/// One device of the account.
///
/// `Debug` shows everything but the key. Fields the cloud adds that hmx does not
/// know (`type`, `firmware`, `data`, ...) are kept, in the cloud's order, in `extra`.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Device {
    /// The cloud's numeric id.
    pub id: i64,
    /// The serial number, as the device reports it in the local API's `sn`.
    pub sn: String,
    /// The user's name for the device; `""` when the cloud sends none.
    pub name: String,
    /// The key for the local API's TOTP tokens; `None` when the cloud sends
    /// none (or an empty string): such a device cannot be controlled with a token.
    pub totp_key: Option<TotpKey>,
    /// Every other field of the device object, untouched.
    pub extra: Map<String, Value>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("id", &self.id)
            .field("sn", &self.sn)
            .field("name", &self.name)
            .field("totp_key", &self.totp_key)
            .field("extra", &self.extra)
            .finish()
    }
}

impl Device {
    /// Builds a device from one object of the cloud's `results` list.
    /// `index` is its position in the whole list, for messages.
    pub(crate) fn from_json(mut obj: Map<String, Value>, index: usize) -> Result<Device, Error> {
        let bad = |what: &str| Error::protocol(format!("device #{index} {what}"));
        let id = match obj.shift_remove("id") {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| bad("has an id out of range"))?,
            _ => return Err(bad("has no integer id")),
        };
        let sn = match obj.shift_remove("sn") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            _ => return Err(bad("has no serial number (sn)")),
        };
        let name = match obj.shift_remove("name") {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => String::new(),
            Some(_) => return Err(bad("has a name that is not a string")),
        };
        let totp_key = match obj.shift_remove("totp_key") {
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(TotpKey::new(s)),
            None | Some(Value::Null) => None,
            Some(_) => return Err(bad("has a totp_key that is not a string")),
        };
        Ok(Device {
            id,
            sn,
            name,
            totp_key,
            extra: obj,
        })
    }
}

/// One page of `GET /api/device/`: its devices, the raw `next` link, and
/// `count` (the list's length when the page was made), when the envelope has one.
pub(crate) struct Page {
    pub(crate) devices: Vec<Device>,
    pub(crate) next: Option<String>,
    pub(crate) count: Option<u64>,
}

/// Parses a page body; `first_index` numbers its devices within the whole list.
pub(crate) fn parse_page(body: &[u8], first_index: usize) -> Result<Page, Error> {
    let mut envelope: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| Error::protocol(format!("device list is not a JSON object: {e}")))?;
    let next = match envelope.shift_remove("next") {
        None | Some(Value::Null) => None,
        // Some servers write "" for "no more pages".
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(Error::protocol(
                "device list has a `next` that is not a string",
            ));
        }
    };
    let count = match envelope.shift_remove("count") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_u64() => n.as_u64(),
        Some(_) => {
            return Err(Error::protocol(
                "device list has a `count` that is not a whole number",
            ));
        }
    };
    let results = match envelope.shift_remove("results") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Error::protocol("device list `results` is not a list")),
        None => return Err(Error::protocol("device list has no `results`")),
    };
    let devices = results
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(obj) => Device::from_json(obj, first_index + i),
            _ => Err(Error::protocol(format!(
                "device #{} is not a JSON object",
                first_index + i
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        devices,
        next,
        count,
    })
}

/// The device whose serial is `sn`, compared case-insensitively after trimming
/// both sides; `None` when there is none.
///
/// ```
/// # fn demo(devices: &[hmx::Device]) {
/// if let Some(d) = hmx::find_device(devices, " 1100150010434b58 ") {
///     println!("{} is {}", d.sn, d.name);
/// }
/// # }
/// ```
pub fn find_device<'a>(devices: &'a [Device], sn: &str) -> Option<&'a Device> {
    devices.iter().find(|d| crate::same_serial(&d.sn, sn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_keeps_unknown_fields() {
        let body = br#"{"count":2,"next":"/x?page=2","previous":null,"results":[
            {"id":1,"sn":"A1","name":"Kitchen \u00e9","totp_key":"BW4ERXAJXXXXXXXX","type":3,"data":{"t":1}},
            {"id":2,"sn":"B2","name":null}]}"#;
        let page = parse_page(body, 0).unwrap();
        assert_eq!(page.next.as_deref(), Some("/x?page=2"));
        let d = &page.devices[0];
        assert_eq!(
            (d.id, d.sn.as_str(), d.name.as_str()),
            (1, "A1", "Kitchen é")
        );
        assert_eq!(d.totp_key.as_ref().unwrap().as_str(), "BW4ERXAJXXXXXXXX");
        assert_eq!(d.extra.keys().collect::<Vec<_>>(), ["type", "data"]);
        assert!(!format!("{d:?}").contains("BW4ERXAJ"));
        assert_eq!(page.devices[1].name, "");
        assert!(page.devices[1].totp_key.is_none());
    }

    #[test]
    fn rejects_wrong_shapes() {
        for body in [
            &b""[..],
            b"[]",
            b"{}",
            b"{\"results\":{}}",
            b"{\"results\":[1]}",
            b"{\"results\":[{\"id\":1}]}",
            b"{\"results\":[{\"sn\":\"x\"}]}",
            b"{\"results\":[{\"id\":1,\"sn\":\"x\",\"totp_key\":5}]}",
            b"{\"results\":[],\"next\":3}",
            b"{\"results\":[],\"count\":-1}",
            b"{\"results\":[],\"count\":\"7\"}",
            b"\xff\xfe",
        ] {
            assert!(parse_page(body, 0).is_err(), "{body:?}");
        }
    }

    #[test]
    fn finds_by_serial() {
        let page = parse_page(br#"{"results":[{"id":1,"sn":"abC"}]}"#, 0).unwrap();
        assert_eq!(find_device(&page.devices, " ABc\n").unwrap().id, 1);
        assert!(find_device(&page.devices, "ab").is_none());
    }
}
