//! Runs the stand-in cloud as a process, for C, Python and shell users.
//!
//!     mock_cloud [--devices N] [--page-size N] [--token T] [--tls valid|wrong-host|plain]
//!                [--next absolute|relative|plain-http|no-port] [--change PAGE=remove:N|add[:TIMES]]...
//!                [--fault ROUTE=WHAT]... [--proxy] [--until-signal] [--run CMD ARGS...]
//!
//! Prints `HMX_BASE_URL=<url>` and `HMX_CA_FILE=<path>` on stdout, then serves
//! until stdin closes, or with `--until-signal` until SIGINT or SIGTERM (for
//! a stand-in started with stdin closed, e.g. in the background of a shell).
//! With `--run`, instead runs CMD with those variables, `HMX_EMAIL` and
//! `HMX_PASSWORD` (the demo account's) set, and exits with its status.
//! SIGINT or SIGTERM always stop it cleanly: the CA file and its folder are
//! removed (and a `--run` command is sent the same signal first).
//! ROUTE is `login`, `devices` (every page) or `pageN`; WHAT is an HTTP status
//! (`500`), `retry-after:N` (429 with `Retry-After: N`), `drop`, `hang`,
//! `garbage`, `huge`, `redirect`, or `echo` (a refusal whose 272 characters
//! of text end with the password or token sent).
//! `--proxy` also starts a stand-in CONNECT proxy that routes `cloud.hmx.test`
//! (a name that resolves nowhere) to the stand-in, and prints
//! `HMX_PROXY=<url>` and `HMX_PROXY_BASE_URL=https://cloud.hmx.test:<port>`.
//! `--change 1=remove:3` deletes the first 3 devices after page 1 is served
//! (once, or TIMES times); `--change 1=add` adds one at the front.
//! The demo account is `demo@hmx.invalid` / `demo-password`.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::process::{Command, ExitCode};
use std::sync::mpsc;
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use hmx::testing::{
    CLOUD_HOST, DEMO_EMAIL, DEMO_PASSWORD, Fault, ListChange, MockCloud, MockCloudBuilder,
    MockProxy, NextLink, Route, TlsMode, demo_devices,
};

fn route(name: &str) -> Result<Route, String> {
    match name {
        "login" => Ok(Route::Login),
        "devices" => Ok(Route::AnyDevicePage),
        _ => name
            .strip_prefix("page")
            .and_then(|n| n.parse().ok())
            .map(Route::DevicePage)
            .ok_or(format!("unknown route {name}")),
    }
}

fn fault(route: Route, what: &str) -> Result<Fault, String> {
    Ok(match what {
        w if w.starts_with("retry-after:") => Fault::Respond {
            status: 429,
            headers: vec![("Retry-After".into(), w["retry-after:".len()..].into())],
            body: br#"{"detail":"Request was throttled."}"#.to_vec(),
        },
        "echo" => Fault::EchoSecret {
            status: if route == Route::Login { 400 } else { 401 },
            padding: 272,
        },
        "drop" => Fault::Drop,
        "hang" => Fault::Hang,
        "garbage" => Fault::Body(b"<html>not json</html>".to_vec()),
        "huge" => Fault::Body(vec![b' '; hmx::MAX_BODY_BYTES + 1]),
        "redirect" => Fault::Redirect("https://elsewhere.invalid/".into()),
        status => {
            let status: u16 = status
                .parse()
                .map_err(|_| format!("unknown fault {status}"))?;
            let body = match status {
                400 => r#"{"non_field_errors":["Unable to log in with provided credentials."]}"#,
                401 | 403 => r#"{"detail":"Invalid token."}"#,
                429 => r#"{"detail":"Request was throttled."}"#,
                _ => "<html><body>Server Error</body></html>",
            };
            Fault::status(status, body)
        }
    })
}

/// What the command line asks for besides the stand-in's settings.
#[derive(Default)]
struct Mode {
    until_signal: bool,
    proxy: bool,
    run: Vec<String>,
}

fn parse_args() -> Result<(MockCloudBuilder, Mode), String> {
    let mut builder = MockCloud::builder();
    let mut mode = Mode::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        builder = match arg.as_str() {
            "--devices" => {
                builder.devices(demo_devices(value()?.parse().map_err(|_| "bad --devices")?))
            }
            "--token" => builder.fixed_token(value()?),
            "--page-size" => builder.page_size(value()?.parse().map_err(|_| "bad --page-size")?),
            "--tls" => builder.tls(match value()?.as_str() {
                "valid" => TlsMode::Valid,
                "wrong-host" => TlsMode::WrongHost,
                "plain" => TlsMode::Plain,
                other => return Err(format!("unknown --tls {other}")),
            }),
            "--fault" => {
                let spec = value()?;
                let (r, w) = spec.split_once('=').ok_or("--fault takes ROUTE=WHAT")?;
                let route = route(r)?;
                builder.fault(route, fault(route, w)?)
            }
            "--next" => builder.next_link(match value()?.as_str() {
                "absolute" => NextLink::Absolute,
                "relative" => NextLink::Relative,
                "plain-http" => NextLink::PlainHttp,
                "no-port" => NextLink::NoPort,
                other => return Err(format!("unknown --next {other}")),
            }),
            "--change" => {
                let spec = value()?;
                let bad = || {
                    format!("--change takes PAGE=remove:N[:TIMES] or PAGE=add[:TIMES], not {spec}")
                };
                let (page, what) = spec.split_once('=').ok_or_else(bad)?;
                let page = page.parse().map_err(|_| bad())?;
                let parts: Vec<&str> = what.split(':').collect();
                let (change, times) = match parts[..] {
                    ["remove", n] => (ListChange::RemoveFirst(n.parse().map_err(|_| bad())?), "1"),
                    ["remove", n, t] => (ListChange::RemoveFirst(n.parse().map_err(|_| bad())?), t),
                    ["add"] => (ListChange::AddFirst, "1"),
                    ["add", t] => (ListChange::AddFirst, t),
                    _ => return Err(bad()),
                };
                builder.change_after_page(page, change, times.parse().map_err(|_| bad())?)
            }
            "--proxy" => {
                mode.proxy = true;
                builder
            }
            "--until-signal" => {
                mode.until_signal = true;
                builder
            }
            "--run" => {
                mode.run = args.collect();
                if mode.run.is_empty() {
                    return Err("--run needs a command".into());
                }
                return Ok((builder, mode));
            }
            other => return Err(format!("unknown argument {other}")),
        };
    }
    Ok((builder, mode))
}

