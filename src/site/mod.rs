//! A site: the thermostats of one account by name, with their keys and last addresses, kept in one file between runs.
//!
//! [`Site::sync`] builds it: the account's keys from the cloud (the saved
//! token first), the devices heard on the LAN, joined by serial number.
//! [`Site::call`] then talks to a device by name, serial or address and
//! finds its way back: to a new address when the device moved (its
//! announcement), to a new key when it was bound again (the cloud), and
//! it keeps each device's health, so that a unit that stopped answering
//! is named as wedged instead of a bare timeout.

mod device;
mod file;
mod heal;
mod sync;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

pub use device::{Health, SiteDevice};
pub use file::{FORMAT, default_path};
pub use heal::{Outcome, WEDGED_AFTER, WEDGED_WITHIN};
pub use sync::SyncReport;

use crate::cloud::Client;
use crate::error::{Error, ErrorKind};
use crate::local::{self, Control, State, Thermostat, Written};
use crate::secret::Token;
use crate::serial::same_serial;

/// The cloud account a site was synced from. The password is never kept.
#[derive(Clone)]
pub struct Account {
    /// The login email.
    pub email: String,
    /// The cloud's base URL the keys came from.
    pub base_url: String,
    token: Option<Token>,
}

impl Account {
    /// The saved session token, reused until the cloud refuses it.
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("email", &self.email)
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The thermostats of one account, kept in a file.
///
/// `open` reads the file (a missing one is an empty site; a corrupt,
/// foreign, newer or world-readable one is `Storage`, naming the file);
/// the settings (`cloud`, `password`, `discovery`, `timeout`) are for this
/// run only and never saved. Every change is saved at once, under a lock
/// and by renaming a complete file into place, so two processes sharing a
/// site never see half a file and do not undo each other's changes to
/// different devices.
///
/// ```no_run
/// let mut site = hmx::Site::open_default()?.password("secret".into());
/// site.sync(Some("me@example.com"))?;                   // cloud keys + discovery
/// let state = site.state("kitchen")?;                   // by name, serial or address
/// site.control("kitchen", &[hmx::local::Control::Setpoint(21.0)])?;
/// # let _ = state;
/// # Ok::<(), hmx::Error>(())
/// ```
pub struct Site {
    path: PathBuf,
    account: Option<Account>,
    devices: Vec<SiteDevice>,
    // What this process changed, merged into the file on save.
    dirty: BTreeSet<String>,
    account_dirty: bool,
    cloud: Option<std::sync::Arc<Client>>,
    password: Option<Zeroizing<String>>,
    discovery_port: u16,
    discovery_wait: Duration,
    timeout: Duration,
    min_interval: Duration,
    on_listen: Option<ListenHook>,
}

/// What [`Site::on_listen`] is called with: the serials listened for, how many of them were heard.
type ListenHook = std::sync::Arc<dyn Fn(&[String], usize) + Send + Sync>;

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("path", &self.path)
            .field("account", &self.account)
            .field("devices", &self.devices)
            .finish_non_exhaustive()
    }
}

