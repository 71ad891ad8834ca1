//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each feeds bytes to one parser of untrusted input.
//!
//! Not API: hidden from the docs and free to change. Each function must
//! return for any input, without panicking; `tests/fuzz_corpus.rs` replays
//! the committed corpora through them on stable Rust.

use std::net::{IpAddr, Ipv4Addr};

use crate::{cloud, http, local};

/// The two halves of `data`, split at its first newline, as text.
fn halves(data: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(data);
    match text.split_once('\n') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (text.to_string(), String::new()),
    }
}

/// The login answer: the token, and the words of a refusal.
pub fn login_answer(data: &[u8]) {
    let _ = cloud::token_from_reply(data);
    let _ = cloud::server_words(data);
    for status in [400, 401, 403, 429, 500] {
        let reply = http::Reply::new(status, |_| None, data.to_vec().into());
        let e = cloud::status_error(&reply, "login");
        let _ = e.redact(&["demo-password"]);
        let _ = cloud::auth_error(&reply, "login", "refused", "fallback");
    }
}

/// One page of the device list.
pub fn device_page(data: &[u8]) {
    let _ = cloud::parse_page(data, 0);
}

/// A base URL on the first line, a page's `next` link on the second.
pub fn next_link(data: &[u8]) {
    let (base, next) = halves(data);
    let base = cloud::BaseUrl::parse(&base).or_else(|_| cloud::BaseUrl::parse(crate::TERNEO_URL));
    if let Ok(base) = base {
        let first = base.join("/api/device/");
        if let Ok(second) = base.resolve_next(&first, &next) {
            let _ = base.resolve_next(&second, &next);
        }
    }
}

/// A `Retry-After` value, and a throttled answer's body.
pub fn retry_after(data: &[u8]) {
    let _ = http::parse_retry_after(&String::from_utf8_lossy(data));
    let _ = cloud::wait_from_body(data);
}

/// A base URL and a proxy URL, one a line.
pub fn urls(data: &[u8]) {
    let (base, proxy) = halves(data);
    let _ = cloud::BaseUrl::parse(&base);
    let _ = cloud::ProxyUrl::parse(&proxy);
    let _ = cloud::ProxyUrl::parse(&base);
}

/// A thermostat's whole HTTP answer to any `api.cgi` command: the framing,
/// then the JSON as each read takes it.
pub fn api_answer(data: &[u8]) {
    let Ok(reply) = local::parse_http_answer(data, "cmd 1") else {
        return;
    };
    if let crate::framing::Framed::Value(serde_json::Value::Object(answer)) =
        crate::framing::json_value(&reply.body)
    {
        let _ = local::parse_parameters(&answer);
        let _ = local::parse_schedule(&answer);
    }
}

/// A discovery datagram.
pub fn datagram(data: &[u8]) {
    let _ = local::parse_announcement(data, IpAddr::V4(Ipv4Addr::LOCALHOST));
}

/// What the command line takes from a person: HOST forms on the first line,
/// `ID=VALUE` on the second.
pub fn command_line(data: &[u8]) {
    let (host, assignment) = halves(data);
    let _ = local::authority(&host);
    let _ = local::looks_like_serial(&host);
    let _ = local::Thermostat::new(&host, &host);
    let _ = local::parse_assignment(&assignment);
}

/// One fuzz target: its name (its folder under `fuzz/corpus/`) and its entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: [Target; 9] = [
    ("login_answer", login_answer),
    ("device_page", device_page),
    ("next_link", next_link),
    ("retry_after", retry_after),
    ("urls", urls),
    ("api_answer", api_answer),
    ("datagram", datagram),
    ("command_line", command_line),
    ("framing", framing),
];

/// Bytes as a JSON answer between padding.
pub fn framing(data: &[u8]) {
    let _ = crate::framing::json_value(data);
    let _ = crate::framing::quote(data);
}
