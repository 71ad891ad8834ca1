//! `hmx discover` and `hmx get`, and what every command for one thermostat shares: finding it, its key, printing.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use hmx::TotpKey;
use hmx::local::{self, Found, Listener, Thermostat};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::output::escape;
use crate::{Failure, state};

fn parse_seconds(text: &str) -> Result<Duration, String> {
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
}

/// Which device, and how to reach it.
#[derive(clap::Args)]
pub struct DeviceArgs {
    /// The device: an IP address or name (optional :port), or its serial number,
    /// which is then found by its announcement on the LAN (devices announce
    /// about every 30 s, so that can take up to --discovery-seconds)
    #[arg(value_name = "HOST")]
    host: String,
    /// Its serial number (default: HOST, when HOST is a serial)
    #[arg(long, value_name = "SN")]
    sn: Option<String>,
    /// Bound on each request, in seconds
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    timeout: Duration,
    /// The UDP port to hear announcements on, when HOST is a serial
    #[arg(long, value_name = "P", default_value_t = local::DISCOVERY_PORT)]
    discovery_port: u16,
    /// How long to wait for the serial's announcement, in seconds (devices
    /// announce about every 30 s)
    #[arg(long, value_name = "N", default_value = "35", value_parser = parse_seconds)]
    discovery_seconds: Duration,
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

#[derive(clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    device: DeviceArgs,
    /// What to read
    #[arg(value_enum)]
    what: What,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
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
    let found = local::discover(args.port, args.seconds).map_err(|e| Failure::hmx(&e, None))?;
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
    if found.is_empty() {
        eprintln!(
            "hmx: no announcement heard on UDP port {} in {} s",
            args.port,
            args.seconds.as_secs_f64()
        );
    }
    write_out(&text)
}

/// A serial rather than an address: 16 or more hex digits, no dot or colon.
/// Waits for `sn`'s announcement and gives its address.
fn find_serial(sn: &str, port: u16, within: Duration) -> Result<String, Failure> {
    let listener = Listener::bind(port).map_err(|e| Failure::hmx(&e, None))?;
    eprintln!(
        "hmx: looking for {sn} on the LAN (UDP port {port}; devices announce about every 30 s, \
         waiting up to {} s)",
        within.as_secs_f64()
    );
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match listener.next(left) {
            Ok(Some(f)) if hmx::same_serial(&f.sn, sn) => {
                eprintln!("hmx: {sn} announced itself from {}", f.ip);
                return Ok(f.ip.to_string());
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return Err(Failure::hmx(&e, None)),
        }
    }
    Err(Failure {
        code: 6,
        message: Some(format!(
            "no announcement from {sn} within {} s; give its address instead",
            within.as_secs_f64()
        )),
    })
}

impl DeviceArgs {
    /// The client (its errors name the address themselves).
    pub fn thermostat(&self) -> Result<Thermostat, Failure> {
        self.thermostat_at().map(|(t, _)| t)
    }

    /// The client, and the address it talks to (for the command's own messages).
    pub fn thermostat_at(&self) -> Result<(Thermostat, String), Failure> {
        let serial = local::looks_like_serial(&self.host);
        let sn = match (&self.sn, serial) {
            (Some(sn), _) => sn.clone(),
            (None, true) => self.host.clone(),
            (None, false) => return Err(Failure::usage("give --sn SN (the device's serial)")),
        };
        let host = if serial {
            find_serial(&self.host, self.discovery_port, self.discovery_seconds)?
        } else {
            self.host.clone()
        };
        let t = Thermostat::new(&host, &sn)
            .map_err(|e| Failure::hmx(&e, None))?
            .timeout(self.timeout);
        Ok((t, host))
    }
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

pub fn get(args: GetArgs) -> Result<(), Failure> {
    let t = args.device.thermostat()?;
    let fail = |e: hmx::Error| Failure::hmx(&e, None);
    let text = match args.what {
        What::State => {
            let s = t.state().map_err(fail)?;
            if args.json {
                state::json(&s)
            } else {
                state::table(&s)
            }
        }
        What::Params => parameters_text(&t.parameters().map_err(fail)?, args.json),
        What::Telemetry => {
            let fields = t.telemetry().map_err(fail)?;
            if args.json {
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
        What::Time => {
            let now = t.device_time().map_err(fail)?;
            if args.json {
                format!("{}\n", json!({"time": now}))
            } else {
                format!("{now}\n")
            }
        }
        What::Schedule => {
            let schedule = t.schedule().map_err(fail)?;
            const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            if args.json {
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
    };
    write_out(&text)
}
