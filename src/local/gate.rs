//! Per-address pacing: one request at a time to each device address, held for the life of the process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::sync::lock;

/// A gate nobody holds and whose last request ended this long ago is
/// forgotten: pacing asks for seconds, and a sweep of many addresses must not
/// grow the table for ever.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// The process-wide turn for one device address: the end of its last request.
pub(super) struct Gate {
    pub(super) last_end: Mutex<Option<Instant>>,
}

impl Gate {
    /// The gate for `authority`, shared by every `Thermostat` aimed at it,
    /// now and later: the table keeps it after the last `Thermostat` for the
    /// address is dropped, so calls that each build their own `Thermostat`
    /// (every C `hmx_local_*` call does) are paced like calls on one.
    pub(super) fn for_device(authority: &str) -> Arc<Gate> {
        static GATES: OnceLock<Mutex<BTreeMap<String, Arc<Gate>>>> = OnceLock::new();
        let mut gates = lock(GATES.get_or_init(Default::default));
        let now = Instant::now();
        gates.retain(|a, gate| a == authority || !gate.forgettable(now));
        gates
            .entry(authority.to_string())
            .or_insert_with(|| {
                Arc::new(Gate {
                    last_end: Mutex::new(None),
                })
            })
            .clone()
    }

    /// Whether only the table holds this gate and it has been quiet for long.
    fn forgettable(self: &Arc<Gate>, now: Instant) -> bool {
        if Arc::strong_count(self) > 1 {
            return false;
        }
        // Held by a session in another thread: in use.
        let Ok(last_end) = self.last_end.try_lock() else {
            return false;
        };
        last_end.is_none_or(|end| now.saturating_duration_since(end) > FORGET_AFTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_outlives_its_thermostats() {
        let first = Gate::for_device("127.0.0.9:4321");
        *lock(&first.last_end) = Some(Instant::now());
        let address = Arc::as_ptr(&first);
        drop(first);
        let again = Gate::for_device("127.0.0.9:4321");
        assert_eq!(Arc::as_ptr(&again), address);
        assert!(lock(&again.last_end).is_some());
    }

    #[test]
    fn quiet_unheld_gates_are_forgotten() {
        let end = Instant::now();
        let gate = Arc::new(Gate {
            last_end: Mutex::new(Some(end)),
        });
        let much_later = end + FORGET_AFTER * 2;
        assert!(gate.forgettable(much_later));
        assert!(
            !gate.forgettable(end + FORGET_AFTER / 2),
            "paced not long ago"
        );
        let held = gate.clone();
        assert!(!gate.forgettable(much_later), "held by a Thermostat");
        drop(held);
        let session = lock(&gate.last_end);
        assert!(!gate.forgettable(much_later), "a request in flight");
        drop(session);
    }
}
