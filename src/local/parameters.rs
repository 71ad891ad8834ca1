//! The device's parameters (`{"cmd":1}`) and schedule (`{"cmd":2}`): parsing them leniently, checking writes strictly.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::Error;

/// Brightness of the display (0–9 on Terneo, 0–10 on Welrok): the harmless
/// parameter a probe writes back unchanged.
pub const BRIGHTNESS: u16 = 23;
/// LAN locking: `"1"` when writes must carry a token.
pub const LAN_LOCK: u16 = 114;
/// Cloud locking; with [`LAN_LOCK`] also on, every network write is refused, signed or not.
pub const CLOUD_LOCK: u16 = 115;

/// One parameter as the device lists it in its `{"cmd":1}` answer
/// (`[id, type code, "value"]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parameter {
    /// The parameter number, e.g. 23 for brightness (vendor docs, "terneo-api").
    pub id: u16,
    /// The type code the device reports: 0 string, 1 int8, 2 uint8, 3 int16,
    /// 4 uint16, 5 int32, 6 uint32, 7 bool (see [`ValueType`]). Devices do not
    /// always report what the vendor's table says; writes use this one.
    pub type_code: u8,
    /// The value as the device sent it (a number sent as a JSON number is kept as its decimal text).
    pub value: String,
}

impl Parameter {
    /// The type code as a [`ValueType`], `None` for a code the vendor does not document.
    pub fn value_type(&self) -> Option<ValueType> {
        ValueType::from_code(self.type_code)
    }
}

/// The value types of the device's type codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Code 0: text.
    String,
    /// Code 1: -128 to 127.
    I8,
    /// Code 2: 0 to 255.
    U8,
    /// Code 3: -32768 to 32767.
    I16,
    /// Code 4: 0 to 65535.
    U16,
    /// Code 5: 32-bit signed.
    I32,
    /// Code 6: 32-bit unsigned.
    U32,
    /// Code 7: `"0"` or `"1"`.
    Bool,
}

impl ValueType {
    /// The type for a code, `None` past 7.
    pub fn from_code(code: u8) -> Option<ValueType> {
        use ValueType::*;
        [String, I8, U8, I16, U16, I32, U32, Bool]
            .get(usize::from(code))
            .copied()
    }

    fn range(self) -> Option<(i64, i64)> {
        Some(match self {
            ValueType::String => return None,
            ValueType::I8 => (i8::MIN.into(), i8::MAX.into()),
            ValueType::U8 => (0, u8::MAX.into()),
            ValueType::I16 => (i16::MIN.into(), i16::MAX.into()),
            ValueType::U16 => (0, u16::MAX.into()),
            ValueType::I32 => (i32::MIN.into(), i32::MAX.into()),
            ValueType::U32 => (0, u32::MAX.into()),
            ValueType::Bool => (0, 1),
        })
    }

    /// The value as the device expects it for this type: integers in decimal
    /// within the type's range, booleans as `"0"`/`"1"` (`true`/`false` are
    /// accepted), strings as given. Anything else is `InvalidArgument`.
    pub fn normalize(self, value: &str) -> Result<String, Error> {
        let Some((min, max)) = self.range() else {
            return Ok(value.to_string());
        };
        let trimmed = value.trim();
        let number = match (self, trimmed) {
            (ValueType::Bool, "true") => Some(1),
            (ValueType::Bool, "false") => Some(0),
            _ => trimmed.parse::<i64>().ok(),
        };
        match number {
            Some(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            _ => Err(Error::invalid(format!(
                "{value:?} does not fit the device's type for it, {self} ({min} to {max})"
            ))),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::String => "string",
            ValueType::I8 => "int8",
            ValueType::U8 => "uint8",
            ValueType::I16 => "int16",
            ValueType::U16 => "uint16",
            ValueType::I32 => "int32",
            ValueType::U32 => "uint32",
            ValueType::Bool => "bool",
        })
    }
}

/// `ID=VALUE` as a person writes it (a command line, a config file): a
/// parameter id, 0 to 65535, and the value as text (checked against the
/// device's type only when written). White space around the id is ignored;
/// the value is kept as given.
///
/// ```
/// assert_eq!(hmx::local::parse_assignment("23=5")?, (23, "5".to_string()));
/// assert!(hmx::local::parse_assignment("brightness").is_err());
/// # Ok::<(), hmx::Error>(())
/// ```
pub fn parse_assignment(text: &str) -> Result<(u16, String), Error> {
    text.split_once('=')
        .and_then(|(id, value)| Some((id.trim().parse::<u16>().ok()?, value.to_string())))
        .ok_or_else(|| Error::invalid(format!("{text:?} is not ID=VALUE (e.g. 23=5)")))
}

/// Finds a parameter by id.
pub fn find(parameters: &[Parameter], id: u16) -> Option<&Parameter> {
    parameters.iter().find(|p| p.id == id)
}

