//! `hmx code KEY [--device-time N]`: the 9-digit local-API token for a key.

use std::io::{self, Write};

use zeroize::Zeroizing;

use crate::{Failure, clock, password};

#[derive(clap::Args)]
pub struct Args {
    /// The device's TOTP key as the cloud gives it (its bytes, not base32); `-` reads it from stdin
    #[arg(value_name = "KEY")]
    key: String,
    /// Device time (seconds since 2000-01-01T00:00:00Z) instead of this machine's clock
    #[arg(long, value_name = "N")]
    device_time: Option<u32>,
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
    let code = hmx::totp::code(key.as_bytes(), device_time);
    writeln!(io::stdout(), "{code}").map_err(Failure::output)?;
    if args.device_time.is_none() {
        eprintln!(
            "valid for {} more s (device time {device_time})",
            hmx::totp::seconds_left(device_time)
        );
    }
    Ok(())
}
