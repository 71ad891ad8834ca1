//! `hmx discover` and `hmx get`, and what every command for a thermostat shares: finding it (an address, a serial on the LAN, or the site), its key, printing.

use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Duration;

use hmx::TotpKey;
use hmx::local::{self, Found, Thermostat};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::devices::{self, Devices};
use crate::listen::listen;
use crate::output::escape;
use crate::site::SiteFile;
use crate::{Failure, state};

pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err("must be more than 0 seconds".into());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text} seconds is too long"))
}

#[derive(clap::Args)]
pub struct DiscoverArgs {
    /// How long to listen, in seconds; devices announce themselves about every 30 s
    #[arg(long, value_name = "N", default_value = "35", value_parser = parse_seconds)]
    seconds: Duration,
    /// The UDP port the announcements go to
    #[arg(long, value_name = "P", default_value_t = local::DISCOVERY_PORT)]
    port: u16,
    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    ask: crate::listen::SweepArgs,
}

/// `HOST`'s help: one line for -h, the rule for --help.
pub const HOST_HELP: &str = "The device: a name, name prefix or serial from the site, or an \
    address with --sn (see --help)";
pub const HOST_LONG_HELP: &str = "The device. Without --sn, HOST is looked up in the site \
    (--site): by name (any case, or a prefix only one name starts with), serial number or saved \
    address; the device is then reached through the site, which finds it again by its \
    announcement when it moved, fetches its key again when it changed (with the saved token, or \
    HMX_PASSWORD) and keeps its health; its key and token scheme come from the site unless \
    given. A serial the site does not know is found by its announcement on the LAN (devices \
    announce about every 30 s, so that can take up to --discovery-seconds). With --sn SN, HOST \
    is an IP address or host name (optional :port) and the site is not used.";

/// How to reach devices: request bound, discovery, the site. Shared by the
/// commands for one device and by `hmx watch`.
#[derive(Clone, clap::Args)]
pub struct ReachArgs {
    /// Bound on each request, in seconds
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// The UDP port to hear announcements on (for a serial the site does not know, or a
    /// device of the site that stopped answering)
    #[arg(long, value_name = "P", default_value_t = local::DISCOVERY_PORT)]
    pub discovery_port: u16,
    /// How long to wait for an announcement, in seconds (devices announce about every 30 s)
    #[arg(long, value_name = "N", default_value = "35", value_parser = parse_seconds)]
    pub discovery_seconds: Duration,
    #[command(flatten)]
    pub site: SiteFile,
}

/// How to reach the device or devices HOST names.
#[derive(clap::Args)]
pub struct DeviceArgs {
    /// Its serial number: HOST is then an address and the site is not used (default: HOST,
    /// when HOST is a serial)
    #[arg(long, value_name = "SN")]
    sn: Option<String>,
    #[command(flatten)]
    pub reach: ReachArgs,
}

/// Where a command's device or devices are.
pub enum Target {
    /// An address (with --sn, or a serial heard on the LAN), talked to
    /// directly as before there were sites; `host` for the command's messages.
    Direct {
        thermostat: Thermostat,
        host: String,
    },
    /// One device of the site, or several (--all, a list).
    Site(Devices),
}

/// Whether HOST reads as an address or host name rather than a device's name.
fn address_like(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok() || host.contains(['.', ':', '['])
}