/// A number the device may send as a JSON number or as a numeric string.
pub(crate) fn loose_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The `par` list of a `{"cmd":1}` answer (or of a write answered with the
/// parameter list). Lenient where firmware differs: ids, type codes and
/// values may come as numbers or strings, extra members are ignored. Strict
/// on the shape: an entry that is not `[id, type, value]` is `Protocol`.
pub(crate) fn parse_parameters(answer: &Map<String, Value>) -> Result<Vec<Parameter>, Error> {
    let list = match answer.get("par") {
        Some(Value::Array(list)) => list,
        // D2W units: `{"deviceId":0,"par":{"1":245,"124":false,…}}`. Reading
        // these as `Parameter`s would mean guessing each type code, and a
        // write sent with a guessed code could be refused or misread, so hmx
        // does not.
        Some(Value::Object(_)) => {
            return Err(Error::protocol(
                "the unit answers cmd 1 in a shape hmx does not read: `par` is an object of values without type codes (as D2W units answer), not a list of [id, type, value]",
            ));
        }
        _ => {
            return Err(Error::protocol(
                "the unit answered cmd 1 without a `par` list: it lacks the command or answers in a shape hmx does not read",
            ));
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let bad = || Error::protocol(format!("parameter entry {i} is not [id, type, value]"));
            let Value::Array(fields) = entry else {
                return Err(bad());
            };
            let [id, code, value, ..] = fields.as_slice() else {
                return Err(bad());
            };
            let id = loose_u64(id).and_then(|n| u16::try_from(n).ok());
            let code = loose_u64(code).and_then(|n| u8::try_from(n).ok());
            let value = match value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(u8::from(*b).to_string()),
                _ => None,
            };
            match (id, code, value) {
                (Some(id), Some(type_code), Some(value)) => Ok(Parameter {
                    id,
                    type_code,
                    value,
                }),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// One schedule period: from `minute` of the day, hold `temperature_tenths`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// Minutes since midnight, 0 to 1439.
    pub minute: u16,
    /// The setpoint in tenths of a degree Celsius (220 = 22.0 °C).
    pub temperature_tenths: i32,
}

/// The week's schedule from `{"cmd":2}`: `days[0]` is Monday. Days the device
/// did not send are empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Up to 16 periods a day, in the device's order.
    pub days: [Vec<Period>; 7],
}

/// Parses the `tt` object of a `{"cmd":2}` answer: day keys `"0"`–`"6"`,
/// each a list of `[minute, temperature × 10]`, numbers or numeric strings.
pub(crate) fn parse_schedule(answer: &Map<String, Value>) -> Result<Schedule, Error> {
    let Some(Value::Object(tt)) = answer.get("tt") else {
        return Err(Error::protocol(
            "the unit answered cmd 2 without a `tt` schedule: it lacks the command (relay units such as MS and D2W have no schedule) or answers in a shape hmx does not read",
        ));
    };
    let mut schedule = Schedule::default();
    for (day, periods) in tt {
        let bad = || Error::protocol(format!("schedule day {day:?} is not a list of [minute, t]"));
        let index = day
            .parse::<usize>()
            .ok()
            .filter(|d| *d < 7)
            .ok_or_else(bad)?;
        let Value::Array(periods) = periods else {
            return Err(bad());
        };
        for period in periods {
            let Some([minute, t, ..]) = period.as_array().map(Vec::as_slice) else {
                return Err(bad());
            };
            let minute = loose_u64(minute).and_then(|m| u16::try_from(m).ok());
            let t = match t {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .and_then(|t| i32::try_from(t).ok());
            let (Some(minute), Some(temperature_tenths)) = (minute, t) else {
                return Err(bad());
            };
            let Some(day) = schedule.days.get_mut(index) else {
                return Err(bad());
            };
            day.push(Period {
                minute,
                temperature_tenths,
            });
        }
    }
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parameters_parse_leniently_and_refuse_bad_shapes() {
        let list = parse_parameters(&obj(
            json!({"sn": "x", "par": [[23, 2, "5"], ["31", "1", 22], [125, 7, true, "extra"]]}),
        ))
        .unwrap();
        assert_eq!(
            list[0],
            Parameter {
                id: 23,
                type_code: 2,
                value: "5".into()
            }
        );
        assert_eq!(list[1].value, "22");
        assert_eq!(list[1].value_type(), Some(ValueType::I8));
        assert_eq!(list[2].value, "1");
        for bad in [
            json!({}),
            json!({"par": {}}),
            json!({"par": [[1, 2]]}),
            json!({"par": [[70000, 2, "1"]]}),
        ] {
            assert!(parse_parameters(&obj(bad)).is_err());
        }
    }

    #[test]
    fn values_fit_their_type() {
        assert_eq!(ValueType::I8.normalize(" -5 ").unwrap(), "-5");
        assert_eq!(ValueType::Bool.normalize("true").unwrap(), "1");
        assert_eq!(ValueType::String.normalize("x y").unwrap(), "x y");
        for (t, v) in [
            (ValueType::U8, "256"),
            (ValueType::U8, "-1"),
            (ValueType::I8, "128"),
            (ValueType::Bool, "2"),
            (ValueType::U16, "1.5"),
            (ValueType::U32, ""),
        ] {
            assert!(t.normalize(v).is_err(), "{t} {v}");
        }
        assert_eq!(ValueType::from_code(8), None);
    }

    #[test]
    fn schedules_parse() {
        let s = parse_schedule(&obj(
            json!({"tt": {"0": [[360, 220], ["1320", "180"]], "6": []}}),
        ))
        .unwrap();
        assert_eq!(
            s.days[0],
            vec![
                Period {
                    minute: 360,
                    temperature_tenths: 220
                },
                Period {
                    minute: 1320,
                    temperature_tenths: 180
                }
            ]
        );
        assert!(s.days[1].is_empty());
        assert!(parse_schedule(&obj(json!({"tt": {"7": []}}))).is_err());
        assert!(parse_schedule(&obj(json!({"tt": {"0": [[1]]}}))).is_err());
    }
}
