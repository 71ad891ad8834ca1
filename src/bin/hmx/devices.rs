//! Devices of the site by name from the command line: one, a list or `--all` through `hmx::Site`, printed one row or JSON line each.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use hmx::local::{self, State, Thermostat};
use hmx::site::Outcome;
use hmx::{ErrorKind, Site};
use serde_json::{Map, Value, json};

use crate::cloud::CloudArgs;
use crate::local::{ReachArgs, write_out};
use crate::output::{aligned, escape};
use crate::progress::{self, Note};
use crate::{Failure, password, state};

/// What the progress line says while a site listens for devices that stopped answering.
fn listening_note(wanted: usize, heard: usize, wait: Duration) -> String {
    let whose = if wanted == 1 {
        "its announcement".to_string()
    } else {
        format!("the announcements of {wanted} devices")
    };
    format!(
        "listening for {whose}, {heard} of {wanted} heard, up to {} s",
        wait.as_secs_f64()
    )
}

/// Devices of the site that a command talks to through `Site::call`.
pub struct Devices {
    pub site: Site,
    /// The progress line's note, which the site's listening hook also sets.
    note: Note,
    queries: Vec<String>,
    many: bool,
}

impl Devices {
    /// The site, set up to reach devices as `reach` says, to fetch a
    /// changed key from the cloud its account came from (HMX_BASE_URL and
    /// HMX_CA_FILE when set, the environment's proxy) and to log in again
    /// with HMX_PASSWORD when that is set (never asking).
    pub fn open(reach: &ReachArgs) -> Result<Devices, Failure> {
        let site = reach.site.open()?;
        let base_url = site.account().map(|a| a.base_url.clone());
        let cloud = CloudArgs::from_environment().client(base_url.as_deref())?;
        let note = Note::default();
        let hook = note.clone();
        let wait = reach.discovery_seconds;
        let mut site = site
            .cloud(cloud)
            .timeout(reach.timeout, local::DEFAULT_MIN_INTERVAL)
            .discovery(reach.discovery_port, wait)
            .on_listen(move |sns, heard| hook.set(listening_note(sns.len(), heard, wait)));
        if let Some(password) = password::from_env_only()? {
            site = site.password(password.to_string());
        }
        Ok(Devices {
            site,
            note,
            queries: Vec::new(),
            many: false,
        })
    }

    /// The one device `query` names.
    pub fn one(mut self, query: &str) -> Devices {
        self.queries = vec![query.to_string()];
        self.many = false;
        self
    }

    /// `a,b,c`: each a name, prefix or serial of the site (unknown ones fail on their own).
    pub fn list(mut self, list: &str) -> Result<Devices, Failure> {
        let queries: Vec<String> = list.split(',').map(|q| q.trim().to_string()).collect();
        if queries.iter().any(String::is_empty) {
            return Err(Failure::usage(format!(
                "{list:?}: a list of devices is names separated by commas, none empty"
            )));
        }
        self.queries = queries;
        self.many = true;
        Ok(self)
    }

    /// Every device of the site, in its order.
    pub fn all(mut self) -> Result<Devices, Failure> {
        self.queries = self.site.devices().iter().map(|d| d.sn.clone()).collect();
        if self.queries.is_empty() {
            return Err(Failure {
                code: 6,
                message: Some(format!(
                    "the site {} has no devices: run `hmx sync` first",
                    self.site.path().display()
                )),
            });
        }
        self.many = true;
        Ok(self)
    }

    /// Several devices: --all or a list (one result each, in rows or JSON lines).
    pub fn is_many(&self) -> bool {
        self.many
    }

    /// The serials (or queries the site does not know) of the devices named.
    pub fn queries(&self) -> &[String] {
        &self.queries
    }

    /// What to call the device `query` names in messages: its name, else its serial, escaped.
    pub fn label(&self, query: &str) -> String {
        escape(self.site.get(query).map_or(query, |d| d.label()))
    }

    /// The device's name in the site, for JSON.
    fn name(&self, query: &str) -> Option<String> {
        self.site.get(query).ok().and_then(|d| d.name.clone())
    }

    /// `f` on the one device through `Site::call` (rediscovery, a changed
    /// key, health), showing `doing` on a terminal; an error names the device.
    pub fn call_one<T: Send>(
        &mut self,
        doing: &str,
        f: impl Fn(&Thermostat) -> Result<T, hmx::Error> + Sync,
    ) -> Result<T, Failure> {
        let query = self.queries.first().cloned().unwrap_or_default();
        let label = self.label(&query);
        let site = &mut self.site;
        progress::show_with(&format!("{label}: {doing}"), &self.note, |_| {
            site.call(&query, f)
        })
        .map_err(|e| Failure::hmx_site(&e, &label))
    }

