//! Sync: the account's keys from the cloud (the saved token first) and the devices heard on the LAN, joined by serial number.

use std::net::IpAddr;

use super::{Account, Site, SiteDevice, unix_now};
use crate::cloud::{Client, Device};
use crate::error::{Error, ErrorKind};
use crate::local::{self, Found, SweepOptions};
use crate::serial::same_serial;

/// What a sync found, by serial number (serde: these members).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// In the cloud and heard on the LAN: ready to use.
    pub joined: Vec<String>,
    /// In the cloud, not heard on the LAN (off, elsewhere, or silent for now).
    pub cloud_only: Vec<String>,
    /// Heard on the LAN, not in this account (no key: reads only, unless unlocked).
    pub lan_only: Vec<String>,
    /// Whether the saved token was refused (or absent) and a login made a new one.
    pub logged_in: bool,
}

/// `ip`, keeping the port of the saved address when it had one (real units
/// answer on 80; a stand-in may not).
pub(super) fn readdress(old: Option<&str>, ip: IpAddr) -> String {
    let port = old.and_then(|a| {
        let (host, port) = a.rsplit_once(':')?;
        // A bare IPv6 address has colons but no port.
        (host.ends_with(']') || !host.contains(':')).then(|| port.to_string())
    });
    match (port, ip) {
        (Some(port), IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
        (Some(port), IpAddr::V4(v4)) => format!("{v4}:{port}"),
        (None, ip) => ip.to_string(),
    }
}

impl Site {
    /// Reads every page of the account's keys and listens for announcements
    /// (the [`discovery`](Site::discovery) wait), joins them by serial
    /// number and saves. `email` may be left out once the site has an
    /// account. The saved token is used first; a login (with
    /// [`password`](Site::password)) only when there is none or the cloud
    /// refuses it. Devices in only one of the two are kept and marked so.
    pub fn sync(&mut self, email: Option<&str>) -> Result<SyncReport, Error> {
        let logged_in = self.refresh_keys(email)?;
        let found = local::discover(self.discovery_port, self.discovery_wait)?;
        self.finish_sync(logged_in, &found)
    }

    /// [`sync`](Site::sync), finding the devices by asking every address of
    /// `targets` (see [`local::sweep`]: `192.168.1.0/24`, addresses, names)
    /// instead of listening; only where the caller points, never beyond.
    pub fn sync_sweep<S: AsRef<str>>(
        &mut self,
        email: Option<&str>,
        targets: &[S],
        options: &SweepOptions,
    ) -> Result<SyncReport, Error> {
        let logged_in = self.refresh_keys(email)?;
        let found = local::sweep(targets, options)?;
        self.finish_sync(logged_in, &found)
    }

    /// The second half of a sync, for callers that fetched the keys
    /// ([`refresh_keys`](Site::refresh_keys), whose answer is `logged_in`)
    /// and found the devices themselves (a listening or sweep of their own,
    /// with their own progress): records `found` as a whole discovery,
    /// saves, and reports.
    pub fn finish_sync(&mut self, logged_in: bool, found: &[Found]) -> Result<SyncReport, Error> {
        self.join_lan(found, true);
        self.save()?;
        Ok(SyncReport {
            logged_in,
            ..self.sync_report()
        })
    }

    /// The devices by where they were found at the last sync (`logged_in`
    /// false): what [`sync`](Site::sync) reports.
    pub fn sync_report(&self) -> SyncReport {
        let mut report = SyncReport::default();
        for d in &self.devices {
            let list = match (d.in_cloud, d.on_lan) {
                (true, true) => &mut report.joined,
                (true, false) => &mut report.cloud_only,
                (false, true) => &mut report.lan_only,
                (false, false) => continue,
            };
            list.push(d.sn.clone());
        }
        report
    }

    /// Reads the account's keys again (saved token first, then a login) and
    /// lays them over the site: names, keys, which devices the cloud lists.
    /// Returns whether a login was needed. Does not save.
    pub fn refresh_keys(&mut self, email: Option<&str>) -> Result<bool, Error> {
        let default_client;
        let client = match self.cloud.as_deref() {
            Some(c) => c,
            None => {
                default_client = Client::new();
                &default_client
            }
        };
        let saved = self.account.as_ref();
        let email = match (email, saved) {
            (Some(e), _) if !e.trim().is_empty() => e.trim().to_string(),
            (_, Some(a)) => a.email.clone(),
            _ => {
                return Err(Error::invalid(
                    "the site has no account yet: give the email to sync from",
                ));
            }
        };
        // A token belongs to one account on one cloud.
        let token = saved
            .filter(|a| a.email.eq_ignore_ascii_case(&email) && a.base_url == client.base_url())
            .and_then(|a| a.token.clone());
        let mut logged_in = false;
        let devices: Vec<Device> = match token.as_ref().map(|t| client.list_devices(t)) {
            Some(Ok(devices)) => devices,
            Some(Err(e)) if e.kind() != ErrorKind::Auth => return Err(e),
            _ => {
                let Some(password) = self.password.as_ref() else {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        if token.is_some() {
                            "the cloud refused the saved token, and no password was given to log in again"
                        } else {
                            "no saved token for this account, and no password was given to log in"
                        },
                    ));
                };
                let fresh = client.login(&email, password)?;
                let devices = client.list_devices(&fresh)?;
                self.account = Some(Account {
                    email: email.clone(),
                    base_url: client.base_url().to_string(),
                    token: Some(fresh),
                });
                self.account_dirty = true;
                logged_in = true;
                devices
            }
        };
        if self.account.is_none() {
            // Reached only with a saved token, so there is an account already.
            return Err(Error::new(ErrorKind::Auth, "no account"));
        }
        self.join_cloud(devices);
        Ok(logged_in)
    }

    fn join_cloud(&mut self, devices: Vec<Device>) {
        for i in 0..self.devices.len() {
            let listed = self
                .devices
                .get(i)
                .is_some_and(|d| devices.iter().any(|c| same_serial(&c.sn, &d.sn)));
            if !listed {
                self.update(i, |d| d.in_cloud = false);
            }
        }
        for device in devices {
            let i = match self
                .devices
                .iter()
                .position(|d| same_serial(&d.sn, &device.sn))
            {
                Some(i) => i,
                None => {
                    self.devices.push(SiteDevice::new(&device.sn));
                    self.devices.len() - 1
                }
            };
            self.update(i, |d| {
                d.in_cloud = true;
                if !device.name.trim().is_empty() {
                    d.name = Some(device.name.clone());
                }
                if let Some(key) = device.totp_key.clone() {
                    d.key = Some(key);
                }
            });
        }
    }

    /// Records devices heard or swept: address, model, when. With
    /// `complete` (a whole discovery wait), devices not heard are marked off
    /// the LAN (their last address is kept). Does not save.
    pub fn join_lan(&mut self, found: &[Found], complete: bool) {
        let now = unix_now();
        if complete {
            for i in 0..self.devices.len() {
                let heard = self
                    .devices
                    .get(i)
                    .is_some_and(|d| found.iter().any(|f| same_serial(&f.sn, &d.sn)));
                if !heard {
                    self.update(i, |d| d.on_lan = false);
                }
            }
        }
        for f in found {
            let i = match self.devices.iter().position(|d| same_serial(&d.sn, &f.sn)) {
                Some(i) => i,
                None => {
                    self.devices.push(SiteDevice::new(&f.sn));
                    self.devices.len() - 1
                }
            };
            self.update(i, |d| {
                d.address = Some(readdress(d.address.as_deref(), f.ip));
                if f.hw.is_some() {
                    d.hw = f.hw.clone();
                }
                d.on_lan = true;
                d.last_seen = Some(now);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_address_keeps_the_saved_port() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "fe80::1".parse().unwrap();
        assert_eq!(readdress(None, v4), "192.0.2.7");
        assert_eq!(readdress(Some("192.0.2.5"), v4), "192.0.2.7");
        assert_eq!(readdress(Some("127.0.0.1:8080"), v4), "192.0.2.7:8080");
        assert_eq!(readdress(Some("[::1]:81"), v6), "[fe80::1]:81");
        assert_eq!(readdress(Some("fe80::2"), v6), "fe80::1");
    }
}
