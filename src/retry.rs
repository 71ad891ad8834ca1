//! One retry policy for both sides: how often a request goes out again, how long to wait first, and what counts as worth it.

use std::thread;
use std::time::Duration;

use crate::error::Error;
use crate::http::Reply;

/// How many times a request is sent again, and the wait before each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retry {
    /// Sends after the first.
    pub(crate) retries: u32,
    /// Wait before retry n is n times this.
    pub(crate) backoff: Duration,
}

impl Retry {
    /// A device page from the cloud: a reset connection or a 502/503/504
    /// from a proxy in front of it is worth two more tries, soon.
    pub(crate) const CLOUD: Retry = Retry {
        retries: 2,
        backoff: Duration::from_millis(100),
    };

    /// A thermostat: it serves one request at a time and says so; wait a
    /// little longer between tries (on top of its pacing).
    pub(crate) const DEVICE: Retry = Retry {
        retries: crate::local::RETRIES,
        backoff: crate::local::RETRY_BACKOFF,
    };

    /// Sleeps before try `attempt` (0 is the first send: no wait).
    pub(crate) fn wait_before(self, attempt: u32) {
        if attempt > 0 {
            thread::sleep(self.backoff * attempt);
        }
    }

    /// Every try, the first one included.
    pub(crate) fn tries(self) -> u32 {
        self.retries + 1
    }
}

/// Whether an exchange that may be repeated should be: the connection was
/// lost before a whole answer came, or a gateway in front of the server said
/// it could not reach it (502, 503, 504). Either way the server said nothing
/// of its own.
pub(crate) fn transient(result: &Result<Reply, Error>) -> bool {
    match result {
        Ok(reply) => matches!(reply.status, 502..=504),
        Err(e) => e.is_transient(),
    }
}
