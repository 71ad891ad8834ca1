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
