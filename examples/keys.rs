//! Prints the devices of an account with their TOTP keys: the main job hmx does.
//!
//!     cargo run --example keys -- [--base-url URL] [--ca-file PEM] [--serial SN] [--json] [--codes] EMAIL
//!     cargo run --features test-util --example keys -- --demo
//!
//! The password comes from HMX_PASSWORD, else a no-echo prompt on a terminal,
//! else the first line of stdin; never from an argument (other users can read
//! a process's arguments). `--codes` adds each device's current local-API
//! token (CODE; `code` and `valid_for` seconds in JSON). Exit codes: 0 ok, 2 usage or bad argument, 3 auth,
//! 4 network/timeout/tls, 5 http/protocol/rate limited, 6 no such device.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use hmx::{Client, Device, ErrorKind};
use serde_json::json;
use zeroize::Zeroizing;

const USAGE: &str =
    "usage: keys [--base-url URL] [--ca-file PEM] [--serial SN] [--json] [--codes] EMAIL
       keys --demo [--serial SN] [--json] [--codes]
password: HMX_PASSWORD, else prompted (terminal), else the first line of stdin";

#[derive(Default)]
struct Args {
    base_url: Option<String>,
    ca_file: Option<String>,
    serial: Option<String>,
    json: bool,
    codes: bool,
    demo: bool,
    email: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--base-url" => args.base_url = Some(value("--base-url")?),
            "--ca-file" => args.ca_file = Some(value("--ca-file")?),
            "--serial" => args.serial = Some(value("--serial")?),
            "--json" => args.json = true,
            "--codes" => args.codes = true,
            "--demo" => args.demo = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if args.email.is_none() => args.email = Some(s.to_string()),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    if args.demo == args.email.is_some() {
        return Err("give an EMAIL, or --demo".to_string());
    }
    Ok(args)
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Auth => 3,
        ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Tls => 4,
        ErrorKind::Http | ErrorKind::Protocol | ErrorKind::RateLimited => 5,
        ErrorKind::NotFound => 6,
        _ => 2,
    }
}

fn read_password() -> Result<Zeroizing<String>, String> {
    if let Ok(p) = std::env::var("HMX_PASSWORD") {
        return Ok(Zeroizing::new(p));
    }
    let stdin = std::io::stdin();
    let mut line = Zeroizing::new(String::new());
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
    }
    let echo_off = terminal && set_echo(false);
    let read = stdin.lock().read_line(&mut line);
    if echo_off {
        set_echo(true);
        eprintln!();
    }
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    let trimmed = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(trimmed);
    Ok(line)
}

/// Turns terminal echo off or on with stty; false when that is not possible.
fn set_echo(on: bool) -> bool {
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}

/// The current token of each device and how long it stays valid, all for one instant.
struct Codes {
    device_time: u32,
}

impl Codes {
    fn of(&self, d: &Device) -> Option<String> {
        let key = d.totp_key.as_ref()?;
        Some(hmx::totp::code(key.as_bytes(), self.device_time).to_string())
    }

    fn valid_for(&self) -> u32 {
        hmx::totp::seconds_left(self.device_time)
    }
}

fn print_devices(devices: &[&Device], as_json: bool, codes: Option<&Codes>) {
    let key = |d: &Device| d.totp_key.as_ref().map(|k| k.as_str().to_string());
    if as_json {
        let rows: Vec<_> = devices
            .iter()
            .map(|d| {
                let mut row = json!({"id": d.id, "sn": d.sn, "name": d.name, "totp_key": key(d)});
                if let Some(c) = codes {
                    row["code"] = json!(c.of(d));
                    row["valid_for"] = json!(c.valid_for());
                }
                row
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("JSON of plain values")
        );
        return;
    }
    let mut header = vec![
        "ID".to_string(),
        "SERIAL".into(),
        "NAME".into(),
        "TOTP_KEY".into(),
    ];
    if codes.is_some() {
        header.push("CODE".into());
    }
    let mut rows = vec![header];
    for d in devices {
        let mut row = vec![
            d.id.to_string(),
            d.sn.clone(),
            d.name.clone(),
            key(d).unwrap_or("-".into()),
        ];
        if let Some(c) = codes {
            row.push(c.of(d).unwrap_or("-".into()));
        }
        rows.push(row);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|col| {
            rows.iter()
                .map(|r| r[col].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in &rows {
        let mut line = String::new();
        for (col, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if col + 1 < columns {
                line.push_str(&" ".repeat(widths[col] - cell.chars().count() + 2));
            }
        }
        println!("{line}");
    }
    if let Some(c) = codes {
        eprintln!(
            "codes for device time {}: valid for {} more s",
            c.device_time,
            c.valid_for()
        );
    }
}

/// The stand-in cloud of `--demo`, kept alive until the fetch is done.
#[cfg(feature = "test-util")]
type Demo = Option<hmx::testing::MockCloud>;
#[cfg(not(feature = "test-util"))]
type Demo = ();

fn demo_target(demo: &mut Demo) -> Result<(Client, String, Zeroizing<String>), (u8, String)> {
    #[cfg(feature = "test-util")]
    {
        let cloud = hmx::testing::MockCloud::start()
            .map_err(|e| (4, format!("cannot start the stand-in cloud: {e}")))?;
        eprintln!(
            "demo: stand-in cloud at {} (no network, no account)",
            cloud.base_url()
        );
        let client = cloud.client();
        *demo = Some(cloud);
        let password = Zeroizing::new(hmx::testing::DEMO_PASSWORD.to_string());
        Ok((client, hmx::testing::DEMO_EMAIL.to_string(), password))
    }
    #[cfg(not(feature = "test-util"))]
    {
        let () = *demo;
        Err((
            2,
            "--demo needs the stand-in cloud: add --features test-util".into(),
        ))
    }
}

fn run(args: Args) -> Result<(), (u8, String)> {
    let fail = |e: hmx::Error| (exit_code(e.kind()), format!("error ({}): {e}", e.kind()));
    let mut demo = Demo::default();
    let (client, email, password) = if args.demo {
        demo_target(&mut demo)?
    } else {
        let mut builder = Client::builder();
        if let Some(url) = &args.base_url {
            builder = builder.base_url(url);
        }
        if let Some(path) = &args.ca_file {
            let pem = std::fs::read(path).map_err(|e| (2, format!("cannot read {path}: {e}")))?;
            builder = builder.root_ca_pem(pem);
        }
        let client = builder.build().map_err(fail)?;
        let password = read_password().map_err(|e| (2, e))?;
        (client, args.email.clone().unwrap_or_default(), password)
    };
    let devices = client.fetch_devices(&email, &password).map_err(fail)?;
    #[cfg(feature = "test-util")]
    if let Some(cloud) = &demo {
        let s = cloud.stats();
        eprintln!(
            "demo: {} devices, {} requests over {} connection(s), {} TLS handshake(s)",
            devices.len(),
            s.requests,
            s.connections,
            s.handshakes
        );
    }
    let shown: Vec<&Device> = match &args.serial {
        Some(sn) => match hmx::find_device(&devices, sn) {
            Some(d) => vec![d],
            None => {
                return Err((
                    6,
                    format!("no device with serial {sn:?} among {}", devices.len()),
                ));
            }
        },
        None => devices.iter().collect(),
    };
    let codes = args.codes.then(|| Codes {
        device_time: hmx::totp::device_time_now(),
    });
    print_devices(&shown, args.json, codes.as_ref());
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("keys: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("keys: {message}");
            ExitCode::from(code)
        }
    }
}
