//! Finding the way back: a device that moved is looked up by its announcement, a key that changed is fetched again, and failures in a row are named as a wedged unit.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::sync::readdress;
use super::{Site, unix_now};
use crate::error::{Error, ErrorKind};
use crate::local::{Listener, Thermostat};
use crate::serial::same_serial;

/// Failures in a row after which a device is reported as wedged…
pub const WEDGED_AFTER: u32 = 3;
/// …when they all came within this long of the first (10 minutes).
pub const WEDGED_WITHIN: Duration = Duration::from_secs(600);

/// Whether an error means the request did not get an answer from this
/// device at this address, so that the device may be elsewhere now, and
/// sending the request again is safe.
fn lost(e: &Error) -> bool {
    !e.may_have_applied()
        && (matches!(e.kind(), ErrorKind::Network | ErrorKind::Timeout) || e.is_wrong_device())
}

impl Site {
    /// Calls `f` with a [`Thermostat`] for the device `query` names (see
    /// [`Site::get`]), finding its way back once each:
    ///
    /// - **Moved**: when the device refuses the connection, does not answer,
    ///   or another device answers at its address, hmx listens for its
    ///   announcement (at most the [discovery](Site::discovery) wait), and
    ///   when it is heard at another address calls `f` again there. Not
    ///   after a write that may have reached the device.
    /// - **Key changed**: when the device answers `Blocked` and the site has
    ///   an account, the keys are fetched again (saved token first, a login
    ///   only if the cloud refuses it); when this device's key differs,
    ///   `f` is called again with the new one.
    /// - **Health**: a success resets the device's failure count; a request
    ///   lost as above adds one. At [`WEDGED_AFTER`] failures in a row within
    ///   [`WEDGED_WITHIN`], the error (kind unchanged) says that the unit
    ///   looks wedged and needs a power cycle.
    ///
    /// What changed (address, key, health) is saved before returning.
    pub fn call<T>(
        &mut self,
        query: &str,
        mut f: impl FnMut(&Thermostat) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let i = self.index(query)?;
        let device = self.get(query)?.clone();
        let started = Instant::now();
        let mut result = match device.thermostat(self.timeout, self.min_interval) {
            Ok(t) => f(&t),
            // Never heard on the LAN: look for it as for a device that moved.
            Err(e) if e.kind() == ErrorKind::NotFound => Err(e),
            Err(e) => return Err(e),
        };

        let lost_now = match &result {
            Err(e) => lost(e) || (e.kind() == ErrorKind::NotFound && device.address.is_none()),
            Ok(_) => false,
        };
        let heard = if lost_now {
            self.listen_for(&device.sn)?
        } else {
            None
        };
        if let Some(ip) = heard {
            let address = readdress(device.address.as_deref(), ip);
            if device.address.as_deref() != Some(address.as_str()) {
                self.update(i, |d| {
                    d.address = Some(address);
                    d.on_lan = true;
                    d.last_seen = Some(unix_now());
                });
                let moved = self
                    .get(query)?
                    .thermostat(self.timeout, self.min_interval)?;
                result = f(&moved);
            }
        }

        if matches!(&result, Err(e) if e.kind() == ErrorKind::Blocked) && self.account.is_some() {
            let before = self.devices.get(i).and_then(|d| d.key.clone());
            match self.refresh_keys(None) {
                Ok(_) => {
                    let after = self.devices.get(i).and_then(|d| d.key.clone());
                    if after.is_some() && after != before {
                        let rekeyed = self
                            .get(query)?
                            .thermostat(self.timeout, self.min_interval)?;
                        result = f(&rekeyed);
                    }
                }
                Err(e) => {
                    if let Err(blocked) = result {
                        let message = format!(
                            "{}; fetching the keys again failed: {}",
                            blocked.message(),
                            e.message()
                        );
                        result = Err(blocked.with_message(message));
                    }
                }
            }
        }

        let now = unix_now();
        let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &mut result {
            Ok(_) => self.update(i, |d| {
                d.health.failures = 0;
                d.health.failing_since = None;
                d.health.last_success = Some(now);
                d.health.last_latency_ms = Some(latency);
                d.last_seen = Some(now);
            }),
            Err(e) if lost(e) => {
                let mut wedged = None;
                self.update(i, |d| {
                    let h = &mut d.health;
                    h.failures = h.failures.saturating_add(1);
                    let since = *h.failing_since.get_or_insert(now);
                    if h.failures >= WEDGED_AFTER
                        && now.saturating_sub(since) <= WEDGED_WITHIN.as_secs()
                    {
                        wedged = Some((h.failures, since));
                    }
                });
                if let Some((failures, since)) = wedged {
                    let message = format!(
                        "{} looks wedged: {failures} requests in a row got no answer over {} s; it needs a power cycle (switch it off and on). Last error: {}",
                        device.label(),
                        now.saturating_sub(since),
                        e.message()
                    );
                    *e = e.clone().with_message(message);
                }
            }
            Err(_) => {}
        }
        self.save()?;
        result
    }

    /// Listens for `sn`'s announcement for at most the discovery wait.
    fn listen_for(&self, sn: &str) -> Result<Option<IpAddr>, Error> {
        let listener = Listener::bind(self.discovery_port)?;
        let deadline = Instant::now() + self.discovery_wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match listener.next(left)? {
                Some(found) if same_serial(&found.sn, sn) => return Ok(Some(found.ip)),
                Some(_) => {}
                None => break,
            }
        }
        Ok(None)
    }
}
