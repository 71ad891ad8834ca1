//! `hmx set` and `hmx probe`: writes to a thermostat, named (`setpoint=21.5`) or numbered (`23=5`), signed with its key.

use hmx::local::{self, Control, Thermostat, Written};
use hmx::totp::Scheme;

use crate::local::{DeviceArgs, key, parameters_text, write_out};
use crate::{Failure, scheme};

/// `hmx set --help`, after the options.
pub const SET_HELP: &str = "\
SETTING is NAME=VALUE or ID=VALUE:
  setpoint=21.5         the current mode's setpoint, °C (parameter 31), in the unit's own step
                        (whole degrees on most units) and within its limits; the mode stays as
                        it is: a unit on its schedule holds the setpoint until its next period
  power=on|off          the unit (a relay unit: its relay) on or off (parameter 125)
  mode=schedule|manual  parameter 2
  brightness=N          display brightness, 0 to 10; Terneo units 0 to 9 (parameter 23)
  child_lock=on|off     lock the unit's buttons (parameter 124)
  ID=VALUE              any parameter the unit lists, by number (23=5), with its type code

Everything given goes in one write, named and numbered alike: `mode=manual setpoint=21.5`
holds 21.5 °C; `mode=manual 52=420` mixes both. Every value is checked against the unit's own
parameter list first: one it cannot take (setpoint=21.5 on a whole-degree unit, a parameter it
does not list, the same parameter twice) ends the command with exit 2 and nothing written.

A unit with LAN locking on needs its key; `hmx probe HOST --key KEY` finds the token scheme it
accepts, which --scheme then gives.";

#[derive(clap::Args)]
pub struct SetArgs {
    #[command(flatten)]
    device: DeviceArgs,
    /// The device's TOTP key, to sign the write [env: HMX_TOTP_KEY; the
    /// variable keeps it out of the process list]
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// The token scheme the key signs with (default raw-2000; `hmx probe` finds the unit's)
    #[arg(long, value_name = "NAME", value_parser = scheme::parser(), ignore_case = true)]
    scheme: Option<Scheme>,
    /// What to write, e.g. setpoint=21.5 or 23=5 (see below)
    #[arg(value_name = "SETTING", required = true)]
    values: Vec<String>,
}

#[derive(clap::Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    device: DeviceArgs,
    /// The device's TOTP key [env: HMX_TOTP_KEY]
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Check only this token scheme (one write) instead of trying each in turn
    #[arg(long, value_name = "NAME", value_parser = scheme::parser(), ignore_case = true)]
    scheme: Option<Scheme>,
    /// Print the report as one JSON object
    #[arg(long)]
    json: bool,
}

/// One SETTING from the command line.
enum Setting {
    /// `setpoint=21.5`, `power=on`, ...: the library's named controls.
    Named(Control),
    /// `23=5`: a parameter by number.
    Numbered(u16, String),
}

/// `ID=VALUE` when what comes before `=` is a number, else a named control.
fn setting(text: &str) -> Result<Setting, Failure> {
    let name = text.split_once('=').map_or(text, |(name, _)| name).trim();
    let result = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        local::parse_assignment(text).map(|(id, value)| Setting::Numbered(id, value))
    } else {
        text.parse().map(Setting::Named)
    };
    result.map_err(|e| Failure::usage(e.message()))
}

/// The first key given twice in `keys`, and the two texts that gave it.
fn twice<'a, K: PartialEq + Copy>(keys: &[(K, &'a str)]) -> Option<(K, &'a str, &'a str)> {
    keys.iter().enumerate().find_map(|(i, (key, text))| {
        let (_, first) = keys.iter().take(i).find(|(k, _)| k == key)?;
        Some((*key, *first, *text))
    })
}

/// A usage failure for one thing given twice.
fn given_twice(what: String, a: &str, b: &str) -> Failure {
    Failure::usage(format!(
        "{a} and {b} both write {what}: give it once; nothing was sent"
    ))
}

