//! The answer rules both sides share: an HTTP answer read in full, its size cap, content coding, byte order mark and Retry-After.

use std::time::{Duration, SystemTime};

use zeroize::Zeroizing;

use crate::error::Error;

/// Largest response body hmx reads; past it the request fails with `Protocol`.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A response read in full: status, the headers hmx uses, and the body
/// (without a UTF-8 byte order mark).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    /// A CDN or proxy answered in the cloud's place (`cf-mitigated`, `Content-Type: text/html`).
    pub(crate) intercepted: bool,
    pub(crate) body: Zeroizing<Vec<u8>>,
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
