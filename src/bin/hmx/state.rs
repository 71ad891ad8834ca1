//! What `hmx get HOST state` prints: the library's `State` as JSON, or as a table for a person.

use hmx::local::State;
use serde_json::Value;

use crate::output::escape;

/// One JSON object: every field of `State`, `null` when the unit does not report it.
pub fn json(state: &State) -> String {
    let value = serde_json::to_value(state).unwrap_or(Value::Null);
    format!("{value:#}\n")
}

/// One line per field of `State`, in its order, aligned: the name as
/// `hmx set` spells it where it is a setting (`setpoint`, `power`, `mode`,
/// `brightness`, `child_lock`), else the JSON name without its unit; the
/// value with its unit, temperatures to one decimal (the JSON has them
/// exact, in 1/16 °C steps); `-` for a field the unit does not report. A
/// field the library adds later shows under its JSON name, as JSON.
pub fn table(state: &State) -> String {
    let Ok(Value::Object(fields)) = serde_json::to_value(state) else {
        return String::new();
    };
    let rows: Vec<(String, String)> = fields
        .iter()
        .map(|(name, value)| (label(name), shown(name, value)))
        .collect();
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(label, value)| format!("{label:<width$}  {value}\n"))
        .collect()
}

/// The fields a row shows when several devices' states share one table, by JSON name.
const SUMMARY: [&str; 7] = [
    "floor_c",
    "air_c",
    "setpoint_c",
    "relay_on",
    "powered",
    "mode",
    "brightness",
];

/// The column titles for [`summary`].
pub fn summary_header() -> Vec<String> {
    SUMMARY.iter().map(|n| label(n).to_uppercase()).collect()
}

/// One row of a table of several devices: the [`SUMMARY`] fields as the one-device table shows them.
pub fn summary(state: &State) -> Vec<String> {
    let value = serde_json::to_value(state).unwrap_or(Value::Null);
    SUMMARY
        .iter()
        .map(|name| shown(name, value.get(name).unwrap_or(&Value::Null)))
        .collect()
}

fn label(name: &str) -> String {
    let short = match name {
        "powered" => "power",
        "relay_on" => "relay",
        other => ["_c", "_dbm", "_w"]
            .iter()
            .find_map(|unit| other.strip_suffix(unit))
            .unwrap_or(other),
    };
    escape(short)
}

fn shown(name: &str, value: &Value) -> String {
    let unit = |suffix: &str, unit: &str| name.ends_with(suffix).then(|| unit.to_string());
    match value {
        Value::Null => "-".into(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        Value::String(s) => escape(s),
        // A mode or control type the vendor docs do not name comes as its code.
        Value::Number(n) if matches!(name, "mode" | "control") => format!("code {n}"),
        Value::Number(n) => match (n.as_f64(), unit("_c", "°C")) {
            (Some(celsius), Some(unit)) => format!("{celsius:.1} {unit}"),
            _ => match unit("_dbm", "dBm").or_else(|| unit("_w", "W")) {
                Some(unit) => format!("{n} {unit}"),
                None => n.to_string(),
            },
        },
        other => escape(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_row_per_field_with_units_and_dashes() {
        let mut state = State::default();
        state.floor_c = Some(24.9375);
        state.powered = Some(true);
        state.mode = Some(hmx::local::Mode::Other(9));
        state.wifi_dbm = Some(-61);
        state.load_power_w = Some(1500);
        let text = table(&state);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 13, "{text}");
        assert_eq!(rows.first(), Some(&"floor       24.9 °C"), "{text}");
        for row in [
            "air         -",
            "power       on",
            "mode        code 9",
            "wifi        -61 dBm",
            "load_power  1500 W",
            "child_lock  -",
        ] {
            assert!(rows.contains(&row), "{row:?} in\n{text}");
        }
        let json: Value = serde_json::from_str(&json(&state)).unwrap();
        assert_eq!(json["floor_c"], 24.9375);
        assert_eq!(json["air_c"], Value::Null);
    }
}