    /// `f` on every device named, in parallel through `Site::call_many`,
    /// showing how many are done on a terminal. One result each; only the
    /// site's save can fail the whole (exit 8).
    pub fn call_many<T: Send>(
        &mut self,
        doing: &str,
        f: impl Fn(&Thermostat) -> Result<T, hmx::Error> + Sync,
    ) -> Result<Vec<Outcome<T>>, Failure> {
        let total = self.queries.len();
        let done: Mutex<BTreeSet<String>> = Mutex::default();
        let note = self.note.clone();
        let counted = |t: &Thermostat| {
            let result = f(t);
            let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
            done.insert(t.sn().to_ascii_uppercase());
            note.set(format!("{} of {total} done", done.len()));
            result
        };
        let queries: Vec<&str> = self.queries.iter().map(String::as_str).collect();
        let site = &mut self.site;
        let what = format!("{doing} of {}", progress::count(total, "device"));
        progress::show_with(&what, &self.note, |_| site.call_many(&queries, counted))
            .map_err(|e| Failure::hmx(&e, None))
    }
}

/// One device's failure among several: the code it would exit with, for
/// the table and for JSON, and the message for stderr.
pub struct DeviceFailure {
    pub code: u8,
    pub kind: &'static str,
    pub message: String,
    pub shown: Option<String>,
}

impl DeviceFailure {
    pub fn of(err: &hmx::Error, label: &str) -> DeviceFailure {
        let failure = Failure::hmx_site(err, label);
        DeviceFailure {
            code: failure.code,
            kind: err.kind().as_str(),
            message: err.message().to_string(),
            shown: failure.message,
        }
    }

    /// A refusal of the command's own (exit 2), for `label`.
    pub fn usage(message: String, label: &str) -> DeviceFailure {
        DeviceFailure {
            code: crate::EXIT_USAGE,
            kind: ErrorKind::InvalidArgument.as_str(),
            shown: Some(format!("{label}: {message}")),
            message,
        }
    }
}

/// What one device's success shows: the cells after NAME (the last under
/// RESULT), and one member for its JSON line.
pub struct Shown {
    pub cells: Vec<String>,
    pub member: &'static str,
    pub value: Value,
}

/// Prints one result per device, in the order named: a table (NAME,
/// `header`...) or JSON lines with `--json`; failures also on stderr. Any
/// failure ends with the largest failing device's exit code.
pub fn print_many<T>(
    devices: &Devices,
    results: Vec<Outcome<T>>,
    as_json: bool,
    header: &[String],
    shown: impl Fn(T, &str) -> Result<Shown, DeviceFailure>,
) -> Result<(), Failure> {
    let total = results.len();
    let mut worst = 0u8;
    let mut failed = 0usize;
    let mut messages = Vec::new();
    let mut head = vec!["NAME".to_string()];
    head.extend(header.iter().cloned());
    let mut rows = vec![head];
    let mut lines = String::new();
    for outcome in results {
        let label = devices.label(&outcome.device);
        let result = match outcome.result {
            Ok(value) => shown(value, &label),
            Err(e) => Err(DeviceFailure::of(&e, &label)),
        };
        let mut line = Map::new();
        line.insert("device".into(), json!(outcome.device));
        line.insert("name".into(), json!(devices.name(&outcome.device)));
        match result {
            Ok(ok) => {
                let mut row = vec![label];
                row.extend(ok.cells);
                rows.push(row);
                line.insert(ok.member.into(), ok.value);
            }
            Err(f) => {
                worst = worst.max(f.code);
                failed += 1;
                let mut row = vec![label];
                row.extend(header.iter().skip(1).map(|_| "-".to_string()));
                row.push(f.kind.to_string());
                rows.push(row);
                line.insert(
                    "error".into(),
                    json!({"kind": f.kind, "message": f.message, "exit": f.code}),
                );
                messages.extend(f.shown);
            }
        }
        lines.push_str(&Value::Object(line).to_string());
        lines.push('\n');
    }
    write_out(&if as_json { lines } else { aligned(&rows) })?;
    for m in messages {
        eprintln!("hmx: {m}");
    }
    if failed == 0 {
        return Ok(());
    }
    Err(Failure {
        code: worst,
        message: Some(format!("{failed} of {total} devices failed")),
    })
}

/// `hmx get (--all|A,B) state`.
pub fn print_states(
    devices: &Devices,
    results: Vec<Outcome<State>>,
    as_json: bool,
) -> Result<(), Failure> {
    let mut header = state::summary_header();
    header.push("RESULT".into());
    print_many(devices, results, as_json, &header, |s, _| {
        let mut cells = state::summary(&s);
        cells.push("ok".into());
        Ok(Shown {
            cells,
            member: "state",
            value: serde_json::to_value(&s).unwrap_or(Value::Null),
        })
    })
}
