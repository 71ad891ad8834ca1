//! The site from the command line: `--site FILE`, `hmx sync`, `hmx site`, and devices by name through `hmx::Site` (one, a list, `--all`), printed one row or JSON line each.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use hmx::local::{self, State, Thermostat};
use hmx::site::{Outcome, SyncReport};
use hmx::{ErrorKind, Site};
use serde_json::{Map, Value, json};

use crate::cloud::{CloudArgs, env_text, host_of};
use crate::listen::listen;
use crate::local::{ReachArgs, parse_seconds, write_out};
use crate::output::{aligned, escape};
use crate::progress::{self, Note};
use crate::{Failure, password, state};

/// Which site file: `--site FILE`, else `HMX_SITE`, else the XDG config folder.
#[derive(Clone, clap::Args)]
pub struct SiteFile {
    /// The site file `hmx sync` writes [env: HMX_SITE; default:
    /// $XDG_CONFIG_HOME/hmx/site.json, else ~/.config/hmx/site.json]
    #[arg(long = "site", value_name = "FILE")]
    site_file: Option<PathBuf>,
}

impl SiteFile {
    /// The site (empty when there is no file yet); a file that cannot be used is exit 8, naming it.
    pub fn open(&self) -> Result<Site, Failure> {
        let path = match &self.site_file {
            Some(path) => path.clone(),
            None => hmx::site::default_path().map_err(|e| Failure::hmx(&e, None))?,
        };
        Site::open(path).map_err(|e| Failure::hmx(&e, None))
    }
}

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