impl DeviceArgs {
    /// Where HOST (or `--all`) points, by the rule in [`HOST_LONG_HELP`];
    /// a comma-separated list names several devices of the site.
    /// `needs_key`: a key must be given for a device the site does not
    /// know, which is then refused before listening for its announcement.
    pub fn target(
        &self,
        host: Option<&str>,
        all: bool,
        needs_key: bool,
    ) -> Result<Target, Failure> {
        if all {
            if self.sn.is_some() {
                return Err(Failure::usage(
                    "--all takes every device of the site; --sn is for one address",
                ));
            }
            return Devices::open(&self.reach)?.all().map(Target::Site);
        }
        let Some(host) = host.map(str::trim) else {
            return Err(Failure::usage("give HOST (the device), or --all"));
        };
        let no_key = || Failure::usage("give --key KEY (or set HMX_TOTP_KEY)");
        if let Some(sn) = &self.sn {
            if needs_key {
                return Err(no_key());
            }
            return self.direct(host, sn);
        }
        let devices = Devices::open(&self.reach)?;
        let known = devices.site.get(host).map(|_| ());
        match known {
            Ok(()) => Ok(Target::Site(devices.one(host))),
            Err(_) if host.contains(',') => devices.list(host).map(Target::Site),
            Err(e) if e.kind() == hmx::ErrorKind::NotFound => {
                if local::looks_like_serial(host) {
                    if needs_key {
                        return Err(no_key());
                    }
                    self.direct(host, host)
                } else if address_like(host) {
                    Err(Failure::usage(format!(
                        "{host} is not in the site {}: give --sn SN (the device's serial) to \
                         reach it by its address, or run `hmx sync`",
                        devices.site.path().display()
                    )))
                } else {
                    let mut failure = Failure::hmx(&e, None);
                    if let Some(m) = failure.message.as_mut() {
                        m.push_str("; for a device by its host name, give --sn SN");
                    }
                    Err(failure)
                }
            }
            Err(e) => Err(Failure::hmx(&e, None)),
        }
    }

