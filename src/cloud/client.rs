//! [`Client`]: the login, and the page loop that reads the whole device list.

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;
use ureq::Agent;
use zeroize::Zeroizing;

use super::device::{Device, parse_page};
use super::drf::{auth_error, status_error, token_from_reply};
use super::origin::BaseUrl;
use super::proxy::ProxyUse;
use super::transport::read_reply;
use crate::error::{Error, ErrorKind};
use crate::http::Reply;
use crate::retry::{self, Retry};
use crate::secret::Token;

/// Most pages of devices hmx follows before it gives up with `Protocol`.
pub const MAX_PAGES: usize = 1000;

/// Times the whole device list is read again when it changed while it was read.
const LIST_REREADS: u32 = 2;

/// A connection to one cloud. Cheap to share: `Send + Sync`, and every method takes `&self`.
///
/// One `Client` keeps its connections open between calls, so a login and every
/// page of the device list that follows go over one TCP connection and one TLS
/// handshake when the server keeps the connection alive.
///
/// ```no_run
/// let client = hmx::Client::new();
/// let token = client.login("user@example.com", "secret")?;
/// for device in client.list_devices(&token)? {
///     let key = device.totp_key.as_ref().map_or("-", |k| k.as_str());
///     println!("{} {} {}", device.sn, device.name, key);
/// }
/// # Ok::<(), hmx::Error>(())
/// ```
pub struct Client {
    pub(super) agent: Agent,
    pub(super) base: BaseUrl,
    pub(super) proxy: Option<ProxyUse>,
    pub(super) accept_language: String,
    /// The bounds set (for messages): connecting, and each request.
    pub(super) bounds: (Duration, Duration),
    /// Why [`Client::new`] could not use the environment's settings.
    pub(super) unusable: Option<Error>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base.as_str())
            .field("proxy", &self.proxy.as_ref().map(|p| &p.name))
            .finish()
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

/// Why one read of the device list cannot be trusted as a whole.
struct Changed(String);

#[derive(Serialize)]
struct LoginBody<'a> {
    email: &'a str,
    password: &'a str,
}

impl Client {
    /// The base URL in canonical form.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// Step 1: `POST /api/login/` and return the session token.
    ///
    /// The POST is sent at most once. A refusal (400, 401, 403) is
    /// [`ErrorKind::Auth`] with the cloud's own words.
    pub fn login(&self, email: &str, password: &str) -> Result<Token, Error> {
        self.usable()?;
        if email.trim().is_empty() {
            return Err(Error::invalid("email is empty"));
        }
        if password.is_empty() {
            return Err(Error::invalid("password is empty"));
        }
        self.login_once(email, password)
            .map_err(|e| self.redact(self.bounded(e), password))
    }

    fn login_once(&self, email: &str, password: &str) -> Result<Token, Error> {
        // Sized for the worst case of JSON escaping, so the buffer never reallocates
        // and leaves a copy of the password behind.
        let capacity = 32 + 6 * (email.len() + password.len());
        let mut body = Zeroizing::new(Vec::with_capacity(capacity));
        serde_json::to_writer(&mut *body, &LoginBody { email, password })
            .map_err(|e| Error::invalid(format!("cannot encode login: {e}")))?;
        let response = self
            .agent
            .post(self.base.join("/api/login/"))
            .header("Accept-Language", &self.accept_language)
            .header("Content-Type", "application/json")
            .send(&body[..])
            .map_err(|e| self.transport_error(e, "login"))?;
        let reply = read_reply(response, "login")?;
        match reply.status {
            200..=299 => token_from_reply(&reply.body),
            400 | 401 | 403 => Err(auth_error(
                &reply,
                "login",
                "login rejected",
                "the cloud refused the credentials",
            )),
            _ => Err(status_error(&reply, "login")),
        }
    }

    /// Step 2: `GET /api/device/` and every page after it, in order.
    ///
    /// `next` links are followed only to the base URL's host, and always to
    /// the base URL's scheme and port; a page is retried up to twice on a
    /// reset connection or a 502/503/504. When the list changes while it is
    /// read (its `count` changes, an id repeats, the total differs from
    /// `count`, a later page is gone), it is read again from the first page,
    /// at most twice more. A 401 or 403 in DRF's JSON is [`ErrorKind::Auth`]:
    /// the token is no longer accepted.
    pub fn list_devices(&self, token: &Token) -> Result<Vec<Device>, Error> {
        self.list_devices_with_progress(token, |_, _| {})
    }

