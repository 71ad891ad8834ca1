//! `hmx watch`: a JSON line whenever a device's state changes, each device polled gently through the site in its own thread, until Ctrl-C.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmx::site::{WEDGED_AFTER, WEDGED_WITHIN};
use serde_json::{Map, Value, json};

use crate::Failure;
use crate::devices::Devices;
use crate::local::{ReachArgs, parse_seconds, write_out};

/// The least time between two readings of one device: a state is two
/// requests (telemetry and the parameter list), and a unit is asked at
/// most 2 requests per 30 s.
const FLOOR: Duration = Duration::from_secs(30);

/// How often the main thread looks at the Ctrl-C flag, and the workers at the stop flag.
const TICK: Duration = Duration::from_millis(100);

/// How long the command waits, once stopped, for a reading under way to end.
const GRACE: Duration = Duration::from_secs(1);

/// `hmx watch --help`, after the options.
pub const WATCH_HELP: &str = "\
Prints one JSON line on stdout per event, as it happens:
  {\"device\": SERIAL, \"name\": NAME, \"time\": UNIX_SECONDS, \"event\": \"initial\", \"state\": {...}}
event is \"initial\" (a device's first reading), \"changed\" (any field of the state differs from
the last reading: temperatures, setpoint, relay, Wi-Fi signal, ...), \"lost\" (it stopped
answering; with \"error\": {\"kind\", \"message\"} instead of \"state\"; also a device's first line
when it does not answer at the start), \"wedged\" (it kept failing: it needs a power cycle) or
\"back\" (it answers again, with its state). The state is what `hmx get NAME state --json` prints.

Each device is read through the site, in its own thread: one state (2 requests) every
--every seconds, 30 s at the least, so a unit gets at most 2 requests per 30 s. A device that
stops answering is listened for (--discovery-seconds) and read at its new address when it
moved; its key is fetched again when it changed. Ctrl-C (SIGINT) or SIGTERM ends the command
with exit 0 after the last whole line.";

#[derive(clap::Args)]
pub struct WatchArgs {
    /// Devices to watch: names (any case, or a prefix only one name starts with) or serials
    /// from the site (default: every device of the site)
    #[arg(value_name = "NAME")]
    names: Vec<String>,
    /// Seconds between two readings of one device (each is 2 requests); 30 at the least
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    every: Duration,
    /// A lower floor for --every, only for tests against stand-in thermostats
    #[cfg(feature = "test-util")]
    #[arg(long, value_name = "SECONDS", hide = true, value_parser = parse_seconds)]
    every_floor: Option<Duration>,
    #[command(flatten)]
    reach: ReachArgs,
}

impl WatchArgs {
    fn floor(&self) -> Duration {
        #[cfg(feature = "test-util")]
        if let Some(floor) = self.every_floor {
            return floor;
        }
        FLOOR
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One event as a JSON line: device, name, time, event, then `member`.
fn line(sn: &str, name: Option<&str>, event: &str, member: &str, value: Value) -> String {
    let mut line = Map::new();
    line.insert("device".into(), json!(sn));
    line.insert("name".into(), json!(name));
    line.insert("time".into(), json!(unix_now()));
    line.insert("event".into(), json!(event));
    line.insert(member.into(), value);
    let mut text = Value::Object(line).to_string();
    text.push('\n');
    text
}

/// Sleeps until `until`, or until `stop` is set (then false).
fn wait_until(until: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            return true;
        };
        thread::sleep(left.min(TICK));
    }
}

/// What a device's thread sends: a line to print, or why it cannot go on.
type Message = Result<String, Failure>;