    /// The client for an address, or for a serial found by its announcement.
    fn direct(&self, host: &str, sn: &str) -> Result<Target, Failure> {
        let host = if sn == host && local::looks_like_serial(host) {
            find_serial(
                host,
                self.reach.discovery_port,
                self.reach.discovery_seconds,
            )?
        } else {
            host.to_string()
        };
        let thermostat = Thermostat::new(&host, sn)
            .map_err(|e| Failure::hmx(&e, None))?
            .timeout(self.reach.timeout);
        Ok(Target::Direct { thermostat, host })
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum What {
    /// The state in °C and named values (from {"cmd":4} and {"cmd":1}); the table
    /// shows 0.1 °C, --json every field exact, null where the unit reports nothing
    State,
    /// Every parameter ({"cmd":1}): id, type code, value
    Params,
    /// Telemetry ({"cmd":4}), fields as sent
    Telemetry,
    /// The device's clock ({"cmd":3}), seconds since 2000-01-01T00:00:00Z
    Time,
    /// The week's schedule ({"cmd":2})
    Schedule,
}

/// `hmx get --help`, after the options.
pub const GET_HELP: &str = "\
Several devices: a comma-separated list of names from the site (`hmx get kitchen,bath state`;
a name with a comma in it still works whole), or --all for every device of the site. They are
read in parallel, one request at a time each, for their state only. Each device gets one row,
or with --json one JSON line:
  {\"device\": SERIAL, \"name\": NAME, \"state\": {...}}
  {\"device\": SERIAL, \"name\": NAME, \"error\": {\"kind\": ..., \"message\": ..., \"exit\": CODE}}
A device that fails never hides the others; the exit code is then the largest among the
devices that failed (4 for one that did not answer, 7 for one that refused the key, ...).";

#[derive(clap::Args)]
pub struct GetArgs {
    #[arg(value_name = "HOST", help = HOST_HELP, long_help = HOST_LONG_HELP)]
    host: Option<String>,
    /// What to read
    #[arg(value_enum, value_name = "WHAT")]
    what: Option<What>,
    /// Every device of the site (their state)
    #[arg(long)]
    all: bool,
    /// Print JSON instead of a table (several devices: one JSON line each)
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn write_out(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

fn found_json(found: &[Found]) -> Value {
    found
        .iter()
        .map(|f| {
            json!({"sn": f.sn, "ip": f.ip.to_string(), "hw": f.hw, "connection": f.connection,
                   "wifi": f.wifi, "cloud": f.cloud})
        })
        .collect()
}

pub fn discover(args: DiscoverArgs) -> Result<(), Failure> {
    let what = format!(
        "listening for announcements on UDP port {} ({} s)",
        args.port,
        args.seconds.as_secs_f64()
    );
    let found = match args.ask.targets() {
        Some(targets) => crate::listen::sweep(&targets),
        None => listen(args.port, args.seconds, &what, |_| false),
    }
    .map_err(|e| Failure::hmx(&e, None))?;
    if args.json {
        return write_out(&format!("{:#}\n", found_json(&found)));
    }
    let mut text = String::from("SERIAL\tIP\tHW\tCONNECTION\tWIFI\tCLOUD\n");
    let or_dash = |v: Option<String>| v.map_or("-".to_string(), |s| escape(&s));
    for f in &found {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            escape(&f.sn),
            f.ip,
            or_dash(f.hw.clone()),
            or_dash(f.connection.clone()),
            f.wifi.map_or("-".to_string(), |w| format!("{w} dBm")),
            f.cloud.map_or("-", |c| if c { "yes" } else { "no" }),
        ));
    }
    match (found.is_empty(), args.ask.targets()) {
        (false, _) => {}
        (true, Some(targets)) => {
            eprintln!("hmx: no device answered at {}", targets.join(", "));
        }
        (true, None) => eprintln!(
            "hmx: no announcement heard on UDP port {} in {} s",
            args.port,
            args.seconds.as_secs_f64()
        ),
    }
    write_out(&text)
}

/// Waits for `sn`'s announcement and gives its address (a serial the site does not know).
fn find_serial(sn: &str, port: u16, within: Duration) -> Result<String, Failure> {
    eprintln!(
        "hmx: looking for {sn} on the LAN (UDP port {port}; devices announce about every 30 s, \
         waiting up to {} s)",
        within.as_secs_f64()
    );
    let what = format!("looking for {sn} on the LAN");
    let found = listen(port, within, &what, |found| {
        found.iter().any(|f| hmx::same_serial(&f.sn, sn))
    });
    let found = match found {
        Ok(found) => found,
        // Only other datagrams heard: no announcement from the serial either.
        Err(e) if e.kind() == hmx::ErrorKind::Protocol => Vec::new(),
        Err(e) => return Err(Failure::hmx(&e, None)),
    };
    if let Some(f) = found.iter().find(|f| hmx::same_serial(&f.sn, sn)) {
        eprintln!("hmx: {sn} announced itself from {}", f.ip);
        return Ok(f.ip.to_string());
    }
    Err(Failure {
        code: 6,
        message: Some(format!(
            "no announcement from {sn} within {} s; give its address instead",
            within.as_secs_f64()
        )),
    })
}

/// The key from `--key` or `HMX_TOTP_KEY`.
pub fn key(flag: Option<String>) -> Result<Option<TotpKey>, Failure> {
    let key = match flag {
        Some(k) => Some(Zeroizing::new(k)),
        None => match std::env::var_os("HMX_TOTP_KEY") {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v) => Some(Zeroizing::new(
                v.into_string()
                    .map_err(|_| Failure::usage("HMX_TOTP_KEY is not UTF-8"))?,
            )),
        },
    };
    Ok(key.map(|k| TotpKey::new(k.to_string())))
}

pub fn parameters_text(list: &[local::Parameter], as_json: bool) -> String {
    if as_json {
        let rows: Vec<Value> = list
            .iter()
            .map(|p| json!([p.id, p.type_code, p.value]))
            .collect();
        return format!("{:#}\n", Value::Array(rows));
    }
    let mut text = String::from("ID\tTYPE\tVALUE\n");
    for p in list {
        text.push_str(&format!(
            "{}\t{}\t{}\n",
            p.id,
            p.type_code,
            escape(&p.value)
        ));
    }
    text
}

/// What was read, by `What`.
enum Reading {
    State(local::State),
    Params(Vec<local::Parameter>),
    Telemetry(serde_json::Map<String, Value>),
    Time(u32),
    Schedule(local::Schedule),
}

fn read(t: &Thermostat, what: What) -> Result<Reading, hmx::Error> {
    Ok(match what {
        What::State => Reading::State(t.state()?),
        What::Params => Reading::Params(t.parameters()?),
        What::Telemetry => Reading::Telemetry(t.telemetry()?),
        What::Time => Reading::Time(t.device_time()?),
        What::Schedule => Reading::Schedule(t.schedule()?),
    })
}

impl What {
    /// What reading it is, for progress lines.
    fn doing(self) -> &'static str {
        match self {
            What::State => "reading the state",
            What::Params => "reading the parameters",
            What::Telemetry => "reading the telemetry",
            What::Time => "reading the clock",
            What::Schedule => "reading the schedule",
        }
    }
}

fn reading_text(reading: Reading, as_json: bool) -> String {
    match reading {
        Reading::State(s) => {
            if as_json {
                state::json(&s)
            } else {
                state::table(&s)
            }
        }
        Reading::Params(list) => parameters_text(&list, as_json),
        Reading::Telemetry(fields) => {
            if as_json {
                format!("{:#}\n", Value::Object(fields))
            } else {
                fields
                    .iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        format!("{}\t{}\n", escape(k), escape(&v))
                    })
                    .collect()
            }
        }
        Reading::Time(now) => {
            if as_json {
                format!("{}\n", json!({"time": now}))
            } else {
                format!("{now}\n")
            }
        }
        Reading::Schedule(schedule) => {
            const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            if as_json {
                let days: Vec<Value> = schedule
                    .days
                    .iter()
                    .map(|d| {
                        d.iter()
                            .map(|p| json!([p.minute, p.temperature_tenths]))
                            .collect()
                    })
                    .collect();
                format!("{:#}\n", Value::Array(days))
            } else {
                let mut text = String::from("DAY\tFROM\tSETPOINT\n");
                for (day, periods) in DAYS.iter().zip(&schedule.days) {
                    for p in periods {
                        text.push_str(&format!(
                            "{day}\t{:02}:{:02}\t{:.1} °C\n",
                            p.minute / 60,
                            p.minute % 60,
                            f64::from(p.temperature_tenths) / 10.0
                        ));
                    }
                }
                text
            }
        }
    }
}