    /// [`list_devices`](Client::list_devices), calling `progress(pages,
    /// devices)` after each page with the pages and devices read so far (a
    /// list read again after it changed starts again from 0), for tools that
    /// show how a long fetch is going.
    pub fn list_devices_with_progress(
        &self,
        token: &Token,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<Device>, Error> {
        self.usable()?;
        self.list_pages(token, &mut progress)
            .map_err(|e| self.redact(self.bounded(e), token.as_str()))
    }

    /// A timeout, with the bounds that applied.
    fn bounded(&self, error: Error) -> Error {
        if error.kind() != ErrorKind::Timeout {
            return error;
        }
        let (connect, request) = self.bounds;
        let message = format!(
            "{} (bounds: {} s to connect, {} s for each request)",
            error.message(),
            connect.as_secs_f64(),
            request.as_secs_f64()
        );
        error.with_message(message)
    }

    /// The reason this client cannot send anything, if it cannot.
    fn usable(&self) -> Result<(), Error> {
        self.unusable.clone().map_or(Ok(()), Err)
    }

    fn list_pages(
        &self,
        token: &Token,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Device>, Error> {
        let authorization = Zeroizing::new(format!("Token {}", token.as_str()));
        let mut why = String::new();
        for _ in 0..=LIST_REREADS {
            match self.read_list(&authorization, progress)? {
                Ok(devices) => return Ok(devices),
                Err(Changed(reason)) => why = reason,
            }
        }
        Err(Error::protocol(format!(
            "the device list changed while it was being read ({} reads; last: {why})",
            LIST_REREADS + 1
        )))
    }

    /// One read of every page: the devices, or why the pages disagree.
    fn read_list(
        &self,
        authorization: &str,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Result<Vec<Device>, Changed>, Error> {
        let mut url = self.base.join("/api/device/");
        let mut visited = HashSet::new();
        let mut ids = HashSet::new();
        let mut count = None;
        let mut devices = Vec::new();
        for page_number in 1..=MAX_PAGES {
            let reply = self.get_page(&url, authorization)?;
            match reply.status {
                200..=299 => {}
                401 | 403 => {
                    return Err(auth_error(
                        &reply,
                        "device list",
                        "token rejected",
                        "the cloud no longer accepts this token",
                    ));
                }
                // DRF's "Invalid page.": the list shrank under a later page.
                404 if page_number > 1 => {
                    return Ok(Err(Changed(format!("page {page_number} is gone"))));
                }
                _ => return Err(status_error(&reply, "device list")),
            }
            let page = parse_page(&reply.body, devices.len())?;
            if let Some(now) = page.count
                && let Some(before) = count.replace(now)
                && before != now
            {
                return Ok(Err(Changed(format!("count went from {before} to {now}"))));
            }
            if let Some(d) = page.devices.iter().find(|d| !ids.insert(d.id)) {
                return Ok(Err(Changed(format!("device id {} was listed twice", d.id))));
            }
            devices.extend(page.devices);
            progress(page_number, devices.len());
            let Some(next) = page.next else {
                return Ok(match count {
                    Some(c) if c != devices.len() as u64 => Err(Changed(format!(
                        "read {} devices, but count says {c}",
                        devices.len()
                    ))),
                    _ => Ok(devices),
                });
            };
            let next = self.base.resolve_next(&url, &next)?;
            visited.insert(std::mem::replace(&mut url, next));
            if visited.contains(&url) {
                return Err(Error::protocol(format!(
                    "next page link goes back to {url}, a page already read"
                )));
            }
        }
        Err(Error::protocol(format!(
            "the device list has more than {MAX_PAGES} pages"
        )))
    }

    /// `error` without `secret` or the proxy's credentials (see [`Error::redact`]).
    fn redact(&self, error: Error, secret: &str) -> Error {
        let mut secrets = vec![secret];
        if let Some(proxy) = &self.proxy {
            secrets.extend(proxy.secrets.iter().map(|s| s.as_str()));
        }
        error.redact(&secrets)
    }

    /// A failure before any answer from the cloud; with a proxy, it names the
    /// proxy, and a refused `CONNECT` is `Http` with the proxy's status.
    fn transport_error(&self, error: ureq::Error, what: &str) -> Error {
        let Some(proxy) = &self.proxy else {
            return Error::from_transport(error, what);
        };
        let name = &proxy.name;
        if let ureq::Error::ConnectProxyFailed(reason) = &error {
            // ureq's words: "proxy server responded 407/407 Proxy Authentication Required".
            let status = reason
                .strip_prefix("proxy server responded ")
                .and_then(|r| r.split('/').next())
                .and_then(|s| s.parse::<u16>().ok());
            return match status {
                Some(status) => Error::new(
                    ErrorKind::Http,
                    format!(
                        "{what}: the {name} refused to open a tunnel to the cloud \
                         (HTTP {status}{}); the cloud was not reached",
                        if status == 407 {
                            ", it wants other proxy credentials"
                        } else {
                            ""
                        }
                    ),
                )
                .with_status(status),
                None => Error::new(
                    ErrorKind::Network,
                    format!("{what}: the {name} did not open a tunnel: {reason}"),
                ),
            };
        }
        let error = Error::from_transport(error, what);
        match error.kind() {
            ErrorKind::Network | ErrorKind::Timeout => {
                let message = format!("{} (through the {name})", error.message());
                error.with_message(message)
            }
            _ => error,
        }
    }

    /// Log in and list the devices: both steps in one call.
    pub fn fetch_devices(&self, email: &str, password: &str) -> Result<Vec<Device>, Error> {
        let token = self.login(email, password)?;
        self.list_devices(&token)
    }

    fn get_page(&self, url: &str, authorization: &str) -> Result<Reply, Error> {
        let policy = Retry::CLOUD;
        let mut attempt = 0;
        loop {
            policy.wait_before(attempt);
            let result = self
                .agent
                .get(url)
                .header("Accept-Language", &self.accept_language)
                .header("Authorization", authorization)
                .call()
                .map_err(|e| self.transport_error(e, "device list"))
                .and_then(|response| read_reply(response, "device list"));
            if attempt == policy.retries || !retry::transient(&result) {
                return result;
            }
            attempt += 1;
        }
    }
}