/// `hmx sync --help`, after the options.
pub const SYNC_HELP: &str = "\
The site is one file (mode 0600, in a 0700 folder) with the account's devices by name: their
keys, token schemes, last addresses and health, and the cloud token (the password is never
kept). Sync reads the account's keys (the saved token first; a login only when there is none or
the cloud refuses it, with the password from HMX_PASSWORD, a prompt on a terminal, or the first
line of stdin) from the cloud the site's account is on, unless --base-url or HMX_BASE_URL names
another, listens for announcements (--discovery-seconds; devices announce about every 30
s), joins both by serial and saves. It prints each device as joined (in the account and on the
LAN: ready), cloud only (not heard: off, elsewhere, or quiet for now) or LAN only (not in this
account: reads only, unless it is unlocked); --json prints
{\"joined\":[SERIAL...],\"cloud_only\":[...],\"lan_only\":[...],\"logged_in\":BOOL}.

Then `hmx get NAME state`, `hmx set NAME setpoint=21`, `hmx set --all brightness=5` and
`hmx watch` reach the devices by name. `hmx site` lists them; `hmx site set NAME
address=IP[:PORT]` fixes an address by hand.";

#[derive(clap::Args)]
pub struct SyncArgs {
    /// The account's email (default: the site's account) [env: HMX_EMAIL]
    #[arg(long, value_name = "EMAIL")]
    email: Option<String>,
    #[command(flatten)]
    cloud: CloudArgs,
    /// The UDP port the announcements go to
    #[arg(long, value_name = "P", default_value_t = local::DISCOVERY_PORT)]
    discovery_port: u16,
    /// How long to listen for announcements, in seconds (devices announce about every 30 s)
    #[arg(long, value_name = "N", default_value = "35", value_parser = parse_seconds)]
    discovery_seconds: Duration,
    /// Print the report as one JSON object instead of a table
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    ask: crate::listen::SweepArgs,
    #[command(flatten)]
    site: SiteFile,
}

/// Whether the site holds a token for `email` on the cloud `base_url`.
fn has_token(site: &Site, email: &str, base_url: &str) -> bool {
    site.account().is_some_and(|a| {
        a.email.eq_ignore_ascii_case(email) && a.base_url == base_url && a.token().is_some()
    })
}

pub fn sync(args: SyncArgs) -> Result<(), Failure> {
    let mut site = args.site.open()?;
    let email = match args.email.clone().or(env_text("HMX_EMAIL")?) {
        Some(email) => email,
        None => match site.account() {
            Some(a) => a.email.clone(),
            None => {
                return Err(Failure::usage(format!(
                    "the site {} has no account yet: give --email EMAIL (or set HMX_EMAIL)",
                    site.path().display()
                )));
            }
        },
    };
    let saved_url = site
        .account()
        .filter(|a| a.email.eq_ignore_ascii_case(&email))
        .map(|a| a.base_url.clone());
    let client = args.cloud.client(saved_url.as_deref())?;
    let host = host_of(client.base_url());
    let token = has_token(&site, &email, client.base_url());
    site = site
        .cloud(client)
        .discovery(args.discovery_port, args.discovery_seconds);
    // The password only when there is no token to try first; asked again if the cloud refuses it.
    if !token {
        site = site.password(password::read()?.to_string());
    }
    let what = format!("{host}: reading the account's keys");
    let logged_in = match progress::show(&what, |_| site.refresh_keys(Some(&email))) {
        Err(e) if token && e.kind() == ErrorKind::Auth => {
            eprintln!("hmx: {host}: the site's saved token was refused; logging in again");
            site = site.password(password::read()?.to_string());
            progress::show(&what, |_| site.refresh_keys(Some(&email)))
        }
        other => other,
    }
    .map_err(|e| Failure::hmx(&e, Some(&host)))?;

    let what = format!(
        "listening for announcements on UDP port {} ({} s)",
        args.discovery_port,
        args.discovery_seconds.as_secs_f64()
    );
    let found = match args.ask.targets() {
        Some(targets) => crate::listen::sweep(&targets),
        None => listen(args.discovery_port, args.discovery_seconds, &what, |_| {
            false
        }),
    }
    .map_err(|e| Failure::hmx(&e, None))?;
    site.join_lan(&found, true);
    site.save().map_err(|e| Failure::hmx(&e, None))?;

    let report = SyncReport {
        logged_in,
        ..site.sync_report()
    };
    let mut rows = vec![
        ["NAME", "SERIAL", "ADDRESS", "FOUND"]
            .map(String::from)
            .to_vec(),
    ];
    for d in site.devices() {
        let found = match (d.in_cloud, d.on_lan) {
            (true, true) => "joined",
            (true, false) => "cloud only",
            (false, true) => "LAN only",
            (false, false) => continue,
        };
        rows.push(vec![
            d.name.as_deref().map_or("-".into(), escape),
            escape(&d.sn),
            d.address.as_deref().map_or("-".into(), escape),
            found.into(),
        ]);
    }
    if args.json {
        let value = serde_json::to_value(&report).unwrap_or(Value::Null);
        write_out(&format!("{value:#}\n"))?;
    } else {
        write_out(&aligned(&rows))?;
    }
    eprintln!(
        "hmx: {} joined, {} cloud only, {} LAN only; saved in {}",
        report.joined.len(),
        report.cloud_only.len(),
        report.lan_only.len(),
        site.path().display()
    );
    Ok(())
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SiteArgs {
    #[command(subcommand)]
    action: Option<SiteAction>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(clap::Subcommand)]
enum SiteAction {
    /// List the site's devices (the default)
    List(ListArgs),
    /// Set a device's address (a unit with a fixed address, or one found by hand) or token scheme
    Set(SetArgs),
}

#[derive(clap::Args)]
struct ListArgs {
    /// Print a JSON array (every member but the key: "has_key" instead)
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    site: SiteFile,
}

#[derive(clap::Args)]
struct SetArgs {
    /// The device: its name (or a prefix only it has), serial or saved address
    #[arg(value_name = "NAME")]
    name: String,
    /// address=IP[:PORT] or scheme=NAME (raw-2000, raw-unix, base32-2000, base32-unix)
    #[arg(value_name = "FIELD=VALUE", required = true)]
    fields: Vec<String>,
    #[command(flatten)]
    site: SiteFile,
}

pub fn run(args: SiteArgs) -> Result<(), Failure> {
    match args.action {
        None => list(args.list),
        Some(SiteAction::List(list_args)) => list(list_args),
        Some(SiteAction::Set(set_args)) => set(set_args),
    }
}

fn list(args: ListArgs) -> Result<(), Failure> {
    let site = args.site.open()?;
    if args.json {
        let value = serde_json::to_value(site.devices()).unwrap_or(Value::Null);
        return write_out(&format!("{value:#}\n"));
    }
    let mut rows = vec![
        [
            "NAME", "SERIAL", "ADDRESS", "HW", "KEY", "SCHEME", "FOUND", "HEALTH",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for d in site.devices() {
        let found = match (d.in_cloud, d.on_lan) {
            (true, true) => "joined",
            (true, false) => "cloud only",
            (false, true) => "LAN only",
            (false, false) => "-",
        };
        let health = match d.health.failures {
            0 if d.health.last_success.is_some() => "ok".to_string(),
            0 => "-".to_string(),
            n => format!("{n} failed"),
        };
        rows.push(vec![
            d.name.as_deref().map_or("-".into(), escape),
            escape(&d.sn),
            d.address.as_deref().map_or("-".into(), escape),
            d.hw.as_deref().map_or("-".into(), escape),
            if d.key().is_some() { "yes" } else { "-" }.into(),
            d.scheme.name().into(),
            found.into(),
            health,
        ]);
    }
    if site.devices().is_empty() {
        eprintln!(
            "hmx: the site {} has no devices: run `hmx sync`",
            site.path().display()
        );
    }
    write_out(&aligned(&rows))
}

fn set(args: SetArgs) -> Result<(), Failure> {
    let mut site = args.site.open()?;
    // Every field is checked before anything is saved.
    let mut changes = Vec::new();
    for field in &args.fields {
        let Some((name, value)) = field.split_once('=') else {
            return Err(Failure::usage(format!(
                "{field:?}: give FIELD=VALUE (address=IP[:PORT] or scheme=NAME)"
            )));
        };
        match name.trim() {
            "address" => changes.push((true, value.trim().to_string())),
            "scheme" => {
                value
                    .trim()
                    .parse::<hmx::totp::Scheme>()
                    .map_err(|e| Failure::usage(e.message()))?;
                changes.push((false, value.trim().to_string()));
            }
            other => {
                return Err(Failure::usage(format!(
                    "{other:?} is not a field to set: address or scheme"
                )));
            }
        }
    }
    let sn = site
        .get(&args.name)
        .map_err(|e| Failure::hmx(&e, None))?
        .sn
        .clone();
    for (address, value) in changes {
        let result = if address {
            site.set_address(&sn, &value)
        } else {
            value
                .parse()
                .and_then(|scheme| site.set_scheme(&sn, scheme))
        };
        result.map_err(|e| Failure::hmx(&e, None))?;
    }
    Ok(())
}