/// One device's thread: reads its state every `every` through its own
/// `Site` (so one device listening for its announcement holds up no other)
/// and sends a line for each event.
fn follow(reach: &ReachArgs, sn: &str, every: Duration, stop: &AtomicBool, tx: &Sender<Message>) {
    let mut devices = match Devices::open(reach) {
        Ok(devices) => devices,
        Err(failure) => {
            let _ = tx.send(Err(failure));
            return;
        }
    };
    let name = devices.site.get(sn).ok().and_then(|d| d.name.clone());
    let name = name.as_deref();
    let mut last: Option<Value> = None;
    let mut lost = false;
    let mut wedged = false;
    let mut next = Instant::now();
    while wait_until(next, stop) {
        let started = Instant::now();
        let result = devices.site.call(sn, |t| t.state());
        let event = match result {
            Ok(state) => {
                let state = serde_json::to_value(&state).unwrap_or(Value::Null);
                let event = if lost {
                    Some("back")
                } else if last.is_none() {
                    Some("initial")
                } else if last.as_ref() != Some(&state) {
                    Some("changed")
                } else {
                    None
                };
                (lost, wedged) = (false, false);
                let text = event.map(|e| line(sn, name, e, "state", state.clone()));
                last = Some(state);
                text
            }
            Err(e) => {
                let error = json!({"kind": e.kind().as_str(), "message": e.message()});
                let now = unix_now();
                let wedged_now = devices.site.get(sn).is_ok_and(|d| {
                    d.health.failures >= WEDGED_AFTER
                        && d.health.failing_since.is_some_and(|since| {
                            now.saturating_sub(since) <= WEDGED_WITHIN.as_secs()
                        })
                });
                if !lost {
                    lost = true;
                    Some(line(sn, name, "lost", "error", error))
                } else if wedged_now && !wedged {
                    wedged = true;
                    Some(line(sn, name, "wedged", "error", error))
                } else {
                    None
                }
            }
        };
        if let Some(text) = event
            && tx.send(Ok(text)).is_err()
        {
            return;
        }
        next = (started + every).max(Instant::now());
    }
}

pub fn run(args: WatchArgs) -> Result<(), Failure> {
    let floor = args.floor();
    if args.every < floor {
        return Err(Failure::usage(format!(
            "--every {} is too often: a state is 2 requests, and a unit is asked at most 2 \
             requests per 30 s; give {} or more",
            args.every.as_secs_f64(),
            floor.as_secs_f64()
        )));
    }
    let site = args.reach.site.open()?;
    let mut sns: Vec<String> = Vec::new();
    let queries: Vec<String> = if args.names.is_empty() {
        site.devices().iter().map(|d| d.sn.clone()).collect()
    } else {
        args.names.clone()
    };
    for query in &queries {
        let parts: Vec<&str> = if site.get(query).is_err() && query.contains(',') {
            query.split(',').map(str::trim).collect()
        } else {
            vec![query.as_str()]
        };
        for part in parts {
            let sn = site
                .get(part)
                .map_err(|e| Failure::hmx(&e, None))?
                .sn
                .clone();
            if !sns.iter().any(|known| hmx::same_serial(known, &sn)) {
                sns.push(sn);
            }
        }
    }
    if sns.is_empty() {
        return Err(Failure {
            code: 6,
            message: Some(format!(
                "the site {} has no devices: run `hmx sync` first",
                site.path().display()
            )),
        });
    }
    drop(site);

    // Ctrl-C or SIGTERM sets the flag; a second one while stopping ends the process at once.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let registered = signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()));
        if let Err(e) = registered {
            return Err(Failure {
                code: 1,
                message: Some(format!("cannot catch signal {signal}: {e}")),
            });
        }
    }

    let (tx, rx) = mpsc::channel::<Message>();
    let mut workers = Vec::with_capacity(sns.len());
    for sn in sns {
        let (reach, stop, tx) = (args.reach.clone(), stop.clone(), tx.clone());
        let every = args.every;
        workers.push(thread::spawn(move || {
            follow(&reach, &sn, every, &stop, &tx);
        }));
    }
    drop(tx);

    let print = |message: Message| -> Result<(), Failure> { write_out(&message?) };
    let mut result = Ok(());
    while !stop.load(Ordering::SeqCst) {
        match rx.recv_timeout(TICK) {
            Ok(message) => {
                if let Err(failure) = print(message) {
                    result = Err(failure);
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    stop.store(true, Ordering::SeqCst);
    // Lines already sent are printed; a reading under way gets a moment to end.
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && workers.iter().any(|w| !w.is_finished()) {
        thread::sleep(TICK / 2);
    }
    while let Ok(message) = rx.try_recv() {
        if result.is_ok() {
            result = print(message);
        }
    }
    result
}
