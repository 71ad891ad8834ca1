//! `hmx dump`: what one unit answers, recorded as a fixture file (serial masked, no key or token) for contributing.

use std::path::PathBuf;

use hmx::local::{self, Fixture, Found, Recording, Thermostat};

use crate::Failure;
use crate::listen::listen;
use crate::local::{ReachArgs, key, write_out};

pub const DUMP_HELP: &str = "\
Reads {\"cmd\":1} to {\"cmd\":4} once each (paced as always) and writes them, exactly as the
unit sent them, as a fixture file: the format hmx's stand-in replays and its tests run every
unit through. The serial is masked but for its first 8 characters, everywhere; a key, the
tokens a probe sent and the password are never in it.

HOST is a serial (then its announcement is heard and recorded too; devices announce about
every 30 s), a name from the site, or an address with --sn. With --key (or HMX_TOTP_KEY) the
probe runs: the unit's brightness is written back unchanged once per token scheme until one
is accepted, which settles the scheme the unit wants. Nothing else is written to the unit.

Please send the file (read it first: it is plain JSON) with your model and firmware version
in a new issue; it becomes a test case, and a row of docs/DEVICES.md.";

#[derive(clap::Args)]
pub struct DumpArgs {
    /// The unit: a serial, a name from the site, or an address with --sn
    #[arg(value_name = "HOST")]
    host: String,
    /// Its serial number: HOST is then its address and nothing is heard
    #[arg(long, value_name = "SN")]
    sn: Option<String>,
    /// Its TOTP key: runs the probe too [env: HMX_TOTP_KEY]
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// The firmware version, when you know it (the unit does not say)
    #[arg(long, value_name = "VERSION")]
    firmware: Option<String>,
    /// Write the fixture to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    reach: ReachArgs,
}

/// The unit's serial and, when known, where it is.
fn locate(args: &DumpArgs) -> Result<(String, Option<String>), Failure> {
    if let Some(sn) = &args.sn {
        return Ok((sn.clone(), Some(args.host.clone())));
    }
    if local::looks_like_serial(&args.host) {
        return Ok((args.host.clone(), None));
    }
    let site = args.reach.site.open()?;
    let device = site.get(&args.host).map_err(|e| {
        let mut failure = Failure::hmx(&e, None);
        if let Some(m) = failure.message.as_mut() {
            m.push_str("; give the unit's serial, or its address with --sn SN");
        }
        failure
    })?;
    Ok((device.sn.clone(), device.address.clone()))
}

/// Listens for `sn`'s announcement: its address and the datagram as sent.
fn hear(args: &DumpArgs, sn: &str) -> Result<Option<Found>, Failure> {
    let (port, wait) = (args.reach.discovery_port, args.reach.discovery_seconds);
    let what = format!(
        "listening for {sn}'s announcement (up to {} s)",
        wait.as_secs_f64()
    );
    let found = match listen(port, wait, &what, |found| {
        found.iter().any(|f| hmx::same_serial(&f.sn, sn))
    }) {
        Ok(found) => found,
        Err(e) if e.kind() == hmx::ErrorKind::Protocol => Vec::new(),
        Err(e) => return Err(Failure::hmx(&e, None)),
    };
    Ok(found.into_iter().find(|f| hmx::same_serial(&f.sn, sn)))
}

pub fn dump(args: DumpArgs) -> Result<(), Failure> {
    let key = key(args.key.clone())?;
    let (sn, known_address) = locate(&args)?;
    // An address given with --sn is used as it is; otherwise the unit is heard,
    // which also records its announcement.
    let heard = if args.sn.is_some() {
        None
    } else {
        hear(&args, &sn)?
    };
    let address = match (&heard, known_address) {
        (Some(f), _) => f.ip.to_string(),
        (None, Some(address)) => {
            if args.sn.is_none() {
                eprintln!("hmx: no announcement from {sn} heard; recording without one");
            }
            address
        }
        (None, None) => {
            return Err(Failure {
                code: 6,
                message: Some(format!(
                    "no announcement from {sn} within {} s; give its address with --sn {sn}",
                    args.reach.discovery_seconds.as_secs_f64()
                )),
            });
        }
    };
    let mut t = Thermostat::new(&address, &sn)
        .map_err(|e| Failure::hmx(&e, None))?
        .timeout(args.reach.timeout);
    let probe = match key {
        Some(key) => {
            t = t.key(key);
            eprintln!("hmx: probing the token schemes (brightness written back unchanged)");
            Some(t.probe().map_err(|e| Failure::hmx(&e, None))?)
        }
        None => None,
    };
    let with = Recording {
        announcement: heard.as_ref().and_then(|f| f.datagram.as_deref()),
        probe: probe.as_ref(),
        firmware: args.firmware.as_deref(),
        ..Recording::default()
    };
    let fixture = Fixture::record(&t, &with).map_err(|e| Failure::hmx(&e, None))?;
    let text = fixture.to_json();
    match &args.out {
        Some(path) => std::fs::write(path, &text).map_err(|e| Failure {
            code: 1,
            message: Some(format!("cannot write {}: {e}", path.display())),
        })?,
        None => write_out(&text)?,
    }
    let scheme = match fixture.scheme.as_ref() {
        Some(s) => format!("the unit accepted token scheme {}", s.name),
        None if probe.is_some() => {
            "no token scheme was settled (LAN locking off, or every scheme refused)".into()
        }
        None => "no probe (give --key to settle the token scheme)".into(),
    };
    eprintln!(
        "hmx: recorded {} ({}); {scheme}.\nhmx: please check the file, then send it with your model and firmware version in a new issue: it becomes a test case and a row of docs/DEVICES.md",
        fixture.sn, fixture.model,
    );
    Ok(())
}
