//! `hmx code (KEY | --device NAME) [--device-time N] [--scheme NAME]`: the 9-digit local-API token for a key, given or from the site.

use std::io::{self, Write};

use hmx::totp::Scheme;
use zeroize::Zeroizing;

use crate::output::escape;
use crate::site::SiteFile;
use crate::{Failure, clock, password, scheme};

#[derive(clap::Args)]
pub struct Args {
    /// The device's TOTP key as the cloud gives it (its text's bytes, unless --scheme says
    /// base32); `-` reads it from stdin
    #[arg(value_name = "KEY", required_unless_present = "device")]
    key: Option<String>,
    /// The device of the site whose key (and token scheme, unless --scheme) to use: its name,
    /// a prefix only it has, or its serial
    #[arg(long, value_name = "NAME", conflicts_with = "key")]
    device: Option<String>,
    /// Device time (seconds since 2000-01-01T00:00:00Z) instead of this machine's clock
    #[arg(long, value_name = "N")]
    device_time: Option<u32>,
    /// The token scheme to compute the code for: how the key text becomes bytes (raw, or
    /// base32-decoded) and where the clock counts from (2000, or 1970 for -unix); default
    /// raw-2000; `hmx probe` finds the one a device accepts
    #[arg(long, value_name = "NAME", value_parser = scheme::parser(), ignore_case = true)]
    scheme: Option<Scheme>,
    #[command(flatten)]
    site: SiteFile,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let (key, scheme) = match (args.key, &args.device) {
        (Some(key), _) if key == "-" => (password::first_line_of_stdin("the key")?, args.scheme),
        (Some(key), _) => (Zeroizing::new(key), args.scheme),
        (None, Some(name)) => {
            let site = args.site.open()?;
            let device = site.get(name).map_err(|e| Failure::hmx(&e, None))?;
            let Some(key) = device.key() else {
                return Err(Failure::usage(format!(
                    "the site has no key for {}: its account does not list it; give KEY",
                    escape(device.label())
                )));
            };
            (
                Zeroizing::new(key.as_str().to_string()),
                args.scheme.or(Some(device.scheme)),
            )
        }
        (None, None) => return Err(Failure::usage("give KEY, or --device NAME")),
    };
    if key.is_empty() {
        return Err(Failure::usage("the key is empty"));
    }
    let device_time = match args.device_time {
        Some(t) => t,
        None => {
            let (now, warning) = clock::device_time_now();
            if let Some(warning) = warning {
                eprintln!("hmx: {warning}");
            }
            now
        }
    };
    let code = scheme
        .unwrap_or_default()
        .code(key.as_bytes(), device_time)
        .map_err(|e| Failure::usage(e.message()))?;
    writeln!(io::stdout(), "{code}").map_err(Failure::output)?;
    if args.device_time.is_none() {
        eprintln!(
            "valid for {} more s (device time {device_time})",
            hmx::totp::seconds_left(device_time)
        );
    }
    Ok(())
}
