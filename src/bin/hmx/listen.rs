//! Listening for announcements with progress on a terminal: `hmx discover`, `hmx sync` and finding a serial on the LAN.

use std::time::{Duration, Instant};

use hmx::local::{Found, Listener};

use crate::progress;

/// Listens on `port` for up to `wait` and returns one entry per serial, in
/// the order first heard, each with its newest announcement (as
/// `hmx::local::discover` does), or fewer once `enough` is satisfied. On a
/// terminal, `what` shows with how many devices were heard so far.
pub fn listen(
    port: u16,
    wait: Duration,
    what: &str,
    enough: impl Fn(&[Found]) -> bool,
) -> Result<Vec<Found>, hmx::Error> {
    let listener = Listener::bind(port)?;
    progress::show(what, |note| {
        note.set(format!("{} heard", progress::count(0, "device")));
        let deadline = Instant::now() + wait;
        let mut found: Vec<Found> = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(heard) = listener.next(left)? else {
                break;
            };
            match found
                .iter_mut()
                .find(|f| hmx::same_serial(&f.sn, &heard.sn))
            {
                Some(known) => {
                    let seen = known.seen + 1;
                    *known = heard;
                    known.seen = seen;
                }
                None => found.push(heard),
            }
            note.set(format!("{} heard", progress::count(found.len(), "device")));
            if enough(&found) {
                break;
            }
        }
        if found.is_empty() {
            // Nothing readable: the library's own check says whether something
            // else was heard (a Protocol error quoting it) or nothing at all.
            listener.collect(Duration::ZERO)
        } else {
            Ok(found)
        }
    })
}

/// Where to ask instead of listening: `--sweep RANGES` and `--hosts LIST`.
#[derive(Clone, clap::Args)]
pub struct SweepArgs {
    /// Find devices by asking every address of these ranges instead of listening
    /// (e.g. 192.168.1.0/24; commas or repeats for more; at most a /16): one unsigned
    /// {"cmd":4} to port 80 of each address, 32 at a time, 1.5 s each; nothing beyond them
    #[arg(long, value_name = "RANGES")]
    pub sweep: Vec<String>,
    /// Find devices by asking these addresses or host names (commas or repeats) instead of
    /// listening, as --sweep does
    #[arg(long, value_name = "LIST")]
    pub hosts: Vec<String>,
}

impl SweepArgs {
    /// The targets given, if any: then the command asks instead of listening.
    pub fn targets(&self) -> Option<Vec<String>> {
        let all: Vec<String> = self.sweep.iter().chain(&self.hosts).cloned().collect();
        (!all.is_empty()).then_some(all)
    }
}

/// Asks every address of `targets` (`hmx::local::sweep`), showing on a
/// terminal how many were asked and how many answered.
pub fn sweep(targets: &[String]) -> Result<Vec<Found>, hmx::Error> {
    let what = format!("asking every address of {}", targets.join(", "));
    progress::show(&what, |note| {
        let report = hmx::local::sweep_report_with_progress(
            targets,
            &hmx::local::SweepOptions::default(),
            |asked, total, found| {
                note.set(format!(
                    "{asked} of {total} asked, {}",
                    progress::count(found, "device")
                ))
            },
        )?;
        for (ip, _) in &report.without_sn {
            eprintln!(
                "hmx: {ip} answered without a serial number (a D2W unit, or busy); not listed"
            );
        }
        Ok(report.found)
    })
}
