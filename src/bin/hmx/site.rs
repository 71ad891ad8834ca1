//! The site from the command line: `--site FILE`, `hmx sync` and `hmx site` (devices by name: devices.rs).

use std::path::PathBuf;
use std::time::Duration;

use hmx::local;
use hmx::{ErrorKind, Site};
use serde_json::Value;

use crate::cloud::{CloudArgs, env_text, host_of};
use crate::listen::listen;
use crate::local::{parse_seconds, write_out};
use crate::output::{aligned, escape};
use crate::progress;
use crate::{Failure, password};

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
    let report = site
        .finish_sync(logged_in, &found)
        .map_err(|e| Failure::hmx(&e, None))?;
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
        let field = if address { "address" } else { "scheme" };
        eprintln!(
            "hmx: {sn}: {field} {value}, saved in {}",
            site.path().display()
        );
    }
    Ok(())
}
