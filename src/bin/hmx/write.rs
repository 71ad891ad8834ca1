//! `hmx set` and `hmx probe`: writes to a thermostat (or several of the site), named (`setpoint=21.5`) or numbered (`23=5`), signed with its key.

use hmx::TotpKey;
use hmx::local::{self, Control, ProbeReport, Thermostat, Written};
use hmx::totp::Scheme;
use serde_json::json;

use crate::devices::{DeviceFailure, Shown, print_many};
use crate::local::{
    DeviceArgs, HOST_HELP, HOST_LONG_HELP, Target, key, parameters_text, write_out,
};
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

A unit with LAN locking on needs its key: a device of the site signs with the key and scheme
the site has for it; else give --key (or HMX_TOTP_KEY). `hmx probe HOST --key KEY` finds the
token scheme a unit accepts, which --scheme then gives.

Several devices: a comma-separated list of names from the site (`hmx set kitchen,bath
brightness=5`), or --all for every device of the site. Each gets the same write in parallel, one
request at a time each, signed with its own key and scheme from the site (--key, --scheme and
HMX_TOTP_KEY do not apply). Each device gets one row (`written` or what failed), or with --json
one JSON line:
  {\"device\": SERIAL, \"name\": NAME, \"written\": true}
  {\"device\": SERIAL, \"name\": NAME, \"error\": {\"kind\": ..., \"message\": ..., \"exit\": CODE}}
A device that fails never hides the others; the exit code is then the largest among the
devices that failed.";

#[derive(clap::Args)]
pub struct SetArgs {
    #[arg(value_name = "HOST", help = HOST_HELP, long_help = HOST_LONG_HELP)]
    host: Option<String>,
    /// What to write, e.g. setpoint=21.5 or 23=5 (see below)
    #[arg(value_name = "SETTING")]
    values: Vec<String>,
    /// Every device of the site
    #[arg(long)]
    all: bool,
    /// The device's TOTP key, to sign the write (default: the site's) [env: HMX_TOTP_KEY;
    /// the variable keeps it out of the process list]
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// The token scheme the key signs with (default: the site's, else raw-2000; `hmx probe`
    /// finds the unit's)
    #[arg(long, value_name = "NAME", value_parser = scheme::parser(), ignore_case = true)]
    scheme: Option<Scheme>,
    /// Print JSON: the parameter list when the unit answers with it, else {"written":true};
    /// several devices: one JSON line each
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(clap::Args)]
pub struct ProbeArgs {
    #[arg(value_name = "HOST", help = HOST_HELP, long_help = HOST_LONG_HELP)]
    host: String,
    /// The device's TOTP key (default: the site's) [env: HMX_TOTP_KEY]
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Check only this token scheme (one write) instead of trying each in turn
    #[arg(long, value_name = "NAME", value_parser = scheme::parser(), ignore_case = true)]
    scheme: Option<Scheme>,
    /// Print the report as one JSON object
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
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

/// What makes one thing given twice a refusal.
fn given_twice(what: String, a: &str, b: &str) -> String {
    format!("{a} and {b} both write {what}: give it once; nothing was sent")
}

/// Why a write was not sent, found after the unit's parameter list was read.
enum Refused {
    /// A named setting the unit cannot take (its list says so).
    Assignment(hmx::Error),
    /// A name and a number that turned out to be one parameter.
    Twice(String),
}

/// The settings of one `hmx set`, checked as far as the command line alone can tell.
struct Plan {
    settings: Vec<(Setting, String)>,
}

impl Plan {
    fn new(values: &[String]) -> Result<Plan, Failure> {
        let settings = values
            .iter()
            .map(|text| Ok((setting(text)?, text.clone())))
            .collect::<Result<Vec<_>, Failure>>()?;
        let plan = Plan { settings };
        if let Some((name, a, b)) = twice(&plan.names()) {
            return Err(Failure::usage(given_twice(name.to_string(), a, b)));
        }
        if let Some((id, a, b)) = twice(&plan.ids()) {
            return Err(Failure::usage(given_twice(format!("parameter {id}"), a, b)));
        }
        Ok(plan)
    }

    fn names(&self) -> Vec<(&'static str, &str)> {
        self.settings
            .iter()
            .filter_map(|(s, text)| match s {
                Setting::Named(c) => Some((c.name(), text.as_str())),
                Setting::Numbered(..) => None,
            })
            .collect()
    }

    fn ids(&self) -> Vec<(u16, &str)> {
        self.settings
            .iter()
            .filter_map(|(s, text)| match s {
                Setting::Numbered(id, _) => Some((*id, text.as_str())),
                Setting::Named(_) => None,
            })
            .collect()
    }

    /// The write, in one request: named controls through `control()`,
    /// numbers through `set()`, a mix as below.
    fn apply(&self, t: &Thermostat) -> Result<Result<Written, Refused>, hmx::Error> {
        if self.ids().is_empty() {
            let controls: Vec<Control> = self
                .settings
                .iter()
                .filter_map(|(s, _)| match s {
                    Setting::Named(c) => Some(*c),
                    Setting::Numbered(..) => None,
                })
                .collect();
            return t.control(&controls).map(Ok);
        }
        if self.names().is_empty() {
            let values: Vec<(u16, &str)> = self
                .settings
                .iter()
                .filter_map(|(s, _)| match s {
                    Setting::Numbered(id, value) => Some((*id, value.as_str())),
                    Setting::Named(_) => None,
                })
                .collect();
            return t.set(&values).map(Ok);
        }
        self.mixed(t)
    }

    /// Named and numbered settings in one write: each name becomes its
    /// parameter through the library's `Control::assignment`, against the
    /// list the unit gives, then all go out with `set()`.
    fn mixed(&self, t: &Thermostat) -> Result<Result<Written, Refused>, hmx::Error> {
        let listed = t.parameters()?;
        let mut values: Vec<(u16, String)> = Vec::with_capacity(self.settings.len());
        let mut ids = Vec::with_capacity(self.settings.len());
        for (s, text) in &self.settings {
            let (id, value) = match s {
                Setting::Named(c) => match c.assignment(&listed) {
                    Ok(assignment) => assignment,
                    Err(e) => return Ok(Err(Refused::Assignment(e))),
                },
                Setting::Numbered(id, value) => (*id, value.clone()),
            };
            ids.push((id, text.as_str()));
            values.push((id, value));
        }
        if let Some((id, a, b)) = twice(&ids) {
            return Ok(Err(Refused::Twice(given_twice(
                format!("parameter {id}"),
                a,
                b,
            ))));
        }
        t.set(&values).map(Ok)
    }
}

/// `t` with the key and scheme given on the command line, over the site's.
fn signed(t: &Thermostat, key: Option<&TotpKey>, scheme: Option<Scheme>) -> Thermostat {
    let mut t = t.clone();
    if let Some(key) = key {
        t = t.key(key.clone());
    }
    if let Some(scheme) = scheme {
        t = t.scheme(scheme);
    }
    t
}

fn written_text(written: Written, as_json: bool) -> String {
    match written {
        Written::Accepted if as_json => format!("{}\n", json!({"written": true})),
        Written::Accepted => "written\n".into(),
        Written::Parameters(list) => parameters_text(&list, as_json),
    }
}

pub fn set(args: SetArgs) -> Result<(), Failure> {
    // With --all there is no HOST: clap put the first SETTING in its place.
    let (host, values) = match (args.all, args.host) {
        (true, first) => (None, first.into_iter().chain(args.values).collect()),
        (false, host) => (host, args.values),
    };
    if values.is_empty() {
        return Err(Failure::usage(
            "give at least one SETTING, e.g. setpoint=21.5 or 23=5",
        ));
    }
    // Everything the command line alone can tell is checked before any unit is asked anything.
    let plan = Plan::new(&values)?;
    let many = args.all || host.as_deref().is_some_and(|h| h.contains(','));
    if many && (args.key.is_some() || args.scheme.is_some()) {
        return Err(Failure::usage(
            "several devices each sign with their own key and scheme from the site: \
             --key and --scheme are for one device",
        ));
    }
    let key = if many { None } else { key(args.key)? };
    match args.device.target(host.as_deref(), args.all, false)? {
        Target::Direct {
            thermostat, host, ..
        } => {
            if key.is_none() && args.scheme.is_some() {
                return Err(Failure::usage(
                    "--scheme says how a key signs the write: give the key too (--key or HMX_TOTP_KEY)",
                ));
            }
            let t = signed(&thermostat, key.as_ref(), args.scheme);
            let written = match plan.apply(&t).map_err(|e| Failure::hmx(&e, None))? {
                Ok(written) => written,
                Err(Refused::Assignment(e)) => {
                    return Err(Failure::hmx(&e, Some(&format!("thermostat {host}"))));
                }
                Err(Refused::Twice(message)) => return Err(Failure::usage(message)),
            };
            write_out(&written_text(written, args.json))
        }
        Target::Site(mut devices) if devices.is_many() => {
            let results = devices.call_many("writing", |t| plan.apply(t))?;
            print_many(
                &devices,
                results,
                args.json,
                &["RESULT".to_string()],
                |result, label| match result {
                    Ok(_) => Ok(Shown {
                        cells: vec!["written".into()],
                        member: "written",
                        value: json!(true),
                    }),
                    Err(Refused::Assignment(e)) => Err(DeviceFailure::of(&e, label)),
                    Err(Refused::Twice(message)) => Err(DeviceFailure::usage(message, label)),
                },
            )
        }
        Target::Site(mut devices) => {
            let query = devices.queries().first().cloned().unwrap_or_default();
            let label = devices.label(&query);
            let has_key = devices.site.get(&query).is_ok_and(|d| d.key().is_some());
            if key.is_none() && !has_key && args.scheme.is_some() {
                return Err(Failure::usage(format!(
                    "--scheme says how a key signs the write, and the site has no key for \
                     {label}: give the key too (--key or HMX_TOTP_KEY)"
                )));
            }
            let result = devices.call_one("writing", |t| {
                plan.apply(&signed(t, key.as_ref(), args.scheme))
            })?;
            let written = match result {
                Ok(written) => written,
                Err(Refused::Assignment(e)) => return Err(Failure::hmx_site(&e, &label)),
                Err(Refused::Twice(message)) => {
                    return Err(Failure::usage(format!("{label}: {message}")));
                }
            };
            write_out(&written_text(written, args.json))
        }
    }
}

fn probe_with(t: &Thermostat, scheme: Option<Scheme>) -> Result<ProbeReport, hmx::Error> {
    match scheme {
        Some(scheme) => t.probe_schemes(&[scheme]),
        None => t.probe(),
    }
}

pub fn probe(args: ProbeArgs) -> Result<(), Failure> {
    let key = key(args.key)?;
    let no_key = || Failure::usage("give --key KEY (or set HMX_TOTP_KEY)");
    let report = match args.device.target(Some(&args.host), false, key.is_none())? {
        Target::Direct { thermostat, .. } => {
            let key = key.ok_or_else(no_key)?;
            probe_with(&thermostat.key(key), args.scheme).map_err(|e| Failure::hmx(&e, None))?
        }
        Target::Site(devices) if devices.is_many() => {
            return Err(Failure::usage("probe one device at a time"));
        }
        Target::Site(mut devices) => {
            let query = devices.queries().first().cloned().unwrap_or_default();
            let label = devices.label(&query);
            let has_key = devices.site.get(&query).is_ok_and(|d| d.key().is_some());
            if key.is_none() && !has_key {
                return Err(Failure::usage(format!(
                    "the site has no key for {label}: give --key KEY (or set HMX_TOTP_KEY)"
                )));
            }
            let report = devices.call_one("probing the token schemes", |t| {
                probe_with(&signed(t, key.as_ref(), None), args.scheme)
            })?;
            // What the unit accepts is what the site signs its writes with from now on.
            if let Some(accepted) = report.accepted {
                let before = devices.site.get(&query).map(|d| d.scheme).ok();
                if before != Some(accepted) {
                    devices
                        .site
                        .set_scheme(&query, accepted)
                        .map_err(|e| Failure::hmx(&e, None))?;
                    eprintln!(
                        "hmx: the site now signs writes to {label} with {}",
                        accepted.name()
                    );
                }
            }
            report
        }
    };
    if args.json {
        let json = serde_json::to_value(&report).unwrap_or_default();
        write_out(&format!("{json:#}\n"))?;
    } else {
        // Only a scheme the unit accepted settles anything worth reporting.
        let ask = if report.accepted.is_some() {
            "\nPlease report this line with your model and firmware version: it settles the token scheme."
        } else {
            ""
        };
        write_out(&format!("{report}{ask}\n"))?;
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
