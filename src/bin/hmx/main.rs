//! `hmx`, the command-line tool (feature `cli`):
//!
//!     hmx keys [EMAIL] [--base-url URL] [--ca-file PEM] [--timeout SECONDS]
//!              [--serial SN] [--json] [--codes] [--token-file PATH]
//!     hmx keys --demo [...]              # the built-in stand-in cloud (feature test-util)
//!     hmx code (KEY|--device NAME) [--device-time N] [--scheme NAME]  # the 9-digit token, now or at N
//!     hmx sync [--email EMAIL] [--site FILE] [--json]  # the account's keys + the LAN, into the site
//!     hmx site [list|set NAME FIELD=VALUE...]          # the site's devices; an address or scheme by hand
//!     hmx discover [--seconds N] [--port P] [--json]   # devices announce about every 30 s
//!     hmx get (HOST|NAME[,NAME...]|--all) (state|params|telemetry|time|schedule) [--json]
//!     hmx set (HOST|NAME[,NAME...]|--all) [--key KEY] [--scheme NAME] SETTING...  # setpoint=21.5, 23=5
//!     hmx probe HOST [--sn SN] --key KEY [--scheme NAME] [--json]      # key also from HMX_TOTP_KEY
//!     hmx watch [NAME...] [--every SECONDS]            # a JSON line per change of state
//!     hmx dump HOST [--sn SN] [--key KEY] [--out FILE] # a fixture file of the unit's answers
//!     hmx demo                           # the whole chain against stand-ins (feature test-util)
//!
//! Exit codes: 0 ok, 2 usage or bad argument, 3 auth, 4 network/timeout/TLS,
//! 5 HTTP/protocol/rate limited, 6 no device with that serial or name, 7 blocked by the
//! device, 8 the site file cannot be read or written.

// As in the library: nothing the user types or a server sends may panic.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable
)]

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod clock;
mod cloud;
mod code;
#[cfg(feature = "test-util")]
mod demo;
mod devices;
mod dump;
mod keys;
mod listen;
mod local;
mod output;
mod password;
mod progress;
mod scheme;
mod site;
mod state;
mod watch;
mod write;

/// Exit code for a usage error or an unusable argument (as clap's own).
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "hmx",
    version,
    about = "TOTP keys of Terneo and Welrok thermostats from the vendor cloud",
    after_help = "Exit codes: 0 ok, 2 usage or bad argument, 3 auth, 4 network/timeout/TLS,\n\
                  5 HTTP/protocol/rate limited, 6 no device with that serial or name, 7 blocked by\n\
                  the device, 8 the site file cannot be read or written. With --all or a list of\n\
                  devices: the largest code among the devices that failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the devices of an account with their TOTP keys
    Keys(keys::Args),
    /// Print the 9-digit local-API token for a TOTP key
    Code(code::Args),
    /// Build or refresh the site: the account's keys from the cloud, joined with the devices heard on the LAN
    #[command(after_help = site::SYNC_HELP)]
    Sync(site::SyncArgs),
    /// List the site's devices, or set a device's address or token scheme by hand
    Site(site::SiteArgs),
    /// List the thermostats announcing themselves on the LAN (each about every 30 s)
    Discover(local::DiscoverArgs),
    /// Read the state, parameters, telemetry, clock or schedule of a thermostat, a list or --all
    #[command(
        override_usage = "hmx get [OPTIONS] <HOST | NAME,NAME... | --all> <WHAT>",
        after_help = local::GET_HELP
    )]
    Get(local::GetArgs),
    /// Write settings in one request to a thermostat, a list or --all, signed with its key
    #[command(
        override_usage = "hmx set [OPTIONS] <HOST | NAME,NAME... | --all> <SETTING>...",
        after_help = write::SET_HELP
    )]
    Set(write::SetArgs),
    /// Find which token scheme a locked thermostat accepts (writes a value back unchanged)
    Probe(write::ProbeArgs),
    /// Record what a unit answers as a fixture file (serial masked, no secrets), to contribute
    #[command(after_help = dump::DUMP_HELP)]
    Dump(dump::DumpArgs),
    /// Print a JSON line whenever a device's state changes, polling gently, until Ctrl-C
    #[command(after_help = watch::WATCH_HELP)]
    Watch(watch::WatchArgs),
    /// Run the whole chain against stand-ins: cloud, keys, discovery, telemetry, a signed write
    Demo,
}

