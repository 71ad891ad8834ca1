//! `hmx keys`: the devices of an account with their TOTP keys.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hmx::{Client, Device, ErrorKind, Token};
use zeroize::Zeroizing;

use crate::cloud::{CloudArgs, env_text, host_of};
use crate::output::{self, Codes};
use crate::{Failure, clock, password, progress};

#[derive(clap::Args)]
pub struct Args {
    /// The account's email [env: HMX_EMAIL]
    #[arg(value_name = "EMAIL")]
    email: Option<String>,
    #[command(flatten)]
    cloud: CloudArgs,
    /// Only the device with this serial (trimmed, case-insensitive)
    #[arg(long, value_name = "SN")]
    serial: Option<String>,
    /// Print a JSON array of {"id","sn","name","totp_key"} instead of a table
    #[arg(long)]
    json: bool,
    /// Add each device's current local-API token (CODE; "code" and "valid_for" in JSON)
    #[arg(long)]
    codes: bool,
    /// Reuse the token saved in this file instead of logging in; log in again and
    /// replace it (mode 0600) when it is missing or the cloud refuses it
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Use the built-in stand-in cloud and its demo account (no network, no account); the
    /// options that choose a cloud, a proxy or roots do not apply to it
    #[arg(long, conflicts_with_all = ["email", "base_url", "ca_file", "proxy", "no_proxy", "system_roots"])]
    demo: bool,
}

/// Where the devices come from: a client, the account, and the stand-in when it is the demo.
struct Target {
    client: Client,
    host: String,
    email: String,
    /// The demo's password; None means ask (HMX_PASSWORD, prompt, stdin) when needed.
    password: Option<Zeroizing<String>>,
    #[cfg(feature = "test-util")]
    demo: Option<hmx::testing::MockCloud>,
}

fn real_target(args: &Args) -> Result<Target, Failure> {
    let client = args.cloud.client(None)?;
    let email = args
        .email
        .clone()
        .or(env_text("HMX_EMAIL")?)
        .ok_or_else(|| Failure::usage("give an EMAIL (or set HMX_EMAIL), or --demo"))?;
    Ok(Target {
        host: host_of(client.base_url()),
        client,
        email,
        password: None,
        #[cfg(feature = "test-util")]
        demo: None,
    })
}

#[cfg(feature = "test-util")]
fn demo_target(args: &Args) -> Result<Target, Failure> {
    let cloud = hmx::testing::MockCloud::start().map_err(|e| Failure {
        code: 4,
        message: Some(format!("cannot start the stand-in cloud: {e}")),
    })?;
    eprintln!(
        "demo: stand-in cloud at {} (no network, no account)",
        cloud.base_url()
    );
    let mut builder = cloud.client_builder();
    if let Some(timeout) = args.cloud.timeout {
        builder = builder.timeout(timeout);
    }
    let client = builder.build().map_err(|e| Failure::hmx(&e, None))?;
    Ok(Target {
        host: host_of(cloud.base_url()),
        client,
        email: hmx::testing::DEMO_EMAIL.to_string(),
        password: Some(Zeroizing::new(hmx::testing::DEMO_PASSWORD.to_string())),
        demo: Some(cloud),
    })
}

#[cfg(not(feature = "test-util"))]
fn demo_target(_: &Args) -> Result<Target, Failure> {
    Err(Failure::usage(
        "--demo needs the built-in stand-in cloud: build with --features cli,test-util",
    ))
}

impl Target {
    fn fail(&self, err: hmx::Error) -> Failure {
        Failure::hmx(&err, Some(&self.host))
    }

    fn login(&self) -> Result<Token, Failure> {
        let asked;
        let password = match &self.password {
            Some(p) => p,
            None => {
                asked = password::read()?;
                &asked
            }
        };
        progress::show(&format!("{}: logging in", self.host), |_| {
            self.client.login(&self.email, password)
        })
        .map_err(|e| self.fail(e))
    }

    fn list(&self, token: &Token) -> Result<Vec<Device>, hmx::Error> {
        progress::show(&format!("{}: reading the device list", self.host), |note| {
            self.client
                .list_devices_with_progress(token, |pages, devices| {
                    let s = |n: usize| if n == 1 { "" } else { "s" };
                    note.set(format!(
                        "{pages} page{}, {devices} device{}",
                        s(pages),
                        s(devices)
                    ));
                })
        })
    }

    /// Every device, through a saved token when there is a usable one.
    fn devices(&self, token_file: Option<&Path>) -> Result<Vec<Device>, Failure> {
        let Some(path) = token_file else {
            let token = self.login()?;
            return self.list(&token).map_err(|e| self.fail(e));
        };
        if let Some(saved) = read_token(path)? {
            match self.list(&saved) {
                Ok(devices) => return Ok(devices),
                Err(e) if e.kind() == ErrorKind::Auth => {
                    eprintln!(
                        "hmx: {}: the saved token in {} was refused; logging in again",
                        self.host,
                        path.display()
                    );
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
        let token = self.login()?;
        write_token(path, &token)?;
        self.list(&token).map_err(|e| self.fail(e))
    }
}

/// The token saved in `path`; None when there is no file or nothing usable in it.
fn read_token(path: &Path) -> Result<Option<Token>, Failure> {
    let text = match fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::usage(format!(
                "cannot read the token file {}: {e}",
                path.display()
            )));
        }
    };
    let Ok(text) = std::str::from_utf8(&text) else {
        return Ok(None);
    };
    Ok(Token::new(text.trim()).ok())
}

/// Replaces `path` with the token, readable by this user only (0600), through a
/// file beside it renamed into place, so a reader never sees half a token.
fn write_token(path: &Path, token: &Token) -> Result<(), Failure> {
    let fail = |e: io::Error| {
        Failure::usage(format!(
            "cannot write the token file {}: {e}",
            path.display()
        ))
    };
    let mut name = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(name);
    let _ = fs::remove_file(&temp);
    let mut file = fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(fail)?;
    let written = file
        .write_all(token.as_str().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(fail(e));
    }
    Ok(())
}

pub fn run(args: Args) -> Result<(), Failure> {
    let target = if args.demo {
        demo_target(&args)?
    } else {
        real_target(&args)?
    };
    let devices = target.devices(args.token_file.as_deref())?;
    #[cfg(feature = "test-util")]
    if let Some(cloud) = &target.demo {
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
                return Err(Failure {
                    code: 6,
                    message: Some(format!(
                        "no device with serial {sn:?} among {}",
                        devices.len()
                    )),
                });
            }
        },
        None => devices.iter().collect(),
    };
    let codes = args.codes.then(|| {
        let (device_time, warning) = clock::device_time_now();
        if let Some(warning) = warning {
            eprintln!("hmx: {warning}");
        }
        Codes { device_time }
    });
    let mut out = io::stdout().lock();
    if args.json {
        output::print_json(&mut out, &shown, codes.as_ref())
    } else {
        output::print_table(&mut out, &shown, codes.as_ref())
    }
    .map_err(Failure::output)?;
    if let Some(c) = &codes {
        eprintln!(
            "codes for device time {}: valid for {} more s",
            c.device_time,
            c.valid_for()
        );
    }
    Ok(())
}