/// Why the stand-in stops serving.
enum Stop {
    StdinClosed,
    Signal(i32),
    Exited(std::process::ExitStatus),
    RunFailed(std::io::Error),
}

/// The exit code for a death by `signal`, as shells report it.
fn signal_exit(signal: i32) -> ExitCode {
    ExitCode::from((128 + signal).clamp(0, 255) as u8)
}

fn main() -> ExitCode {
    let (builder, mode) = match parse_args() {
        Ok(parsed) => parsed,
        Err(why) => {
            eprintln!("mock_cloud: {why}");
            return ExitCode::from(2);
        }
    };
    // Before the CA file exists, so that no signal can leave it behind.
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mock_cloud: cannot handle signals: {e}");
            return ExitCode::from(1);
        }
    };
    // Stops with the stand-in, at the end of main.
    let mut proxy: Option<MockProxy> = None;
    let cloud = match builder.start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock_cloud: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let (stop_tx, stop) = mpsc::channel();
    {
        let stop_tx = stop_tx.clone();
        thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let _ = stop_tx.send(Stop::Signal(signal));
            }
        });
    }
    let mut child = None;
    if let Some((program, rest)) = mode.run.split_first() {
        match Command::new(program)
            .args(rest)
            .env("HMX_BASE_URL", cloud.base_url())
            .env("HMX_CA_FILE", cloud.ca_file())
            .env("HMX_EMAIL", DEMO_EMAIL)
            .env("HMX_PASSWORD", DEMO_PASSWORD)
            .spawn()
        {
            Ok(c) => {
                let shared = std::sync::Arc::new(std::sync::Mutex::new(c));
                child = Some(shared.clone());
                thread::spawn(move || {
                    loop {
                        // Poll, so that the signal path can still reach the child.
                        let status = shared.lock().map(|mut c| c.try_wait());
                        match status {
                            Ok(Ok(Some(status))) => break stop_tx.send(Stop::Exited(status)),
                            Ok(Ok(None)) => thread::sleep(std::time::Duration::from_millis(20)),
                            Ok(Err(e)) => break stop_tx.send(Stop::RunFailed(e)),
                            Err(_) => break Ok(()),
                        }
                    }
                });
            }
            Err(e) => {
                eprintln!("mock_cloud: cannot run {program}: {e}");
                return ExitCode::from(127);
            }
        }
    } else {
        println!("HMX_BASE_URL={}", cloud.base_url());
        println!("HMX_CA_FILE={}", cloud.ca_file().display());
        if mode.proxy {
            match MockProxy::builder()
                .route(CLOUD_HOST, Ipv4Addr::LOCALHOST.into())
                .start()
            {
                Ok(p) => {
                    let port = cloud.base_url().rsplit(':').next().unwrap_or_default();
                    println!("HMX_PROXY={}", p.url());
                    println!("HMX_PROXY_BASE_URL=https://{CLOUD_HOST}:{port}");
                    proxy = Some(p);
                }
                Err(e) => {
                    eprintln!("mock_cloud: cannot start the proxy: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        let _ = std::io::stdout().flush();
        if !mode.until_signal {
            // Serve until whoever started us closes our stdin.
            thread::spawn(move || {
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                let _ = stop_tx.send(Stop::StdinClosed);
            });
        }
    }
    let why = stop.recv().unwrap_or(Stop::StdinClosed);
    let code = match why {
        Stop::StdinClosed => ExitCode::SUCCESS,
        Stop::Exited(status) => {
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (Some(code), _) => ExitCode::from(code.clamp(0, 255) as u8),
                (None, Some(signal)) => signal_exit(signal),
                (None, None) => ExitCode::from(1),
            }
        }
        Stop::RunFailed(e) => {
            eprintln!("mock_cloud: lost the command: {e}");
            ExitCode::from(1)
        }
        Stop::Signal(signal) => {
            if let Some(c) = &child {
                // Pass the signal on, and wait for the command before cleaning up.
                // Under the lock, the command cannot have been reaped (its pid reused).
                if let Ok(mut c) = c.lock()
                    && let Ok(None) = c.try_wait()
                {
                    // SAFETY: kill(2) on our own child, not yet waited for.
                    unsafe { libc::kill(c.id() as libc::pid_t, signal) };
                    let _ = c.wait();
                }
            }
            signal_exit(signal)
        }
    };
    drop(proxy);
    drop(cloud); // stops serving and removes the CA file's folder
    code
}
