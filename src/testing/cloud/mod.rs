//! [`MockCloud`]: the stand-in cloud, a real HTTPS server on 127.0.0.1 with the demo account and faults on demand.

mod demo;
mod faults;
mod server;

pub use demo::{DEMO_EMAIL, DEMO_PASSWORD, demo_devices};
pub use faults::{Fault, ListChange, NextLink, Route, TlsMode};

use demo::{random_seed, splitmix};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::{fs, io};

use serde_json::{Value, json};

use super::{Acceptor, certs, serve_each};
use crate::sync::lock;
use crate::{Client, ClientBuilder};

/// A host name the stand-in's certificate also covers. It resolves nowhere:
/// a client reaches it only through a [`MockProxy`](super::MockProxy) that routes it, which
/// proves the client went through the proxy.
pub const CLOUD_HOST: &str = "cloud.hmx.test";

struct ChangeRule {
    after_page: usize,
    change: ListChange,
    remaining: usize,
}

/// Counters since start (or the last [`MockCloud::reset_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// HTTP requests read.
    pub requests: usize,
    /// TCP connections accepted.
    pub connections: usize,
    /// TLS handshakes completed.
    pub handshakes: usize,
}

/// One request as the stand-in saw it (headers lower-cased, body not kept).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query without `?`.
    pub query: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The route it matched, if any.
    pub route: Option<Route>,
}

impl RecordedRequest {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct FaultRule {
    route: Route,
    fault: Fault,
    remaining: Option<usize>,
}

pub(crate) struct Shared {
    base_url: String,
    accounts: Vec<(String, String)>,
    devices: Mutex<Vec<Value>>,
    changes: Mutex<Vec<ChangeRule>>,
    page_size: usize,
    next_link: NextLink,
    fixed_token: Option<String>,
    tls: Option<Arc<rustls::ServerConfig>>,
    faults: Mutex<Vec<FaultRule>>,
    tokens: Mutex<Vec<String>>,
    requests: Mutex<Vec<RecordedRequest>>,
    connections: AtomicUsize,
    handshakes: AtomicUsize,
    shutdown: AtomicBool,
}

impl Shared {
    fn take_fault(&self, route: Route) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let i = faults.iter().position(|r| r.route.matches(route))?;
        let fault = faults[i].fault.clone();
        if let Some(n) = &mut faults[i].remaining {
            *n -= 1;
            if *n == 0 {
                faults.remove(i);
            }
        }
        Some(fault)
    }

    /// Applies the list changes due after `page` was served.
    fn change_after(&self, page: usize) {
        let mut changes = lock(&self.changes);
        let mut devices = lock(&self.devices);
        for rule in changes.iter_mut().filter(|r| r.after_page == page) {
            match rule.change {
                ListChange::RemoveFirst(n) => {
                    let n = n.min(devices.len());
                    devices.drain(..n);
                }
                ListChange::AddFirst => {
                    let next_id = devices
                        .iter()
                        .filter_map(|d| d["id"].as_i64())
                        .max()
                        .unwrap_or(0)
                        + 1;
                    let mut device = demo_devices(1).remove(0);
                    device["id"] = json!(next_id);
                    device["sn"] = json!(format!("1100150010434B58363539{next_id:08X}"));
                    devices.insert(0, device);
                }
            }
            rule.remaining -= 1;
        }
        changes.retain(|r| r.remaining > 0);
    }

    fn issue_token(&self) -> String {
        let mut tokens = lock(&self.tokens);
        if let Some(token) = &self.fixed_token {
            tokens.push(token.clone());
            return token.clone();
        }
        let seed = tokens.len() as u64 ^ random_seed();
        let token = format!(
            "{:016x}{:016x}{:08x}",
            splitmix(seed),
            splitmix(seed ^ 1),
            splitmix(seed ^ 2) as u32
        );
        tokens.push(token.clone());
        token
    }
}

/// Settings for a [`MockCloud`]: by default the demo account with 5 devices, 2 a page.
pub struct MockCloudBuilder {
    accounts: Vec<(String, String)>,
    devices: Vec<Value>,
    page_size: usize,
    next_link: NextLink,
    tls: TlsMode,
    faults: Vec<FaultRule>,
    changes: Vec<ChangeRule>,
    fixed_token: Option<String>,
}

impl MockCloudBuilder {
    /// After page `after_page` of the device list is served, `change` the
    /// list; the next `times` times that page is served.
    pub fn change_after_page(
        mut self,
        after_page: usize,
        change: ListChange,
        times: usize,
    ) -> Self {
        if times > 0 {
            self.changes.push(ChangeRule {
                after_page,
                change,
                remaining: times,
            });
        }
        self
    }

    /// Every login returns this token instead of a random one (for tests
    /// that must know the token before the run).
    pub fn fixed_token(mut self, token: impl Into<String>) -> Self {
        self.fixed_token = Some(token.into());
        self
    }

    /// Adds an account that can log in.
    pub fn account(mut self, email: &str, password: &str) -> Self {
        self.accounts
            .push((email.to_string(), password.to_string()));
        self
    }

    /// Replaces the device list with these JSON objects, served as they are.
    pub fn devices(mut self, devices: Vec<Value>) -> Self {
        self.devices = devices;
        self
    }

