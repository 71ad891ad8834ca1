//! What the cloud's answers mean: Django REST Framework's error bodies, refusals and throttling, in hmx's words.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};
use crate::http::Reply;
use crate::secret::Token;

/// The wait DRF writes into a throttled answer's `detail` ("Request was
/// throttled. Expected available in 60 seconds.", in whatever language
/// `Accept-Language` chose): its number, when it has exactly one.
pub(crate) fn wait_from_body(body: &[u8]) -> Option<Duration> {
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
pub(crate) fn auth_error(reply: &Reply, what: &str, refused: &str, fallback: &str) -> Error {
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
pub(crate) fn status_error(reply: &Reply, what: &str) -> Error {
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
    match reply.shift_remove("access_token") {
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
}
