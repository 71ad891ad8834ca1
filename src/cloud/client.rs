//! The blocking client: log in, then read every page of the device list.

use std::collections::HashSet;
use std::io::Read;
use std::thread;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value};
use ureq::http::Response;
use ureq::tls::TlsConfig;
use ureq::{Agent, Body};
use zeroize::Zeroizing;

use super::device::{Device, parse_page};
use super::network::{ProxySetting, ProxyUse, Roots};
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
/// Times the whole device list is read again when it changed while it was read.
const LIST_REREADS: u32 = 2;

/// Settings for a [`Client`]; start from [`Client::builder`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    roots: Roots,
    proxy: ProxySetting,
    accept_language: String,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("roots", &self.roots)
            .field("proxy", &self.proxy)
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
        self.roots = Roots::Pem(pem.as_ref().to_vec());
        self
    }

    /// Which roots to trust: [`Roots::Bundled`] (the default: Mozilla's public
    /// roots, built in), [`Roots::System`] (the operating system's store) or
    /// [`Roots::Pem`] (the same as [`root_ca_pem`](Self::root_ca_pem)).
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Send requests through this HTTP proxy, `http://[user:password@]host[:port]`
    /// (port 80 when none; `host:port` alone means `http://`), with `CONNECT`
    /// and Basic proxy authentication when credentials are given. It is used
    /// for https base URLs only; the proxy sees the cloud's host name and
    /// encrypted bytes, never the password, the token or a key.
    ///
    /// Without this or [`no_proxy`](Self::no_proxy), the environment decides,
    /// as for curl: `https_proxy`/`HTTPS_PROXY`, else `all_proxy`/`ALL_PROXY`,
    /// unless `no_proxy`/`NO_PROXY` lists the cloud's host; never for loopback hosts.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxySetting::Url(Zeroizing::new(url.into()));
        self
    }

    /// Use no proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Off;
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
    /// `Accept-Language`, a PEM or system store without a usable certificate,
    /// or a proxy URL (given, or from the environment) that is not `http://`.
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
        let root_certs = self.roots.load()?;
        let proxy = self
            .proxy
            .resolve(base.is_https(), base.host(), base.is_loopback())?;
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .save_redirect_history(false)
            .timeout_global(Some(self.timeout))
            .timeout_connect(Some(self.connect_timeout.min(self.timeout)))
            .user_agent(concat!("hmx/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .proxy(proxy.as_ref().map(|p| p.proxy.clone()))
            .tls_config(TlsConfig::builder().root_certs(root_certs).build())
            .build();
        Ok(Client {
            agent: config.into(),
            base,
            proxy,
            accept_language: self.accept_language,
        })
    }
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
    proxy: Option<ProxyUse>,
    accept_language: String,
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

/// A response read in full: status, the headers hmx uses, and the body
/// (without a UTF-8 byte order mark).
pub(crate) struct Reply {
    pub(crate) status: u16,
    retry_after: Option<Duration>,
    /// A CDN or proxy answered in the cloud's place (`cf-mitigated`, `Content-Type: text/html`).
    intercepted: bool,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

/// Why one read of the device list cannot be trusted as a whole.
struct Changed(String);

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
            roots: Roots::Bundled,
            proxy: ProxySetting::Environment,
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
            .map_err(|e| self.redact(e, password))
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
        self.list_pages(token, &mut progress)
            .map_err(|e| self.redact(e, token.as_str()))
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
                        "{what}: the proxy {name} refused to open a tunnel to the cloud \
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
                    format!("{what}: the proxy {name} did not open a tunnel: {reason}"),
                ),
            };
        }
        let error = Error::from_transport(error, what);
        match error.kind() {
            ErrorKind::Network | ErrorKind::Timeout => {
                let message = format!("{} (through the proxy {name})", error.message());
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
        let mut attempt = 0;
        loop {
            let result = self
                .agent
                .get(url)
                .header("Accept-Language", &self.accept_language)
                .header("Authorization", authorization)
                .call()
                .map_err(|e| self.transport_error(e, "device list"))
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

/// Reads status, the headers hmx uses and the whole body, refusing bodies
/// over [`MAX_BODY_BYTES`] and content codings hmx did not ask for.
pub(crate) fn read_reply(response: Response<Body>, what: &str) -> Result<Reply, Error> {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let retry_after = header("retry-after").and_then(parse_retry_after);
    let intercepted = header("cf-mitigated").is_some()
        || header("content-type").is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    // hmx sends no Accept-Encoding, so any coding but identity is one it cannot read.
    if let Some(coding) = header("content-encoding").filter(|c| !c.eq_ignore_ascii_case("identity"))
    {
        return Err(Error::protocol(format!(
            "{what}: the answer is encoded with `{coding}`, which hmx did not ask for and cannot read"
        ))
        .with_status(status));
    }
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
    // A byte order mark is not JSON, but some servers put one before it.
    if body.starts_with(b"\xEF\xBB\xBF") {
        body.drain(..3);
    }
    Ok(Reply {
        status,
        retry_after,
        intercepted,
        body,
    })
}

/// `Retry-After` as a wait: delay-seconds, or an HTTP-date turned into the
/// seconds from now (zero when it is past); RFC 9110 allows both.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let wait = when
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    // Round up, so that a caller who waits this long is never early.
    Some(Duration::from_secs(
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    ))
}

/// The wait DRF writes into a throttled answer's `detail` ("Request was
/// throttled. Expected available in 60 seconds.", in whatever language
/// `Accept-Language` chose): its number, when it has exactly one.
fn wait_from_body(body: &[u8]) -> Option<Duration> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let detail = value.get("detail")?.as_str()?;
    let mut numbers = detail
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let seconds = numbers.next()?.parse().ok()?;
    numbers
        .next()
        .is_none()
        .then(|| Duration::from_secs(seconds))
}

/// Whether a refusal came from the cloud itself: DRF answers in JSON objects.
fn from_the_cloud(reply: &Reply) -> bool {
    !reply.intercepted && serde_json::from_slice::<Value>(&reply.body).is_ok_and(|v| v.is_object())
}

/// The error for a 400/401/403 on `what`: `Auth` with the cloud's own words
/// (`fallback` when it gave none), or `Http` when a proxy, firewall or CDN
/// answered instead, so that a good password is not taken for a wrong one.
fn auth_error(reply: &Reply, what: &str, refused: &str, fallback: &str) -> Error {
    let status = reply.status;
    if !from_the_cloud(reply) {
        return Error::new(
            ErrorKind::Http,
            format!(
                "{what}: HTTP {status} from something in front of the cloud (a proxy, firewall \
                 or CDN page, not the cloud's JSON): the request was blocked before it reached \
                 the cloud"
            ),
        )
        .with_status(status);
    }
    let words = server_words(&reply.body).unwrap_or_else(|| fallback.to_string());
    Error::new(
        ErrorKind::Auth,
        format!("{refused} (HTTP {status}): {words}"),
    )
    .with_status(status)
}

/// The error for a status that is neither success nor an auth refusal.
fn status_error(reply: &Reply, what: &str) -> Error {
    let status = reply.status;
    let error = match status {
        429 => {
            let retry_after = reply.retry_after.or_else(|| wait_from_body(&reply.body));
            let wait = retry_after
                .map(|d| format!("; retry after {} s", d.as_secs()))
                .unwrap_or_default();
            Error::new(
                ErrorKind::RateLimited,
                format!("{what}: too many requests (HTTP 429){wait}"),
            )
            .with_retry_after(retry_after)
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
/// Uncut: it may hold a secret the server echoed, which is redacted before any cut.
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
    // Not cut here: the whole text is redacted first (see `Error::redact`).
    let words = parts.join("; ");
    (!words.is_empty()).then_some(words)
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
