//! `hmx code KEY [--device-time N] [--scheme NAME]`: the 9-digit local-API token for a key.

use std::io::{self, Write};

use hmx::totp::Scheme;
use zeroize::Zeroizing;

use crate::{Failure, clock, password, scheme};

#[derive(clap::Args)]
pub struct Args {
    /// The device's TOTP key as the cloud gives it (its text's bytes, unless --scheme says
    /// base32); `-` reads it from stdin
    #[arg(value_name = "KEY")]
    key: String,
    /// Device time (seconds since 2000-01-01T00:00:00Z) instead of this machine's clock
    #[arg(long, value_name = "N")]
    device_time: Option<u32>,
    /// The token scheme to compute the code for: how the key text becomes bytes (raw, or
    /// base32-decoded) and where the clock counts from (2000, or 1970 for -unix); default
    /// raw-2000; `hmx probe` finds the one a device accepts
    #[arg(long, value_name = "NAME", value_parser = scheme::parser(), ignore_case = true)]
    scheme: Option<Scheme>,
}

pub fn run(args: Args) -> Result<(), Failure> {
    let key = if args.key == "-" {
        password::first_line_of_stdin("the key")?
    } else {
        Zeroizing::new(args.key)
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
    let code = args
        .scheme
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