/// HOST and WHAT as given: with --all there is no HOST, so clap puts WHAT in HOST's place.
fn host_and_what(args: &GetArgs) -> Result<(Option<&str>, What), Failure> {
    let what_needed =
        || Failure::usage("give WHAT to read: state, params, telemetry, time or schedule");
    match (args.all, args.host.as_deref(), args.what) {
        (true, Some(_), Some(_)) => Err(Failure::usage(
            "--all reads every device of the site: give WHAT alone, not HOST too",
        )),
        (true, Some(text), None) => {
            let what = <What as clap::ValueEnum>::from_str(text, true).map_err(|_| {
                Failure::usage(format!(
                    "{text:?} is not something to read: state, params, telemetry, time or schedule"
                ))
            })?;
            Ok((None, what))
        }
        (true, None, _) | (false, _, None) => Err(what_needed()),
        (false, host, Some(what)) => Ok((host, what)),
    }
}

pub fn get(args: GetArgs) -> Result<(), Failure> {
    let (host, what) = host_and_what(&args)?;
    match args.device.target(host, args.all, false)? {
        Target::Direct { thermostat, .. } => {
            let reading = read(&thermostat, what).map_err(|e| Failure::hmx(&e, None))?;
            write_out(&reading_text(reading, args.json))
        }
        Target::Site(mut devices) if devices.is_many() => {
            if !matches!(what, What::State) {
                return Err(Failure::usage(
                    "several devices (--all or a list) are read for their state only: give `state`",
                ));
            }
            let results = devices.call_many(what.doing(), |t| t.state())?;
            devices::print_states(&devices, results, args.json)
        }
        Target::Site(mut devices) => {
            let reading = devices.call_one(what.doing(), |t| read(t, what))?;
            write_out(&reading_text(reading, args.json))
        }
    }
}
