//! The one HTTP layer under both sides: agent settings, and reading an answer in full.

use std::io::Read;
use std::time::{Duration, SystemTime};

use ureq::config::ConfigBuilder;
use ureq::http::Response;
use ureq::typestate::AgentScope;
use ureq::{Agent, Body};
use zeroize::Zeroizing;

use crate::error::Error;

/// Largest response body hmx reads; past it the request fails with `Protocol`.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What every hmx agent does, cloud or device: status codes come back as
/// answers (hmx words the errors itself), redirects are never followed,
/// `timeout` bounds a request from connecting to its last body byte, and
/// JSON is asked for.
pub(crate) fn agent_config(timeout: Duration) -> ConfigBuilder<AgentScope> {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .save_redirect_history(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("hmx/", env!("CARGO_PKG_VERSION")))
        .accept("application/json")
}

/// A response read in full: status, the headers hmx uses, and the body
/// (without a UTF-8 byte order mark).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    /// A CDN or proxy answered in the cloud's place (`cf-mitigated`, `Content-Type: text/html`).
    pub(crate) intercepted: bool,
    pub(crate) body: Zeroizing<Vec<u8>>,
}

/// Reads status, the headers hmx uses and the whole body, refusing bodies
/// over [`MAX_BODY_BYTES`] and content codings hmx did not ask for.
pub(crate) fn read_reply(response: Response<Body>, what: &str) -> Result<Reply, Error> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    check_coding(header("content-encoding"), status, what)?;
    let declared = response.body().content_length().unwrap_or(0);
    if declared > MAX_BODY_BYTES as u64 {
        return Err(too_big(status, what));
    }
    let mut reader = response.into_body().into_reader();
    let mut body = BodyBuf::with_capacity(declared as usize);
    let mut chunk = Zeroizing::new([0u8; 16 * 1024]);
    loop {
        let n = reader
            .read(&mut chunk[..])
            .map_err(|e| Error::from_transport(ureq::Error::from(e), what))?;
        if n == 0 {
            break;
        }
        if !body.extend(chunk.get(..n).unwrap_or_default(), MAX_BODY_BYTES) {
            return Err(too_big(status, what));
        }
    }
    Ok(Reply::new(status, header, body.into_inner()))
}

impl Reply {
    /// An answer whose body has been read in full, with the rules both sides
    /// share: `Retry-After`, pages a CDN or proxy sent in the server's place,
    /// and no UTF-8 byte order mark in front of the JSON.
    pub(crate) fn new<'h>(
        status: u16,
        header: impl Fn(&str) -> Option<&'h str>,
        mut body: Zeroizing<Vec<u8>>,
    ) -> Reply {
        // A byte order mark is not JSON, but some servers put one before it.
        if body.starts_with(b"\xEF\xBB\xBF") {
            body.drain(..3);
        }
        Reply {
            status,
            retry_after: header("retry-after").and_then(parse_retry_after),
            intercepted: header("cf-mitigated").is_some()
                || header("content-type")
                    .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html")),
            body,
        }
    }
}

/// hmx sends no `Accept-Encoding`, so any coding but identity is one it cannot read.
pub(crate) fn check_coding(coding: Option<&str>, status: u16, what: &str) -> Result<(), Error> {
    match coding.filter(|c| !c.eq_ignore_ascii_case("identity")) {
        Some(coding) => Err(Error::protocol(format!(
            "{what}: the answer is encoded with `{coding}`, which hmx did not ask for and cannot read"
        ))
        .with_status(status)),
        None => Ok(()),
    }
}

/// The error for a body over [`MAX_BODY_BYTES`].
pub(crate) fn too_big(status: u16, what: &str) -> Error {
    Error::protocol(format!(
        "{what}: response body exceeds {MAX_BODY_BYTES} bytes"
    ))
    .with_status(status)
}

/// Bytes read so far, in a buffer grown by hand so that every outgrown
/// buffer is wiped, not just freed.
pub(crate) struct BodyBuf(Zeroizing<Vec<u8>>);

impl BodyBuf {
    /// An empty buffer with room for `expected` bytes (at least 1 KiB, at most the cap).
    pub(crate) fn with_capacity(expected: usize) -> BodyBuf {
        BodyBuf(Zeroizing::new(Vec::with_capacity(
            expected.clamp(1024, MAX_BODY_BYTES),
        )))
    }

    /// Appends `bytes`; false, appending nothing, when that would pass `limit`.
    pub(crate) fn extend(&mut self, bytes: &[u8], limit: usize) -> bool {
        let body = &mut self.0;
        if body.len() + bytes.len() > limit {
            return false;
        }
        if body.capacity() - body.len() < bytes.len() {
            let wanted = (body.capacity() * 2)
                .max(body.len() + bytes.len())
                .min(limit);
            let mut bigger = Zeroizing::new(Vec::with_capacity(wanted));
            bigger.extend_from_slice(body);
            *body = bigger;
        }
        body.extend_from_slice(bytes);
        true
    }

    /// What was read.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

/// `Retry-After` as a wait: delay-seconds, or an HTTP-date turned into the
/// seconds from now (zero when it is past); RFC 9110 allows both.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
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
