//! Finding the way back: a device that moved is looked up by its announcement, a key that changed is fetched again, and failures in a row are named as a wedged unit.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::thread;
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

/// Whether an error means the request got no answer from this device at
/// this address, so that the device may be elsewhere now and sending the
/// request again is safe.
fn lost(e: &Error) -> bool {
    !e.may_have_applied()
        && (matches!(e.kind(), ErrorKind::Network | ErrorKind::Timeout) || e.is_wrong_device())
}

/// One device's result from [`Site::call_many`].
#[derive(Debug)]
pub struct Outcome<T> {
    /// The device's serial number, or the query itself when it named no device.
    pub device: String,
    /// What the call gave for it.
    pub result: Result<T, Error>,
}

/// One device's call: where it is in the site, what it returned, how long it took.
struct Attempt<T> {
    index: usize,
    result: Result<T, Error>,
    millis: u64,
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
    ///   [`WEDGED_WITHIN`], a timeout's error (kind unchanged) says that the
    ///   unit looks wedged and needs a power cycle.
    ///
    /// What changed (address, key, health) is saved before returning.
    pub fn call<T: Send>(
        &mut self,
        query: &str,
        f: impl Fn(&Thermostat) -> Result<T, Error> + Sync,
    ) -> Result<T, Error> {
        let mut results = self.call_many(&[query], f)?;
        match results.pop() {
            Some(outcome) => outcome.result,
            None => Err(Error::new(ErrorKind::NotFound, "no device was called")),
        }
    }

    /// [`call`](Site::call) on several devices at once, each in its own
    /// thread (each device still gets one request at a time, paced): one
    /// result per query, in the queries' order, keyed by serial number (or
    /// the query itself when it names no device). Devices that moved are
    /// looked for in one shared listening; the keys are fetched at most
    /// once. A failure is that device's result and never hides the others'.
    /// The site is saved once, at the end; only that save can fail the whole.
    pub fn call_many<T: Send>(
        &mut self,
        queries: &[&str],
        f: impl Fn(&Thermostat) -> Result<T, Error> + Sync,
    ) -> Result<Vec<Outcome<T>>, Error> {
        let mut out: Vec<(String, Option<Attempt<T>>)> = Vec::with_capacity(queries.len());
        let mut resolved: Vec<Result<usize, Error>> =
            queries.iter().map(|q| self.index(q)).collect();
        let mut indices: Vec<usize> = Vec::new();
        for (query, index) in queries.iter().zip(resolved.iter_mut()) {
            match index {
                Ok(i) if !indices.contains(i) => indices.push(*i),
                _ => {}
            }
            let key = match index {
                Ok(i) => self
                    .devices
                    .get(*i)
                    .map_or_else(|| query.to_string(), |d| d.sn.clone()),
                Err(_) => query.to_string(),
            };
            out.push((key, None));
        }

        let mut attempts = self.run(&indices, &f);

        // Moved: one listening for every device that got no answer.
        let lost_ones: Vec<usize> = attempts
            .iter()
            .filter(|a| match &a.result {
                Err(e) => {
                    lost(e)
                        || (e.kind() == ErrorKind::NotFound && self.address_of(a.index).is_none())
                }
                Ok(_) => false,
            })
            .map(|a| a.index)
            .collect();
        if !lost_ones.is_empty() {
            let sns: Vec<String> = lost_ones
                .iter()
                .filter_map(|&i| self.devices.get(i).map(|d| d.sn.clone()))
                .collect();
            let heard = self.listen_for(&sns)?;
            let mut moved = Vec::new();
            for &i in &lost_ones {
                let Some(d) = self.devices.get(i) else {
                    continue;
                };
                let Some(ip) = heard.get(&d.sn.to_ascii_uppercase()) else {
                    continue;
                };
                let address = readdress(d.address.as_deref(), *ip);
                if d.address.as_deref() != Some(address.as_str()) {
                    let now = unix_now();
                    self.update(i, |d| {
                        d.address = Some(address);
                        d.on_lan = true;
                        d.last_seen = Some(now);
                    });
                    moved.push(i);
                }
            }
            replace(&mut attempts, self.run(&moved, &f));
        }

        // Key changed: the keys fetched once, for every device refused.
        let blocked: Vec<usize> = attempts
            .iter()
            .filter(|a| matches!(&a.result, Err(e) if e.kind() == ErrorKind::Blocked))
            .map(|a| a.index)
            .collect();
        if !blocked.is_empty() && self.account.is_some() {
            let before: Vec<_> = blocked
                .iter()
                .map(|&i| self.devices.get(i).and_then(|d| d.key.clone()))
                .collect();
            match self.refresh_keys(None) {
                Ok(_) => {
                    let rekeyed: Vec<usize> = blocked
                        .iter()
                        .zip(before)
                        .filter(|(i, old)| {
                            let new = self.devices.get(**i).and_then(|d| d.key.clone());
                            new.is_some() && new != *old
                        })
                        .map(|(i, _)| *i)
                        .collect();
                    replace(&mut attempts, self.run(&rekeyed, &f));
                }
                Err(e) => {
                    for a in attempts.iter_mut().filter(|a| blocked.contains(&a.index)) {
                        if let Err(blocked) = &a.result {
                            let message = format!(
                                "{}; fetching the keys again failed: {}",
                                blocked.message(),
                                e.message()
                            );
                            a.result = Err(blocked.clone().with_message(message));
                        }
                    }
                }
            }
        }

        for a in &mut attempts {
            self.record_health(a);
        }
        // A query that named nothing changed nothing: no file is written for it.
        if !self.dirty.is_empty() || self.account_dirty {
            self.save()?;
        }

        let mut by_index: BTreeMap<usize, Attempt<T>> =
            attempts.into_iter().map(|a| (a.index, a)).collect();
        Ok(out
            .into_iter()
            .zip(resolved)
            .map(|((key, _), index)| {
                let result = match index {
                    Ok(i) => by_index.remove(&i).map_or_else(
                        || Err(Error::invalid(format!("{key} is named twice"))),
                        |a| a.result,
                    ),
                    Err(e) => Err(e),
                };
                Outcome {
                    device: key,
                    result,
                }
            })
            .collect())
    }

