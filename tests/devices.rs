//! docs/DEVICES.md: one row per recorded unit in tests/fixtures/, made from the files alone.
//!
//! The committed file must be what the fixtures give: a new or changed
//! fixture changes the table with no code change, and this test fails until
//! `HMX_BLESS=1 cargo test --test devices` rewrites it (as tests/header.rs
//! does for include/hmx.h).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hmx::local::{Fixture, Parameter, SETPOINT, SetpointScale, ValueType, find};
use serde_json::{Map, Value};

const HEAD: &str = "\
# Devices

What each recorded unit in [`tests/fixtures/`](../tests/fixtures) is and
answers, one row per file. **Generated** from the files by
`tests/devices.rs`: do not edit. After adding or changing a fixture
([FIXTURES.md](FIXTURES.md)), run `HMX_BLESS=1 cargo test --test devices`
and commit the result; the same test fails while this file is stale.

- **commands answered**: the `{\"cmd\":N}` answers recorded; *no data*: an
  answer with nothing but the unit's serial (or `{}`); *not JSON*: kept as
  the unit sent it.
- **telemetry fields**: the members of the cmd 4 answer, grouped by prefix
  (`t: 0, 1` is `t.0` and `t.1`; nested groups joined with `.`), without
  `sn` and `deviceId`.
- **setpoint scale**: from the type code the unit lists for parameter 31
  (the current setpoint): int16 is °C×10, int8 and uint8 whole °C; *none*
  when the unit does not list 31.
- **write answer**: what an accepted write gets back: the parameter list
  (as the 2.5 docs describe), the text shown, or *unknown*.
- **token scheme**: the `hmx::totp::Scheme` the unit accepted for signed
  writes, as `hmx probe` established it on the hardware; *unknown* until
  someone probes such a unit and records it (`Fixture::record`).

| fixture | model | firmware | source | commands answered | telemetry fields | setpoint scale | write answer | token scheme |
|---|---|---|---|---|---|---|---|---|
";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `*.json` files in `dir`, in name order.
fn fixture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// docs/DEVICES.md for the fixtures in `dir`.
fn generate(dir: &Path) -> String {
    let mut out = HEAD.to_string();
    for path in fixture_files(dir) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let f = Fixture::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cells = [
            format!("[`{name}`](../tests/fixtures/{name})"),
            format!("`{}`", f.model),
            f.firmware.as_deref().map_or("unknown".into(), first_clause),
            first_clause(&f.source),
            commands(&f),
            telemetry(&f),
            setpoint_scale(&f),
            write_answer(&f),
            scheme(&f),
        ];
        let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        writeln!(out, "| {} |", cells.join(" | ")).unwrap();
    }
    out
}

/// Text as one table cell: on one line, its `|` escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// A source or firmware note, short: up to its first `:` or `;`.
fn first_clause(text: &str) -> String {
    text.split([':', ';'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The numbers of the recorded commands, in order, with what is special about each.
fn commands(f: &Fixture) -> String {
    let mut numbered: Vec<(u64, &String)> = f
        .answers
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("cmd")?.parse().ok()?, v)))
        .collect();
    numbered.sort();
    let listed: Vec<String> = numbered
        .into_iter()
        .map(|(n, text)| match object(text) {
            None => format!("{n} (not JSON)"),
            Some(map) if map.keys().all(|k| k == "sn" || k == "deviceId") => {
                format!("{n} (no data)")
            }
            Some(_) => n.to_string(),
        })
        .collect();
    if listed.is_empty() {
        "none recorded".into()
    } else {
        listed.join(", ")
    }
}

/// Every member path of a JSON object, nested objects joined with `.`.
fn paths(prefix: &str, map: &Map<String, Value>, out: &mut Vec<String>) {
    for (k, v) in map {
        let path = format!("{prefix}{k}");
        match v {
            Value::Object(inner) => paths(&format!("{path}."), inner, out),
            _ => out.push(path),
        }
    }
}

/// Numbers as runs: `0, 1, 2, 3, 7` is `0–3, 7`.
fn runs(mut numbers: Vec<u64>) -> Vec<String> {
    numbers.sort();
    numbers.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        match j - i {
            0 => out.push(numbers[i].to_string()),
            1 => out.extend([numbers[i].to_string(), numbers[j].to_string()]),
            _ => out.push(format!("{}–{}", numbers[i], numbers[j])),
        }
        i = j + 1;
    }
    out
}