/// Now, in seconds since 1970.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Site {
    /// The site in `path`; an empty one when there is no file yet.
    pub fn open(path: impl Into<PathBuf>) -> Result<Site, Error> {
        let path = path.into();
        let stored = file::load(&path)?;
        let mut site = Site {
            path,
            account: None,
            devices: Vec::new(),
            dirty: BTreeSet::new(),
            account_dirty: false,
            cloud: None,
            password: None,
            discovery_port: local::DISCOVERY_PORT,
            discovery_wait: local::DISCOVERY_WAIT,
            timeout: local::DEFAULT_TIMEOUT,
            min_interval: local::DEFAULT_MIN_INTERVAL,
            on_listen: None,
        };
        if let Some(stored) = stored {
            site.take(stored)?;
        }
        Ok(site)
    }

    /// The site at [`default_path`]: `$HMX_SITE`, else the XDG config folder.
    pub fn open_default() -> Result<Site, Error> {
        Site::open(default_path()?)
    }

    fn take(&mut self, stored: file::Stored) -> Result<(), Error> {
        self.account = match stored.account {
            Some(a) => Some(Account {
                email: a.email,
                base_url: a.base_url,
                token: a.token.map(Token::new).transpose().map_err(|e| {
                    Error::new(
                        ErrorKind::Storage,
                        format!(
                            "site {}: the saved token: {}",
                            self.path.display(),
                            e.message()
                        ),
                    )
                })?,
            }),
            None => None,
        };
        self.devices = stored
            .devices
            .into_iter()
            .map(|d| SiteDevice::from_stored(d, &self.path))
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Where the site is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The account it was synced from, if it was.
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// Every device, in the order first synced.
    pub fn devices(&self) -> &[SiteDevice] {
        &self.devices
    }

    /// The cloud client used to fetch keys (default: `Client::new()`, the
    /// vendor's cloud with the environment's proxy). Not saved.
    /// Takes a `Client` or an `Arc<Client>` shared with other code.
    pub fn cloud(mut self, client: impl Into<std::sync::Arc<Client>>) -> Self {
        self.cloud = Some(client.into());
        self
    }

    /// The account password, for a login when there is no saved token or
    /// the cloud refuses it. Held wiped-on-drop for this run; never saved.
    pub fn password(mut self, password: String) -> Self {
        self.password = Some(Zeroizing::new(password));
        self
    }

    /// Where and how long to listen for announcements (sync, rediscovery);
    /// default port 23500 and [`local::DISCOVERY_WAIT`] (35 s: devices
    /// announce about every 30 s).
    pub fn discovery(mut self, port: u16, wait: Duration) -> Self {
        self.discovery_port = port;
        self.discovery_wait = wait;
        self
    }

    /// Bound on each device request (default 5 s) and the quiet time between
    /// requests to one device (default 1 s), as on [`Thermostat`].
    pub fn timeout(mut self, timeout: Duration, min_interval: Duration) -> Self {
        self.timeout = timeout;
        self.min_interval = min_interval;
        self
    }

    /// Called while [`Site::call`] listens for devices that stopped
    /// answering (up to the [discovery](Site::discovery) wait): first with
    /// their serial numbers and 0, then each time one of them is heard, with
    /// how many were heard so far. For a tool that shows progress; not saved.
    pub fn on_listen(mut self, f: impl Fn(&[String], usize) + Send + Sync + 'static) -> Self {
        self.on_listen = Some(std::sync::Arc::new(f));
        self
    }

    /// The device that `query` names: its name (ignoring case; a prefix
    /// that only one name starts with will do), its serial number, or its
    /// saved address. `NotFound` when none matches; `InvalidArgument`
    /// listing the candidates when a prefix fits several.
    pub fn get(&self, query: &str) -> Result<&SiteDevice, Error> {
        let i = self.index(query)?;
        self.devices
            .get(i)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "the site changed while reading it"))
    }

    fn index(&self, query: &str) -> Result<usize, Error> {
        let q = query.trim();
        if q.is_empty() {
            return Err(Error::invalid("an empty name names no device"));
        }
        let exact = |d: &SiteDevice| {
            same_serial(&d.sn, q)
                || d.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(q))
                || d.address.as_deref() == Some(q)
                || d.address.as_deref().and_then(|a| a.strip_suffix(":80")) == Some(q)
        };
        if let Some(i) = self.devices.iter().position(exact) {
            return Ok(i);
        }
        let lower = q.to_lowercase();
        let prefixed: Vec<usize> = (0..self.devices.len())
            .filter(|&i| {
                self.devices
                    .get(i)
                    .and_then(|d| d.name.as_deref())
                    .is_some_and(|n| n.to_lowercase().starts_with(&lower))
            })
            .collect();
        match prefixed.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::new(
                ErrorKind::NotFound,
                if self.devices.is_empty() {
                    format!(
                        "no device {q:?}: the site {} is empty; run `hmx sync` first",
                        self.path.display()
                    )
                } else {
                    format!(
                        "no device named {q:?}, with that serial or at that address in the site {}",
                        self.path.display()
                    )
                },
            )),
            many => {
                let names: Vec<&str> = many
                    .iter()
                    .filter_map(|&i| self.devices.get(i).and_then(|d| d.name.as_deref()))
                    .collect();
                Err(Error::invalid(format!(
                    "{q:?} could be any of {}: give more of the name",
                    names.join(", ")
                )))
            }
        }
    }

    /// A [`Thermostat`] for the device `query` names, at its saved address,
    /// with its key and scheme. No finding its way back: see [`Site::call`].
    pub fn thermostat(&self, query: &str) -> Result<Thermostat, Error> {
        self.get(query)?.thermostat(self.timeout, self.min_interval)
    }

    /// Sets the token scheme a device accepts (as a probe found or the user
    /// knows), and saves.
    pub fn set_scheme(&mut self, query: &str, scheme: crate::totp::Scheme) -> Result<(), Error> {
        let i = self.index(query)?;
        self.update(i, |d| d.scheme = scheme);
        self.save()
    }

    /// Sets the address a device is reached at (`ip` or `ip:port`), for a
    /// unit with a fixed address or one found by hand, and saves.
    pub fn set_address(&mut self, query: &str, address: &str) -> Result<(), Error> {
        let i = self.index(query)?;
        crate::local::Thermostat::new(address, "0")?;
        self.update(i, |d| d.address = Some(address.trim().to_string()));
        self.save()
    }

    /// The device's [`State`], finding its way back as [`Site::call`] does.
    pub fn state(&mut self, query: &str) -> Result<State, Error> {
        self.call(query, |t| t.state())
    }

    /// Writes controls to the device, finding its way back as [`Site::call`] does.
    pub fn control(&mut self, query: &str, controls: &[Control]) -> Result<Written, Error> {
        self.call(query, |t| t.control(controls))
    }

    fn update(&mut self, i: usize, change: impl FnOnce(&mut SiteDevice)) {
        if let Some(d) = self.devices.get_mut(i) {
            change(d);
            self.dirty.insert(d.sn.to_ascii_uppercase());
        }
    }

    /// Saves the site: under its lock, the file is read again and this
    /// process's changes (the devices it changed, the account) are laid
    /// over it, then the whole is written beside the file and renamed into
    /// place (mode 0600; a folder made for it is 0700).
    pub fn save(&mut self) -> Result<(), Error> {
        let _lock = file::lock(&self.path)?;
        if let Some(on_disk) = file::load(&self.path)? {
            let mine = std::mem::take(&mut self.devices);
            let account = self.account.take();
            self.take(on_disk)?;
            if self.account_dirty || self.account.is_none() {
                self.account = account;
            }
            for d in mine {
                let changed = self.dirty.contains(&d.sn.to_ascii_uppercase());
                match self.devices.iter_mut().find(|x| same_serial(&x.sn, &d.sn)) {
                    Some(x) if changed => *x = d,
                    Some(_) => {}
                    None => self.devices.push(d),
                }
            }
        }
        let devices: Vec<file::StoredDevice> =
            self.devices.iter().map(SiteDevice::to_stored).collect();
        let account = self.account.as_ref().map(|a| file::StoredAccount {
            email: a.email.clone(),
            base_url: a.base_url.clone(),
            token: a.token.as_ref().map(|t| t.as_str().to_string()),
        });
        let result = file::save(
            &self.path,
            &file::Writing {
                format: FORMAT,
                account: account.as_ref(),
                devices: &devices,
            },
        );
        // The plain copies of the secrets made for writing are wiped here.
        for mut d in devices {
            if let Some(key) = d.key.as_mut() {
                zeroize::Zeroize::zeroize(key);
            }
        }
        if let Some(t) = account.and_then(|a| a.token) {
            let mut t = t;
            zeroize::Zeroize::zeroize(&mut t);
        }
        result?;
        self.dirty.clear();
        self.account_dirty = false;
        Ok(())
    }
}
