//! The blocking client: log in, then read every page of the device list.

use std::collections::HashSet;
use std::io::Read;
use std::thread;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use ureq::http::Response;
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body};
use zeroize::Zeroizing;

use super::device::{Device, parse_page};
use super::origin::BaseUrl;
use crate::error::{Error, ErrorKind};
use crate::secret::Token;

/// Largest response body hmx reads; past it the request fails with `Protocol`.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most pages of devices hmx follows before it gives up with `Protocol`.
pub const MAX_PAGES: usize = 1000;
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default connect timeout (TCP and TLS handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Times a device page is sent again after a reset connection or a 502/503/504.
const PAGE_RETRIES: u32 = 2;
/// Wait before retry n is n times this.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Server text longer than this is cut before it goes into an error message.
const MAX_SERVER_WORDS: usize = 300;

/// Settings for a [`Client`]; start from [`Client::builder`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    root_ca_pem: Option<Vec<u8>>,
    accept_language: String,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("root_ca_pem", &self.root_ca_pem.as_ref().map(|_| "<pem>"))
            .field("accept_language", &self.accept_language)
            .finish()
    }
}

impl ClientBuilder {
    /// The cloud to talk to; default [`TERNEO_URL`](crate::TERNEO_URL). `https://` only,
    /// except `http://` for loopback hosts (127.0.0.0/8, ::1, localhost).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Bound on each request, from connecting to the last body byte; default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bound on connecting (TCP and TLS handshake); default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trust only the certificates in this PEM instead of the public roots
    /// (for tests and private deployments).
    pub fn root_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_ca_pem = Some(pem.as_ref().to_vec());
        self
    }

    /// The `Accept-Language` header, which picks the language of the cloud's
    /// error messages; default `"en"`.
    pub fn accept_language(mut self, lang: impl Into<String>) -> Self {
        self.accept_language = lang.into();
        self
    }

    /// Checks the settings and makes the client. Fails with
    /// [`ErrorKind::InvalidArgument`] on a bad URL, a zero timeout, an unusable
    /// `Accept-Language`, or a PEM without a usable certificate.
    pub fn build(self) -> Result<Client, Error> {
        let base = BaseUrl::parse(&self.base_url)?;
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::invalid("timeouts must be greater than zero"));
        }
        let lang = &self.accept_language;
        if lang.is_empty()
            || lang.len() > 255
            || !lang.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(Error::invalid(
                "accept_language must be 1 to 255 printable ASCII characters",
            ));
        }
        let root_certs = match &self.root_ca_pem {
            None => RootCerts::WebPki,
            Some(pem) => RootCerts::new_with_certs(&parse_root_certs(pem)?),
        };
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .save_redirect_history(false)
            .timeout_global(Some(self.timeout))
            .timeout_connect(Some(self.connect_timeout.min(self.timeout)))
            .user_agent(concat!("hmx/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            // An environment proxy would be one more place the token goes.
            .proxy(None)
            .tls_config(TlsConfig::builder().root_certs(root_certs).build())
            .build();
        Ok(Client {
            agent: config.into(),
            base,
            accept_language: self.accept_language,
        })
    }
}

fn parse_root_certs(pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, Error> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::Certificate(cert) =
            item.map_err(|e| Error::invalid(format!("root CA PEM: {e}")))?
        {
            // Check now that rustls can use it, so a bad CA fails here and not at connect.
            rustls::RootCertStore::empty()
                .add(rustls::pki_types::CertificateDer::from(cert.der().to_vec()))
                .map_err(|e| Error::invalid(format!("root CA PEM: unusable certificate: {e}")))?;
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(Error::invalid("root CA PEM holds no certificate"));
    }
    Ok(certs)
}

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
    agent: Agent,
    base: BaseUrl,
    accept_language: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base.as_str())
            .finish()
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

/// A response read in full: status, the one header hmx uses, and the body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    retry_after: Option<Duration>,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

#[derive(Serialize)]
struct LoginBody<'a> {
    email: &'a str,
    password: &'a str,
}

impl Client {
    /// A client for [`TERNEO_URL`](crate::TERNEO_URL) with default settings.
    pub fn new() -> Client {
        Client::builder()
            .build()
            .expect("the default settings are valid")
    }