    fn address_of(&self, i: usize) -> Option<&str> {
        self.devices.get(i).and_then(|d| d.address.as_deref())
    }

    /// Calls `f` for each device, each in its own thread.
    fn run<T: Send>(
        &self,
        indices: &[usize],
        f: &(impl Fn(&Thermostat) -> Result<T, Error> + Sync),
    ) -> Vec<Attempt<T>> {
        let (timeout, min_interval) = (self.timeout, self.min_interval);
        let one = |index: usize| {
            let started = Instant::now();
            let result = match self.devices.get(index) {
                Some(d) => d.thermostat(timeout, min_interval).and_then(|t| f(&t)),
                None => Err(Error::new(ErrorKind::NotFound, "the site changed")),
            };
            let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            Attempt {
                index,
                result,
                millis,
            }
        };
        if let [only] = indices {
            return vec![one(*only)];
        }
        thread::scope(|s| {
            let handles: Vec<_> = indices
                .iter()
                .map(|&i| (i, s.spawn(move || one(i))))
                .collect();
            handles
                .into_iter()
                .map(|(index, h)| {
                    h.join().unwrap_or_else(|_| Attempt {
                        index,
                        result: Err(Error::new(ErrorKind::Protocol, "the call panicked")),
                        millis: 0,
                    })
                })
                .collect()
        })
    }

    fn record_health<T>(&mut self, a: &mut Attempt<T>) {
        let now = unix_now();
        match &mut a.result {
            Ok(_) => {
                let millis = a.millis;
                self.update(a.index, |d| {
                    d.health.failures = 0;
                    d.health.failing_since = None;
                    d.health.last_success = Some(now);
                    d.health.last_latency_ms = Some(millis);
                    d.last_seen = Some(now);
                });
            }
            Err(e) if lost(e) => {
                let mut wedged = None;
                self.update(a.index, |d| {
                    let label = d.label().to_string();
                    let h = &mut d.health;
                    h.failures = h.failures.saturating_add(1);
                    let since = *h.failing_since.get_or_insert(now);
                    if h.failures >= WEDGED_AFTER
                        && now.saturating_sub(since) <= WEDGED_WITHIN.as_secs()
                    {
                        wedged = Some((label, h.failures, since));
                    }
                });
                // A refused connection counts as a failure, but only silence
                // (a timeout) is what a wedged unit does.
                if let Some((label, failures, since)) =
                    wedged.filter(|_| e.kind() == ErrorKind::Timeout)
                {
                    let message = format!(
                        "{label} looks wedged: {failures} requests in a row got no answer over {} s; it needs a power cycle (switch it off and on). Last error: {}",
                        now.saturating_sub(since),
                        e.message()
                    );
                    *e = e.clone().with_message(message);
                }
            }
            Err(_) => {}
        }
    }

    /// Listens for the announcements of `sns` for at most the discovery
    /// wait, or until each was heard; their addresses by upper-case serial.
    fn listen_for(&self, sns: &[String]) -> Result<BTreeMap<String, IpAddr>, Error> {
        let mut heard = BTreeMap::new();
        let listener = Listener::bind(self.discovery_port)?;
        let deadline = Instant::now() + self.discovery_wait;
        let report = |heard: usize| {
            if let Some(f) = &self.on_listen {
                f(sns, heard);
            }
        };
        report(0);
        while heard.len() < sns.len() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            match listener.next(left)? {
                Some(found) if sns.iter().any(|sn| same_serial(sn, &found.sn)) => {
                    let new = heard
                        .insert(found.sn.to_ascii_uppercase(), found.ip)
                        .is_none();
                    if new {
                        report(heard.len());
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
        Ok(heard)
    }
}

/// Puts the second round's attempts in place of the first's.
fn replace<T>(attempts: &mut [Attempt<T>], again: Vec<Attempt<T>>) {
    for a in again {
        if let Some(slot) = attempts.iter_mut().find(|x| x.index == a.index) {
            *slot = a;
        }
    }
}