    /// Devices a page (at least 1).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// How `next` links are written.
    pub fn next_link(mut self, style: NextLink) -> Self {
        self.next_link = style;
        self
    }

    /// HTTPS with a good or a wrong certificate, or plain HTTP.
    pub fn tls(mut self, mode: TlsMode) -> Self {
        self.tls = mode;
        self
    }

    /// Every request on `route` gets `fault`.
    pub fn fault(mut self, route: Route, fault: Fault) -> Self {
        self.faults.push(FaultRule {
            route,
            fault,
            remaining: None,
        });
        self
    }

    /// The next `times` requests on `route` get `fault`, later ones a normal answer.
    pub fn fault_times(mut self, route: Route, fault: Fault, times: usize) -> Self {
        if times > 0 {
            self.faults.push(FaultRule {
                route,
                fault,
                remaining: Some(times),
            });
        }
        self
    }

    /// Binds 127.0.0.1 on a free port, writes the CA file and starts serving.
    pub fn start(self) -> io::Result<MockCloud> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let hosts: &[&str] = match self.tls {
            TlsMode::WrongHost => &["wrong-host.invalid"],
            _ => &["127.0.0.1", "localhost", CLOUD_HOST],
        };
        let (ca_pem, server_config) = certs::generate(hosts)?;
        let scheme = if self.tls == TlsMode::Plain {
            "http"
        } else {
            "https"
        };
        let base_url = format!("{scheme}://{addr}");
        let dir = std::env::temp_dir().join(format!(
            "hmx-mock-{}-{:x}",
            std::process::id(),
            splitmix(random_seed() ^ addr.port() as u64)
        ));
        fs::create_dir_all(&dir)?;
        let ca_file = dir.join("ca.pem");
        fs::write(&ca_file, &ca_pem)?;
        let shared = Arc::new(Shared {
            base_url: base_url.clone(),
            accounts: self.accounts,
            devices: Mutex::new(self.devices),
            changes: Mutex::new(self.changes),
            page_size: self.page_size,
            next_link: self.next_link,
            fixed_token: self.fixed_token,
            tls: (self.tls != TlsMode::Plain).then_some(server_config),
            faults: Mutex::new(self.faults),
            tokens: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            handshakes: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        });
        let accept = serve_each(
            listener,
            shared.clone(),
            |s| &s.shutdown,
            server::serve_connection,
        )?;
        Ok(MockCloud {
            shared,
            base_url,
            ca_pem,
            dir,
            ca_file,
            _accept: accept,
        })
    }
}

/// A running stand-in cloud; stops and removes its CA file when dropped.
pub struct MockCloud {
    shared: Arc<Shared>,
    base_url: String,
    ca_pem: String,
    dir: PathBuf,
    ca_file: PathBuf,
    _accept: Acceptor,
}

impl std::fmt::Debug for MockCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockCloud")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl MockCloud {
    /// Settings to start from: the demo account, 5 demo devices, 2 a page, HTTPS.
    pub fn builder() -> MockCloudBuilder {
        MockCloudBuilder {
            accounts: vec![(DEMO_EMAIL.to_string(), DEMO_PASSWORD.to_string())],
            devices: demo_devices(5),
            page_size: 2,
            next_link: NextLink::Absolute,
            tls: TlsMode::Valid,
            faults: Vec::new(),
            changes: Vec::new(),
            fixed_token: None,
        }
    }

    /// Starts the default stand-in.
    pub fn start() -> io::Result<MockCloud> {
        MockCloud::builder().start()
    }

    /// `https://127.0.0.1:<port>` (`http://` in [`TlsMode::Plain`]).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The generated CA, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A file holding [`ca_pem`](Self::ca_pem), removed when the stand-in stops.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// A client builder aimed at this stand-in and trusting its CA.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .base_url(&self.base_url)
            .root_ca_pem(&self.ca_pem)
    }

    /// A client with default settings aimed at this stand-in.
    pub fn client(&self) -> Client {
        self.client_builder()
            .build()
            .expect("the stand-in's URL and CA are valid")
    }

    /// Requests, connections and handshakes so far.
    pub fn stats(&self) -> Stats {
        Stats {
            requests: lock(&self.shared.requests).len(),
            connections: self.shared.connections.load(Ordering::SeqCst),
            handshakes: self.shared.handshakes.load(Ordering::SeqCst),
        }
    }

    /// Zeroes the counters and forgets recorded requests.
    pub fn reset_stats(&self) {
        lock(&self.shared.requests).clear();
        self.shared.connections.store(0, Ordering::SeqCst);
        self.shared.handshakes.store(0, Ordering::SeqCst);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Every token issued so far.
    pub fn tokens(&self) -> Vec<String> {
        lock(&self.shared.tokens).clone()
    }

    /// The devices served now, as JSON.
    pub fn devices(&self) -> Vec<Value> {
        lock(&self.shared.devices).clone()
    }

    /// Serves `devices` from now on (a unit bound again gets a new key).
    pub fn set_devices(&self, devices: Vec<Value>) {
        *lock(&self.shared.devices) = devices;
    }

    /// Forgets every token issued, as the cloud does when a session expires:
    /// the next list with an old token is refused (401).
    pub fn revoke_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }
}

impl Drop for MockCloud {
    fn drop(&mut self) {
        // The accept loop stops when `_accept` drops, after this.
        let _ = fs::remove_dir_all(&self.dir);
    }
}
