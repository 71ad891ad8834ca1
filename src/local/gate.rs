//! Per-address pacing: one request at a time to each device address, across the whole process.

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use crate::sync::lock;

/// The process-wide turn for one device address: the end of its last request.
pub(super) struct Gate {
    pub(super) last_end: Mutex<Option<Instant>>,
}

impl Gate {
    /// The gate for `authority`, shared by every `Thermostat` aimed at it.
    pub(super) fn for_device(authority: &str) -> Arc<Gate> {
        type Registry = Mutex<Vec<(String, Weak<Gate>)>>;
        static GATES: OnceLock<Registry> = OnceLock::new();
        let mut gates = lock(GATES.get_or_init(Default::default));
        gates.retain(|(_, gate)| gate.strong_count() > 0);
        if let Some(gate) = gates
            .iter()
            .find(|(a, _)| a == authority)
            .and_then(|(_, g)| g.upgrade())
        {
            return gate;
        }
        let gate = Arc::new(Gate {
            last_end: Mutex::new(None),
        });
        gates.push((authority.to_string(), Arc::downgrade(&gate)));
        gate
    }
}
