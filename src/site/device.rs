//! [`SiteDevice`]: one thermostat of a site, with its key, last address and health.

use std::path::Path;
use std::time::Duration;

use super::file::StoredDevice;
use crate::error::{Error, ErrorKind};
use crate::local::Thermostat;
use crate::secret::TotpKey;
use crate::totp::Scheme;

/// How a device has been answering, kept so that a unit that keeps failing
/// is named as wedged (see [`WEDGED_AFTER`](super::WEDGED_AFTER)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Requests that failed to reach it or went unanswered, in a row; one success resets it.
    pub failures: u32,
    /// When the first of those failed (seconds since 1970).
    pub failing_since: Option<u64>,
    /// The last time it answered (seconds since 1970).
    pub last_success: Option<u64>,
    /// How long that call took, in milliseconds.
    pub last_latency_ms: Option<u64>,
}

/// One thermostat of the account, or one heard on the LAN.
#[derive(Clone)]
pub struct SiteDevice {
    /// Serial number.
    pub sn: String,
    /// The name given in the vendor's app, when the cloud lists the device.
    pub name: Option<String>,
    pub(super) key: Option<TotpKey>,
    /// The token scheme for signed writes: the default until a probe or the user says otherwise.
    pub scheme: Scheme,
    /// Where it answered last (`ip` or `ip:port`).
    pub address: Option<String>,
    /// Hardware family from its announcement (`sx`, `oz`, …).
    pub hw: Option<String>,
    /// When it was last heard or answered (seconds since 1970).
    pub last_seen: Option<u64>,
    /// Listed by the cloud at the last sync.
    pub in_cloud: bool,
    /// Heard on the LAN at the last sync.
    pub on_lan: bool,
    /// How it has been answering.
    pub health: Health,
}

impl std::fmt::Debug for SiteDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteDevice")
            .field("sn", &self.sn)
            .field("name", &self.name)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("scheme", &self.scheme)
            .field("address", &self.address)
            .field("hw", &self.hw)
            .field("in_cloud", &self.in_cloud)
            .field("on_lan", &self.on_lan)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl SiteDevice {
    pub(super) fn new(sn: &str) -> SiteDevice {
        SiteDevice {
            sn: sn.trim().to_string(),
            name: None,
            key: None,
            scheme: Scheme::default(),
            address: None,
            hw: None,
            last_seen: None,
            in_cloud: false,
            on_lan: false,
            health: Health::default(),
        }
    }

    /// Its TOTP key, when the cloud gave one.
    pub fn key(&self) -> Option<&TotpKey> {
        self.key.as_ref()
    }

    /// What to call it in messages: its name, else its serial.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sn)
    }

    /// A [`Thermostat`] at its saved address with its key and scheme;
    /// `NotFound` when it has never been heard on the LAN.
    pub fn thermostat(
        &self,
        timeout: Duration,
        min_interval: Duration,
    ) -> Result<Thermostat, Error> {
        let Some(address) = &self.address else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "{} ({}) has no known address: it was not heard on the LAN; run `hmx sync` where it is",
                    self.label(),
                    self.sn
                ),
            ));
        };
        let mut t = Thermostat::new(address, &self.sn)?
            .scheme(self.scheme)
            .timeout(timeout)
            .min_interval(min_interval);
        if let Some(key) = &self.key {
            t = t.key(key.clone());
        }
        Ok(t)
    }

    pub(super) fn from_stored(d: StoredDevice, path: &Path) -> Result<SiteDevice, Error> {
        let bad = |what: String| {
            Error::new(
                ErrorKind::Storage,
                format!("site {}: device {}: {what}", path.display(), d.sn),
            )
        };
        let scheme = match &d.scheme {
            Some(name) => name
                .parse()
                .map_err(|e: Error| bad(e.message().to_string()))?,
            None => Scheme::default(),
        };
        if d.sn.trim().is_empty() {
            return Err(bad("no serial number".into()));
        }
        Ok(SiteDevice {
            sn: d.sn,
            name: d.name,
            key: d.key.map(TotpKey::new),
            scheme,
            address: d.address,
            hw: d.hw,
            last_seen: d.last_seen,
            in_cloud: d.in_cloud,
            on_lan: d.on_lan,
            health: Health {
                failures: d.failures,
                failing_since: d.failing_since,
                last_success: d.last_success,
                last_latency_ms: d.last_latency_ms,
            },
        })
    }

    pub(super) fn to_stored(&self) -> StoredDevice {
        StoredDevice {
            sn: self.sn.clone(),
            name: self.name.clone(),
            key: self.key.as_ref().map(|k| k.as_str().to_string()),
            scheme: Some(self.scheme.name().to_string()),
            address: self.address.clone(),
            hw: self.hw.clone(),
            last_seen: self.last_seen,
            in_cloud: self.in_cloud,
            on_lan: self.on_lan,
            failures: self.health.failures,
            failing_since: self.health.failing_since,
            last_success: self.health.last_success,
            last_latency_ms: self.health.last_latency_ms,
        }
    }
}