pub fn set(args: SetArgs) -> Result<(), Failure> {
    // Everything the command line alone can tell is checked before the unit is asked anything.
    let settings = args
        .values
        .iter()
        .map(|text| Ok((setting(text)?, text.as_str())))
        .collect::<Result<Vec<_>, Failure>>()?;
    let names: Vec<_> = settings
        .iter()
        .filter_map(|(s, text)| match s {
            Setting::Named(c) => Some((c.name(), *text)),
            Setting::Numbered(..) => None,
        })
        .collect();
    let ids: Vec<_> = settings
        .iter()
        .filter_map(|(s, text)| match s {
            Setting::Numbered(id, _) => Some((*id, *text)),
            Setting::Named(_) => None,
        })
        .collect();
    if let Some((name, a, b)) = twice(&names) {
        return Err(given_twice(name.to_string(), a, b));
    }
    if let Some((id, a, b)) = twice(&ids) {
        return Err(given_twice(format!("parameter {id}"), a, b));
    }
    let key = key(args.key)?;
    if key.is_none() && args.scheme.is_some() {
        return Err(Failure::usage(
            "--scheme says how a key signs the write: give the key too (--key or HMX_TOTP_KEY)",
        ));
    }
    let (mut t, host) = args.device.thermostat_at()?;
    if let Some(key) = key {
        t = t.key(key).scheme(args.scheme.unwrap_or_default());
    }
    let fail = |e: hmx::Error| Failure::hmx(&e, None);
    let written = if ids.is_empty() {
        let controls: Vec<Control> = settings
            .iter()
            .filter_map(|(s, _)| match s {
                Setting::Named(c) => Some(*c),
                Setting::Numbered(..) => None,
            })
            .collect();
        t.control(&controls).map_err(fail)?
    } else if names.is_empty() {
        let values: Vec<(u16, &str)> = settings
            .iter()
            .filter_map(|(s, _)| match s {
                Setting::Numbered(id, value) => Some((*id, value.as_str())),
                Setting::Named(_) => None,
            })
            .collect();
        t.set(&values).map_err(fail)?
    } else {
        mixed(&t, &host, &settings)?
    };
    match written {
        Written::Accepted => write_out("written\n"),
        Written::Parameters(list) => write_out(&parameters_text(&list, false)),
    }
}

/// Named and numbered settings in one write: each name becomes its
/// parameter through the library's `Control::assignment`, against the list
/// the unit gives, then all go out with `set()`.
fn mixed(t: &Thermostat, host: &str, settings: &[(Setting, &str)]) -> Result<Written, Failure> {
    let listed = t.parameters().map_err(|e| Failure::hmx(&e, None))?;
    let mut values: Vec<(u16, String)> = Vec::with_capacity(settings.len());
    let mut ids = Vec::with_capacity(settings.len());
    for (s, text) in settings {
        let (id, value) = match s {
            Setting::Named(c) => c
                .assignment(&listed)
                .map_err(|e| Failure::hmx(&e, Some(&format!("thermostat {host}"))))?,
            Setting::Numbered(id, value) => (*id, value.clone()),
        };
        ids.push((id, *text));
        values.push((id, value));
    }
    if let Some((id, a, b)) = twice(&ids) {
        return Err(given_twice(format!("parameter {id}"), a, b));
    }
    t.set(&values).map_err(|e| Failure::hmx(&e, None))
}

pub fn probe(args: ProbeArgs) -> Result<(), Failure> {
    let Some(key) = key(args.key)? else {
        return Err(Failure::usage("give --key KEY (or set HMX_TOTP_KEY)"));
    };
    let t = args.device.thermostat()?.key(key);
    let report = match args.scheme {
        Some(scheme) => t.probe_schemes(&[scheme]),
        None => t.probe(),
    }
    .map_err(|e| Failure::hmx(&e, None))?;
    if args.json {
        let json = serde_json::to_value(&report).unwrap_or_default();
        write_out(&format!("{json:#}\n"))?;
    } else {
        write_out(&format!(
            "{report}\nPlease report this line with your model and firmware version: it settles the token scheme.\n"
        ))?;
    }
    // Like a refused write: every scheme tried was refused (a wrong key, or a
    // scheme hmx does not know). With LAN locking off nothing is tried and the
    // report says so; any write is accepted then.
    if report.accepted.is_none() && !report.refused.is_empty() {
        let hint = match args.scheme {
            Some(_) => "check the key, or probe without --scheme to try every scheme",
            None => "check the key, or report this device",
        };
        return Err(Failure {
            code: 7,
            message: Some(format!(
                "the device refused every token scheme tried ({}): {hint}",
                report.refused.len()
            )),
        });
    }
    Ok(())
}
