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

/// A fixture file (docs/FIXTURES.md): when it parses, it is written and read
/// back (the same fixture: a file `hmx dump` writes must load as it was
/// recorded), and its texts are redacted as a recording redacts them, with
/// its own serial. (What the client makes of the answers is `api_answer`'s
/// and `datagram`'s to fuzz.)
pub fn fixture_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(fixture) = local::Fixture::from_json(text) else {
        return;
    };
    let written = fixture.to_json();
    // The round trip is the property under test: a difference is a bug, and
    // the fuzzer must stop on it.
    assert!(
        local::Fixture::from_json(&written).ok().as_ref() == Some(&fixture),
        "a fixture written by to_json reads back differently"
    );
    let masked = local::Fixture::mask_serial(&fixture.sn);
    let texts = fixture
        .answers
        .values()
        .chain(&fixture.announcement)
        .chain(&fixture.write)
        .chain(&fixture.block);
    for text in texts {
        let _ = local::redact_fixture_text(text, &fixture.sn, &[&masked, "secret-key"]);
    }
}

/// One fuzz target: its name (its folder under `fuzz/corpus/`) and its entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: [Target; 10] = [
    ("login_answer", login_answer),
    ("device_page", device_page),
    ("next_link", next_link),
    ("retry_after", retry_after),
    ("urls", urls),
    ("api_answer", api_answer),
    ("datagram", datagram),
    ("command_line", command_line),
    ("framing", framing),
    ("fixture_file", fixture_file),
];

/// Bytes as a JSON answer between padding.
pub fn framing(data: &[u8]) {
    let _ = crate::framing::json_value(data);
    let _ = crate::framing::quote(data);
}