    /// Settings to start from: Terneo's cloud, 30 s per request, 10 s to connect,
    /// public roots, `Accept-Language: en`.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            base_url: super::TERNEO_URL.to_string(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            root_ca_pem: None,
            accept_language: "en".to_string(),
        }
    }

    /// The base URL in canonical form.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// Step 1: `POST /api/login/` and return the session token.
    ///
    /// The POST is sent at most once. A refusal (400, 401, 403) is
    /// [`ErrorKind::Auth`] with the cloud's own words.
    pub fn login(&self, email: &str, password: &str) -> Result<Token, Error> {
        if email.trim().is_empty() {
            return Err(Error::invalid("email is empty"));
        }
        if password.is_empty() {
            return Err(Error::invalid("password is empty"));
        }
        self.login_once(email, password)
            .map_err(|e| e.redact(password))
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
            .map_err(|e| Error::from_transport(e, "login"))?;
        let reply = read_reply(response, "login")?;
        match reply.status {
            200..=299 => token_from_reply(&reply.body),
            400 | 401 | 403 => Err(auth_error(
                &reply,
                "login rejected",
                "the cloud refused the credentials",
            )),
            _ => Err(status_error(&reply, "login")),
        }
    }

    /// Step 2: `GET /api/device/` and every page after it, in order.
    ///
    /// `next` links are followed only on the base URL's origin (scheme, host,
    /// port); a page is retried up to twice on a reset connection or a
    /// 502/503/504. A 401 or 403 is [`ErrorKind::Auth`]: the token is no longer accepted.
    pub fn list_devices(&self, token: &Token) -> Result<Vec<Device>, Error> {
        self.list_pages(token).map_err(|e| e.redact(token.as_str()))
    }

    fn list_pages(&self, token: &Token) -> Result<Vec<Device>, Error> {
        let authorization = Zeroizing::new(format!("Token {}", token.as_str()));
        let mut url = self.base.join("/api/device/");
        let mut visited = HashSet::new();
        let mut devices = Vec::new();
        for _ in 0..MAX_PAGES {
            let reply = self.get_page(&url, &authorization)?;
            match reply.status {
                200..=299 => {}
                401 | 403 => {
                    return Err(auth_error(
                        &reply,
                        "token rejected",
                        "the cloud no longer accepts this token",
                    ));
                }
                _ => return Err(status_error(&reply, "device list")),
            }
            let page = parse_page(&reply.body, devices.len())?;
            devices.extend(page.devices);
            let Some(next) = page.next else {
                return Ok(devices);
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

    /// Log in and list the devices: both steps in one call.
    pub fn fetch_devices(&self, email: &str, password: &str) -> Result<Vec<Device>, Error> {
        let token = self.login(email, password)?;
        self.list_devices(&token)
    }

    fn get_page(&self, url: &str, authorization: &str) -> Result<Reply, Error> {
        let mut attempt = 0;
        loop {
            let result = self
                .agent
                .get(url)
                .header("Accept-Language", &self.accept_language)
                .header("Authorization", authorization)
                .call()
                .map_err(|e| Error::from_transport(e, "device list"))
                .and_then(|response| read_reply(response, "device list"));
            let retry = match &result {
                Ok(reply) => matches!(reply.status, 502..=504),
                Err(e) => e.is_transient(),
            };
            if !retry || attempt == PAGE_RETRIES {
                return result;
            }
            attempt += 1;
            thread::sleep(RETRY_BACKOFF * attempt);
        }
    }
}

/// Reads status, `Retry-After` and the whole body, refusing bodies over [`MAX_BODY_BYTES`].
pub(crate) fn read_reply(response: Response<Body>, what: &str) -> Result<Reply, Error> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let too_big = || {
        Error::protocol(format!(
            "{what}: response body exceeds {MAX_BODY_BYTES} bytes"
        ))
        .with_status(status)
    };
    let declared = response.body().content_length().unwrap_or(0);
    if declared > MAX_BODY_BYTES as u64 {
        return Err(too_big());
    }
    let mut reader = response.into_body().into_reader();
    // Grown by hand so that every outgrown buffer is wiped, not just freed.
    let mut body = Zeroizing::new(Vec::with_capacity((declared as usize).max(1024)));
    let mut chunk = Zeroizing::new([0u8; 16 * 1024]);
    loop {
        let n = reader
            .read(&mut chunk[..])
            .map_err(|e| Error::from_transport(ureq::Error::from(e), what))?;
        if n == 0 {
            break;
        }
        if body.len() + n > MAX_BODY_BYTES {
            return Err(too_big());
        }
        if body.capacity() - body.len() < n {
            let wanted = (body.capacity() * 2)
                .max(body.len() + n)
                .min(MAX_BODY_BYTES);
            let mut bigger = Zeroizing::new(Vec::with_capacity(wanted));
            bigger.extend_from_slice(&body);
            body = bigger;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

/// An `Auth` error carrying the cloud's own words, or `fallback` when it gave none.
fn auth_error(reply: &Reply, what: &str, fallback: &str) -> Error {
    let words = server_words(&reply.body).unwrap_or_else(|| fallback.to_string());
    Error::new(
        ErrorKind::Auth,
        format!("{what} (HTTP {}): {words}", reply.status),
    )
    .with_status(reply.status)
}

/// The error for a status that is neither success nor an auth refusal.
fn status_error(reply: &Reply, what: &str) -> Error {
    let status = reply.status;
    let error = match status {
        429 => {
            let wait = reply
                .retry_after
                .map(|d| format!("; retry after {} s", d.as_secs()))
                .unwrap_or_default();
            Error::new(
                ErrorKind::RateLimited,
                format!("{what}: too many requests (HTTP 429){wait}"),
            )
            .with_retry_after(reply.retry_after)
        }
        300..=399 => Error::new(
            ErrorKind::Http,
            format!("{what}: unexpected redirect (HTTP {status}); hmx never follows redirects"),
        ),
        _ => {
            let words = server_words(&reply.body)
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            Error::new(ErrorKind::Http, format!("{what}: HTTP {status}{words}"))
        }
    };
    error.with_status(status)
}

pub(crate) fn token_from_reply(body: &[u8]) -> Result<Token, Error> {
    let mut reply: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| Error::protocol(format!("login answer is not a JSON object: {e}")))?;
    match reply.remove("access_token") {
        Some(Value::String(token)) => Token::new(token)
            .map_err(|_| Error::protocol("login answer has an unusable access_token")),
        _ => Err(Error::protocol("login answer has no access_token")),
    }
}

/// The human-readable part of a DRF-style error body: `detail`,
/// `non_field_errors` and field errors (`field: message`), joined by "; ".
pub(crate) fn server_words(body: &[u8]) -> Option<String> {
    fn texts(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.trim().to_string()),
            Value::Array(items) => items.iter().for_each(|v| texts(v, out)),
            Value::Object(map) => map.values().for_each(|v| texts(v, out)),
            _ => {}
        }
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let mut parts = Vec::new();
    match &value {
        Value::Object(map) => {
            for (field, v) in map {
                let mut found = Vec::new();
                texts(v, &mut found);
                let found = found.join(" ");
                if found.is_empty() {
                    continue;
                }
                if field == "detail" || field == "non_field_errors" || field == "message" {
                    parts.push(found);
                } else {
                    parts.push(format!("{field}: {found}"));
                }
            }
        }
        other => texts(other, &mut parts),
    }
    let mut words = parts.join("; ");
    if words.is_empty() {
        return None;
    }
    if words.len() > MAX_SERVER_WORDS {
        let mut cut = MAX_SERVER_WORDS;
        while !words.is_char_boundary(cut) {
            cut -= 1;
        }
        words.truncate(cut);
        words.push_str("...");
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drf_words() {
        let w = |b: &str| server_words(b.as_bytes());
        assert_eq!(
            w(r#"{"detail":"Invalid token."}"#).unwrap(),
            "Invalid token."
        );
        assert_eq!(
            w(r#"{"non_field_errors":["Unable to log in."],"email":["Enter a valid email."]}"#)
                .unwrap(),
            "Unable to log in.; email: Enter a valid email."
        );
        assert_eq!(w("<html>oops</html>"), None);
        assert_eq!(w(""), None);
        assert!(
            w(&format!(r#"{{"detail":"{}"}}"#, "é".repeat(400)))
                .unwrap()
                .len()
                <= MAX_SERVER_WORDS + 3
        );
    }

    #[test]
    fn builder_rejects_bad_settings() {
        let bad = [
            Client::builder().base_url("http://example.com"),
            Client::builder().timeout(Duration::ZERO),
            Client::builder().accept_language("en\r\nX: y"),
            Client::builder().root_ca_pem("not a pem"),
            Client::builder()
                .root_ca_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ];
        for b in bad {
            let e = b.clone().build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{b:?}");
        }
    }
}