/// The telemetry members, grouped by prefix in the order first sent.
fn telemetry(f: &Fixture) -> String {
    let Some(text) = f.answer(4) else {
        return "not recorded".into();
    };
    let Some(map) = object(text) else {
        return "not JSON".into();
    };
    let mut all = Vec::new();
    paths("", &map, &mut all);
    all.retain(|p| p != "sn" && p != "deviceId");
    if all.is_empty() {
        return "none".into();
    }
    // prefix -> (numbered members, named members); "" for members without a prefix.
    let mut groups: Vec<(String, Vec<u64>, Vec<String>)> = Vec::new();
    for path in all {
        let (prefix, last) = path.rsplit_once('.').unwrap_or(("", &path));
        let (prefix, last) = (prefix.to_string(), last.to_string());
        let at = match groups.iter().position(|g| g.0 == prefix) {
            Some(at) => at,
            None => {
                groups.push((prefix, Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        match last.parse::<u64>() {
            Ok(n) => groups[at].1.push(n),
            Err(_) => groups[at].2.push(last),
        }
    }
    groups
        .into_iter()
        .map(|(prefix, numbers, names)| {
            let members = runs(numbers).into_iter().chain(names).collect::<Vec<_>>();
            if prefix.is_empty() {
                members.join(", ")
            } else {
                format!("{prefix}: {}", members.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the unit scales setpoints: `hmx::local::SetpointScale`, from the
/// type code it lists for parameter 31, with that type's name.
fn setpoint_scale(f: &Fixture) -> String {
    let Some(cmd1) = f.answer(1) else {
        return "unknown (cmd 1 not recorded)".into();
    };
    let list = match object(cmd1).and_then(|m| m.get("par").cloned()) {
        Some(Value::Array(list)) => list,
        Some(Value::Object(values)) if values.contains_key("31") => {
            return "unknown (no type codes)".into();
        }
        Some(Value::Object(_)) => return "none".into(),
        _ => return "unknown (no parameter list)".into(),
    };
    // The list as the library reads it: [id, type code, value].
    let parameters: Vec<Parameter> = list
        .iter()
        .filter_map(|entry| {
            let entry = entry.as_array()?;
            Some(Parameter {
                id: u16::try_from(entry.first()?.as_u64()?).ok()?,
                type_code: u8::try_from(entry.get(1)?.as_u64()?).ok()?,
                value: entry.get(2)?.as_str()?.to_string(),
            })
        })
        .collect();
    let Some(listed) = find(&parameters, SETPOINT) else {
        return "none".into();
    };
    let code = listed.type_code;
    let type_name = ValueType::from_code(code).map_or(format!("type {code}"), |t| t.to_string());
    match SetpointScale::of(&parameters) {
        Some(SetpointScale::Tenths) => format!("°C×10 ({type_name})"),
        Some(SetpointScale::Whole) => format!("whole °C ({type_name})"),
        None => format!("unknown ({type_name})"),
    }
}

fn write_answer(f: &Fixture) -> String {
    let Some(text) = &f.write else {
        return "unknown".into();
    };
    match object(text).and_then(|m| m.get("par").cloned()) {
        Some(Value::Array(_)) => "parameter list".into(),
        Some(Value::Object(_)) => "parameter values (no type codes)".into(),
        _ => format!("`{text}`"),
    }
}

fn scheme(f: &Fixture) -> String {
    match &f.scheme {
        Some(s) => format!("`{}`: confirmed on hardware ({})", s.name, s.established),
        None => "unknown".into(),
    }
}

#[test]
fn devices_md_is_what_the_fixtures_give() {
    let generated = generate(&root().join("tests/fixtures"));
    let path = root().join("docs/DEVICES.md");
    if std::env::var_os("HMX_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/DEVICES.md differs from what tests/fixtures/*.json give; run HMX_BLESS=1 cargo test --test devices"
    );
}

#[test]
fn a_new_fixture_file_is_a_new_row() {
    let dir = std::env::temp_dir().join(format!("hmx-devices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = Fixture::load(root().join("tests/fixtures/oz.json")).unwrap();
    f.model = "zz".into();
    f.firmware = Some("9.9; a new unit".into());
    f.write = Some(r#"{"success":"true"}"#.into());
    f.scheme = Some(hmx::local::SchemeRecord {
        name: "raw-unix".into(),
        established: "hmx probe, 2026-01-01: accepted raw-unix".into(),
    });
    std::fs::write(dir.join("zz.json"), f.to_json()).unwrap();
    let table = generate(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let row = table.lines().last().unwrap();
    assert!(
        row.starts_with(
            "| [`zz.json`](../tests/fixtures/zz.json) | `zz` | 9.9 | vendor docs | 1, 2, 3, 4, 10 |"
        ),
        "{row}"
    );
    assert!(row.contains("| °C×10 (int16) | `{\"success\":\"true\"}` | `raw-unix`: confirmed on hardware (hmx probe, 2026-01-01: accepted raw-unix) |"), "{row}");
}

#[test]
fn runs_of_numbers_are_shortened() {
    assert_eq!(runs(vec![7, 0, 1, 2, 3, 9, 10]), ["0–3", "7", "9", "10"]);
    assert!(runs(Vec::new()).is_empty());
}