/// Why a command failed: the exit code and what to tell the user on stderr.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    /// None: end quietly (the reader of our output went away).
    pub message: Option<String>,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: Some(message.into()),
        }
    }

    /// An hmx error, naming the host it happened with when there is one.
    pub fn hmx(err: &hmx::Error, host: Option<&str>) -> Failure {
        Failure::hmx_hinted(err, host, false)
    }

    /// An hmx error from a device reached through the site (`label`: its
    /// name), with the hints that fit there: its key came from the site.
    pub fn hmx_site(err: &hmx::Error, label: &str) -> Failure {
        Failure::hmx_hinted(err, Some(label), true)
    }

    fn hmx_hinted(err: &hmx::Error, host: Option<&str>, site: bool) -> Failure {
        use hmx::ErrorKind as K;
        let code = match err.kind() {
            K::Auth => 3,
            K::Network | K::Timeout | K::Tls => 4,
            K::Http | K::Protocol | K::RateLimited => 5,
            K::NotFound => 6,
            K::Blocked => 7,
            K::Storage => 8,
            _ => EXIT_USAGE,
        };
        let mut message = match host {
            Some(host) => format!("{host}: {} error: {err}", err.kind()),
            None => format!("{} error: {err}", err.kind()),
        };
        if let Some(wait) = err.retry_after() {
            message.push_str(&format!(" (retry after {} s)", wait.as_secs()));
        }
        // The library says what happened; the command says which of its options changes it.
        match err.kind() {
            K::Timeout => message.push_str("; --timeout SECONDS sets the bound"),
            K::Tls => message.push_str(
                "; --ca-file PEM (or HMX_CA_FILE) trusts another CA, --system-roots the system's",
            ),
            K::Blocked if site => message.push_str(
                "; the site's key was refused: `hmx sync` fetches the keys again, and \
                 `hmx probe NAME` finds the token scheme the firmware accepts (it is then kept \
                 in the site)",
            ),
            K::Auth if site => message
                .push_str("; set HMX_PASSWORD to let the command log in again, or run `hmx sync`"),
            K::Blocked => message.push_str(
                "; give the device's key with --key or HMX_TOTP_KEY, and when a key is refused, \
                 `hmx probe HOST --key KEY` finds the token scheme the firmware accepts \
                 (then give it with --scheme NAME)",
            ),
            _ => {}
        }
        Failure {
            code,
            message: Some(message),
        }
    }

    /// Writing to stdout failed. A closed pipe (`hmx keys | head -1`) ends quietly.
    pub fn output(err: io::Error) -> Failure {
        if err.kind() == io::ErrorKind::BrokenPipe {
            Failure {
                code: 0,
                message: None,
            }
        } else {
            Failure {
                code: 1,
                message: Some(format!("cannot write the output: {err}")),
            }
        }
    }
}

#[cfg(feature = "test-util")]
fn demo() -> Result<(), Failure> {
    demo::run()
}

#[cfg(not(feature = "test-util"))]
fn demo() -> Result<(), Failure> {
    Err(Failure::usage(
        "demo needs the built-in stand-ins: build with --features cli,test-util",
    ))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys(args) => keys::run(args),
        Command::Code(args) => code::run(args),
        Command::Sync(args) => site::sync(args),
        Command::Site(args) => site::run(args),
        Command::Discover(args) => local::discover(args),
        Command::Get(args) => local::get(args),
        Command::Set(args) => write::set(args),
        Command::Probe(args) => write::probe(args),
        Command::Dump(args) => dump::dump(args),
        Command::Watch(args) => watch::run(args),
        Command::Demo => demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = &failure.message {
                let _ = writeln!(io::stderr(), "hmx: {message}");
            }
            ExitCode::from(failure.code)
        }
    }
}
