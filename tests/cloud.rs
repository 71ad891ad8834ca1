//! Getting the keys from the cloud with the Rust client.
//!
//! Against the stand-in: every behaviour the README promises, and
//! examples/keys.rs.
#![cfg(feature = "test-util")]

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::net::{closed_port, cloud_port};
use common::secrets::secret_pieces;
use common::{faulty, paged};
use hmx::testing::{
    DEMO_EMAIL, DEMO_PASSWORD, Fault, ListChange, MockCloud, NextLink, Route, TlsMode,
};
use hmx::{Client, Device, Error, ErrorKind, Token};
use serde_json::json;

fn start(builder: hmx::testing::MockCloudBuilder) -> MockCloud {
    builder.start().expect("stand-in starts")
}

fn quick_client(cloud: &MockCloud) -> Client {
    cloud
        .client_builder()
        .timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap()
}

fn fetch(cloud: &MockCloud) -> Result<Vec<Device>, Error> {
    quick_client(cloud).fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
}

fn fetch_err(cloud: &MockCloud) -> Error {
    fetch(cloud).expect_err("the fetch should fail")
}

fn key(d: &Device) -> &str {
    d.totp_key.as_ref().map_or("", |k| k.as_str())
}

#[test]
fn login_and_three_pages_use_one_connection() {
    let cloud = MockCloud::start().unwrap();
    let devices = fetch(&cloud).unwrap();
    assert_eq!(devices.len(), 5);
    let stats = cloud.stats();
    assert_eq!(
        (stats.requests, stats.connections, stats.handshakes),
        (4, 1, 1)
    );
    for (got, want) in devices.iter().zip(cloud.devices()) {
        assert_eq!(got.id, want["id"].as_i64().unwrap());
        assert_eq!(got.sn, want["sn"]);
        assert_eq!(got.name, want["name"]);
        assert_eq!(key(got), want["totp_key"]);
        assert_eq!(got.extra["data"], want["data"]);
        assert_eq!(
            got.extra.keys().collect::<Vec<_>>(),
            ["type", "version_name", "readonly", "data"]
        );
    }
    assert_eq!(devices[3].name, "Детская");
}

#[test]
fn headers_and_token_only_on_device_requests() {
    let cloud = MockCloud::start().unwrap();
    let client = cloud
        .client_builder()
        .accept_language("uk")
        .build()
        .unwrap();
    let token = client.login(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
    client.list_devices(&token).unwrap();
    let requests = cloud.requests();
    let agent = format!("hmx/{}", hmx::VERSION);
    for r in &requests {
        assert_eq!(r.header("accept-language"), Some("uk"));
        assert_eq!(r.header("user-agent"), Some(agent.as_str()));
        assert_eq!(r.header("accept"), Some("application/json"));
    }
    assert_eq!(requests[0].route, Some(Route::Login));
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    assert_eq!(requests[0].header("authorization"), None);
    let expected = format!("Token {}", token.as_str());
    assert!(
        requests[1..]
            .iter()
            .all(|r| r.header("authorization") == Some(expected.as_str()))
    );
}

#[test]
fn a_token_held_already_works() {
    let cloud = MockCloud::start().unwrap();
    cloud.client().login(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
    let token: Token = cloud.tokens()[0].parse().unwrap();
    assert_eq!(cloud.client().list_devices(&token).unwrap().len(), 5);
    assert_eq!(format!("{token:?}"), "Token(<redacted>)");
}

#[test]
fn relative_and_query_only_next_links() {
    for style in [NextLink::Relative, NextLink::QueryOnly] {
        let cloud = start(MockCloud::builder().next_link(style).page_size(1));
        assert_eq!(fetch(&cloud).unwrap().len(), 5);
        assert_eq!(cloud.stats().connections, 1);
    }
}

#[test]
fn proxied_next_links_go_to_the_base_origin() {
    // A server on the same host but another port must hear nothing: links
    // naming it are sent to the base URL's port instead.
    let witness = MockCloud::start().unwrap();
    let witness_port = cloud_port(&witness);
    for style in [
        NextLink::PlainHttp,
        NextLink::NoPort,
        NextLink::Template("http://127.0.0.1{path}".into()),
        NextLink::Template(format!("https://127.0.0.1:{witness_port}{{path}}")),
        NextLink::Template(format!("http://127.0.0.1.:{witness_port}{{path}}")),
        NextLink::Template("//127.0.0.1:1{path}".into()),
    ] {
        let cloud = start(MockCloud::builder().next_link(style.clone()));
        let devices = fetch(&cloud).unwrap_or_else(|e| panic!("{style:?}: {e}"));
        assert_eq!(devices.len(), 5, "{style:?}");
        // Every request arrived over the one TLS connection: nothing in clear text.
        let stats = cloud.stats();
        assert_eq!(
            (stats.requests, stats.connections, stats.handshakes),
            (4, 1, 1),
            "{style:?}"
        );
    }
    assert_eq!(witness.stats().connections, 0);

    // The same through a base URL named `localhost`, links naming `LOCALHOST.`.
    let cloud =
        start(MockCloud::builder().next_link(NextLink::Template("http://LOCALHOST.{path}".into())));
    let port = cloud_port(&cloud);
    let client = cloud
        .client_builder()
        .base_url(format!("https://localhost:{port}"))
        .build()
        .unwrap();
    let devices = client.fetch_devices(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
    assert_eq!(devices.len(), 5);
}

#[test]
fn foreign_next_link_is_refused_and_the_other_host_hears_nothing() {
    let other = MockCloud::start().unwrap();
    let port = cloud_port(&other);
    // `localhost` is another host name than the base URL's 127.0.0.1, even if
    // it resolves to the same address.
    for origin in [
        format!("https://localhost:{port}"),
        format!("http://localhost:{port}"),
        format!("https://127.0.0.1@localhost:{port}"),
        "https://evil.invalid".to_string(),
    ] {
        let cloud = start(MockCloud::builder().next_link(NextLink::Foreign(origin.clone())));
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::Protocol, "{origin}: {e}");
        assert!(
            e.to_string().contains("nothing was sent there")
                || e.to_string().contains("user information"),
            "{e}"
        );
        assert_eq!(cloud.stats().requests, 2, "{origin}");
    }
    assert_eq!(other.stats().connections, 0);
}

#[test]
fn an_empty_next_means_the_last_page() {
    let body = json!({"count": 1, "next": "", "previous": null,
                      "results": [hmx::testing::demo_devices(1)[0]]});
    let cloud = faulty(Route::DevicePage(1), Fault::Body(body.to_string().into()));
    assert_eq!(fetch(&cloud).unwrap().len(), 1);
    // An envelope without `count` is accepted too.
    let body = json!({"next": null, "results": hmx::testing::demo_devices(2)});
    let cloud = faulty(Route::DevicePage(1), Fault::Body(body.to_string().into()));
    assert_eq!(fetch(&cloud).unwrap().len(), 2);
}

fn ids(devices: &[Device]) -> Vec<i64> {
    devices.iter().map(|d| d.id).collect()
}

fn served_ids(cloud: &MockCloud) -> Vec<i64> {
    cloud
        .devices()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn a_list_that_changes_while_read_is_read_again() {
    let seven = || paged(7, 3);
    // 3 devices deleted after page 1: DRF's page 2 now starts later.
    let cloud = start(seven().change_after_page(1, ListChange::RemoveFirst(3), 1));
    let devices = fetch(&cloud).unwrap();
    assert_eq!(ids(&devices), served_ids(&cloud));
    assert_eq!(devices.len(), 4);

    // One added at the front: one device would appear twice, another vanish.
    let cloud = start(seven().change_after_page(1, ListChange::AddFirst, 1));
    let devices = fetch(&cloud).unwrap();
    assert_eq!(ids(&devices), served_ids(&cloud));
    assert_eq!(devices.len(), 8);

    // Deleted twice: the second time page 2 is gone altogether (404).
    let cloud = start(seven().change_after_page(1, ListChange::RemoveFirst(3), 2));
    let devices = fetch(&cloud).unwrap();
    assert_eq!(ids(&devices), served_ids(&cloud));
    assert_eq!(devices.len(), 1);

    // Changing on every read: three reads, then a clear error.
    let cloud = start(seven().change_after_page(1, ListChange::AddFirst, 100));
    let e = fetch_err(&cloud);
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(
        e.to_string()
            .contains("the device list changed while it was being read"),
        "{e}"
    );
    assert_eq!(
        cloud.stats().requests,
        1 + 3 * 2,
        "login + 3 reads, each stopped at page 2"
    );
}

#[test]
fn a_count_that_disagrees_with_the_pages_is_a_change() {
    // A server whose count never matches what it serves: read 3 times, then Protocol.
    let body = json!({"count": 9, "next": null, "results": hmx::testing::demo_devices(2)});
    let cloud = faulty(Route::DevicePage(1), Fault::Body(body.to_string().into()));
    let e = fetch_err(&cloud);
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.to_string().contains("count says 9"), "{e}");
    assert_eq!(cloud.stats().requests, 1 + 3);
}

#[test]
fn next_cycle_and_too_many_pages() {
    let cloud = start(MockCloud::builder().next_link(NextLink::Cycle));
    let e = fetch_err(&cloud);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_eq!(cloud.stats().requests, 4);

    let cloud = start(paged(1001, 1));
    let e = fetch_err(&cloud);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("1000 pages"), "{e}");
    assert_eq!(cloud.stats().requests, 1 + 1000);
    assert_eq!(cloud.stats().connections, 1);
}

#[test]
fn login_refusals_carry_the_servers_words() {
    let cloud = MockCloud::start().unwrap();
    let e = quick_client(&cloud).login(DEMO_EMAIL, "wrong").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(e.status(), Some(400));
    assert!(
        e.to_string()
            .contains("Unable to log in with provided credentials."),
        "{e}"
    );

    for status in [401, 403] {
        let body = json!({"detail": "Account locked.", "email": ["Unknown."]}).to_string();
        let cloud = faulty(Route::Login, Fault::status(status, body));
        let e = fetch_err(&cloud);
        assert_eq!((e.kind(), e.status()), (ErrorKind::Auth, Some(status)));
        assert!(
            e.to_string().ends_with("Account locked.; email: Unknown."),
            "{e}"
        );
    }
}

#[test]
fn server_text_echoing_the_password_is_redacted() {
    let body = json!({"password": [format!("'{DEMO_PASSWORD}' is too weak")]}).to_string();
    let cloud = faulty(Route::Login, Fault::status(400, body));
    let e = fetch_err(&cloud);
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(DEMO_PASSWORD), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

#[test]
fn echoed_secrets_leave_no_piece_at_any_offset() {
    let password = "Tr0ub4dor&3-correct-horse";
    let token = "9573e6a8e24b025fafbaf81dc2eccbc09b94d187";
    // 272 characters is where the old cut left the password's first 7.
    let paddings = (0..12).chain((230..=420).step_by(3)).chain([500, 5000]);
    for padding in paddings {
        for status in [400, 401, 403] {
            let cloud = start(
                MockCloud::builder()
                    .account(DEMO_EMAIL, password)
                    .fault(Route::Login, Fault::EchoSecret { status, padding }),
            );
            let e = quick_client(&cloud)
                .login(DEMO_EMAIL, password)
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Auth);
            let shown = format!("{e} {e:?}");
            assert_eq!(
                secret_pieces(password, &shown),
                Vec::<String>::new(),
                "{padding}: {shown}"
            );
        }
        for status in [401, 403, 404, 500] {
            let cloud = start(
                MockCloud::builder()
                    .fixed_token(token)
                    .fault(Route::DevicePage(2), Fault::EchoSecret { status, padding }),
            );
            let e = fetch_err(&cloud);
            let shown = format!("{e} {e:?}");
            assert_eq!(
                secret_pieces(token, &shown),
                Vec::<String>::new(),
                "{padding}: {shown}"
            );
        }
    }
}

#[test]
fn a_proxy_or_cdn_page_is_not_a_refusal() {
    let challenge = || Fault::Respond {
        status: 403,
        headers: vec![
            ("cf-mitigated".into(), "challenge".into()),
            ("Content-Type".into(), "text/html; charset=UTF-8".into()),
        ],
        body: b"<!DOCTYPE html><title>Just a moment...</title>".to_vec(),
    };
    let html = |status| Fault::status(status, "<html><body>403 Forbidden</body></html>");
    // A CDN challenge even with a JSON body is the CDN's, not the cloud's.
    let json_challenge = Fault::Respond {
        status: 403,
        headers: vec![("cf-mitigated".into(), "challenge".into())],
        body: br#"{"detail":"blocked"}"#.to_vec(),
    };
    for (route, fault) in [
        (Route::Login, challenge()),
        (Route::Login, html(401)),
        (Route::Login, html(403)),
        (Route::Login, html(400)),
        (Route::Login, json_challenge),
        (Route::DevicePage(1), challenge()),
        (Route::DevicePage(2), html(401)),
        (Route::DevicePage(3), html(403)),
    ] {
        let cloud = faulty(route, fault);
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::Http, "{route:?}: {e}");
        assert!(e.status().is_some_and(|s| (400..=403).contains(&s)));
        assert!(
            e.to_string()
                .contains("blocked before it reached the cloud"),
            "{e}"
        );
    }
    // DRF's own JSON refusals stay Auth.
    let body = r#"{"detail":"Authentication credentials were not provided."}"#;
    let cloud = faulty(Route::Login, Fault::status(403, body));
    assert_eq!(fetch_err(&cloud).kind(), ErrorKind::Auth);
}

#[test]
fn retry_after_as_a_date_or_in_the_body() {
    let limited = |headers: Vec<(String, String)>, body: &str| {
        let cloud = faulty(
            Route::Login,
            Fault::Respond {
                status: 429,
                headers,
                body: body.into(),
            },
        );
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        e.retry_after()
    };
    // An hour ahead: however slow the machine, the wait stays near 3600 s.
    let in_an_hour = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    let wait = limited(vec![("Retry-After".into(), in_an_hour)], "").unwrap();
    assert!(
        (Duration::from_secs(3300)..=Duration::from_secs(3601)).contains(&wait),
        "{wait:?}"
    );
    let past = "Sun, 06 Nov 1994 08:49:37 GMT".to_string();
    assert_eq!(
        limited(vec![("Retry-After".into(), past)], ""),
        Some(Duration::ZERO)
    );
    // No header: DRF's own words carry the wait.
    let drf = r#"{"detail":"Request was throttled. Expected available in 42 seconds."}"#;
    assert_eq!(limited(vec![], drf), Some(Duration::from_secs(42)));
    let header_wins = vec![("Retry-After".into(), "7".into())];
    assert_eq!(limited(header_wins, drf), Some(Duration::from_secs(7)));
    assert_eq!(
        limited(vec![("Retry-After".into(), "soon".into())], ""),
        None
    );
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let cloud = start(
        MockCloud::builder()
            .fault(Route::Login, Fault::ByteOrderMark)
            .fault(Route::AnyDevicePage, Fault::ByteOrderMark),
    );
    assert_eq!(fetch(&cloud).unwrap().len(), 5);
    // And in error bodies: the server's words still come through.
    let body = "\u{feff}{\"detail\":\"Invalid token.\"}";
    let cloud = faulty(Route::DevicePage(1), Fault::status(401, body));
    let e = fetch_err(&cloud);
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.to_string().ends_with("Invalid token."), "{e}");
}

#[test]
fn an_encoding_not_asked_for_is_named() {
    for coding in ["gzip", "br", "deflate"] {
        let cloud = faulty(
            Route::DevicePage(1),
            Fault::Respond {
                status: 200,
                headers: vec![("Content-Encoding".into(), coding.into())],
                body: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0],
            },
        );
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.to_string().contains(&format!("`{coding}`")), "{e}");
    }
}

#[test]
fn rejected_token_is_auth_and_never_shown() {
    let token = "9573e6a8e24b025fafbaf81dc2eccbc09b94d187";
    for status in [401, 403] {
        let body = json!({"detail": format!("Token {token} expired.")}).to_string();
        let cloud = faulty(Route::AnyDevicePage, Fault::status(status, body));
        let e = quick_client(&cloud)
            .list_devices(&token.parse().unwrap())
            .unwrap_err();
        assert_eq!((e.kind(), e.status()), (ErrorKind::Auth, Some(status)));
        assert!(!format!("{e} {e:?}").contains(token), "{e}");
    }
    let cloud = MockCloud::start().unwrap();
    let e = cloud
        .client()
        .list_devices(&token.parse().unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
}

#[test]
fn rate_limits_with_and_without_retry_after() {
    let limited = Fault::Respond {
        status: 429,
        headers: vec![("Retry-After".into(), "30".into())],
        body: br#"{"detail":"Request was throttled."}"#.to_vec(),
    };
    for route in [Route::Login, Route::DevicePage(2)] {
        let cloud = faulty(route, limited.clone());
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    }
    let cloud = faulty(Route::Login, Fault::status(429, ""));
    let e = fetch_err(&cloud);
    assert_eq!((e.kind(), e.retry_after()), (ErrorKind::RateLimited, None));
}

#[test]
fn other_statuses_are_http_errors() {
    for (route, status) in [
        (Route::Login, 500),
        (Route::DevicePage(1), 500),
        (Route::Login, 404),
    ] {
        let cloud = faulty(route, Fault::status(status, "<html>boom</html>"));
        let e = fetch_err(&cloud);
        assert_eq!(
            (e.kind(), e.status()),
            (ErrorKind::Http, Some(status)),
            "{e}"
        );
    }
}

#[test]
fn redirects_are_not_followed() {
    let elsewhere = MockCloud::start().unwrap();
    for route in [Route::Login, Route::DevicePage(2)] {
        let to = format!("{}/api/device/", elsewhere.base_url());
        let cloud = faulty(route, Fault::Redirect(to));
        let e = fetch_err(&cloud);
        assert_eq!((e.kind(), e.status()), (ErrorKind::Http, Some(302)), "{e}");
        assert!(e.to_string().contains("redirect"), "{e}");
    }
    assert_eq!(elsewhere.stats().connections, 0);
}

#[test]
fn malformed_answers_are_protocol_errors() {
    let big = vec![b' '; hmx::MAX_BODY_BYTES + 1];
    let cases: Vec<(Route, Vec<u8>)> = vec![
        (Route::Login, b"not json".to_vec()),
        (Route::Login, b"".to_vec()),
        (Route::Login, br#"{"user_name":"x"}"#.to_vec()),
        (Route::Login, br#"{"access_token":"has space"}"#.to_vec()),
        (Route::Login, big.clone()),
        (Route::DevicePage(1), b"<html></html>".to_vec()),
        (Route::DevicePage(1), br#"{"count":0}"#.to_vec()),
        (Route::DevicePage(1), br#"{"results":{}}"#.to_vec()),
        (
            Route::DevicePage(1),
            br#"{"results":[{"id":1,"name":"no sn"}]}"#.to_vec(),
        ),
        (
            Route::DevicePage(2),
            br#"{"results":[{"id":"1","sn":"x"}]}"#.to_vec(),
        ),
        (
            Route::DevicePage(1),
            b"{\"results\":[{\"id\":1,\"sn\":\"\xff\"}]}".to_vec(),
        ),
        (Route::DevicePage(1), big),
    ];
    for (route, body) in cases {
        let cloud = faulty(route, Fault::Body(body));
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::Protocol, "{route:?}: {e}");
    }
}

#[test]
fn null_and_missing_fields_and_unknown_ones() {
    let devices = vec![
        json!({"id": 1, "sn": "A", "name": null, "totp_key": null, "firmware": {"v": [1, 2]}}),
        json!({"id": 2, "sn": "B"}),
        json!({"id": 3, "sn": "C", "name": "Ванная 🛁", "totp_key": "AAD4EXAJX4E8A8XT"}),
    ];
    let cloud = start(MockCloud::builder().devices(devices));
    let got = fetch(&cloud).unwrap();
    assert_eq!(
        (got[0].name.as_str(), got[0].totp_key.is_none()),
        ("", true)
    );
    assert_eq!(got[0].extra["firmware"], json!({"v": [1, 2]}));
    assert_eq!(
        (got[1].name.as_str(), got[1].totp_key.is_none()),
        ("", true)
    );
    assert_eq!(
        (got[2].name.as_str(), key(&got[2])),
        ("Ванная 🛁", "AAD4EXAJX4E8A8XT")
    );
    assert!(!format!("{got:?}").contains("AAD4EXAJ"));
}

#[test]
fn device_pages_are_retried_but_login_is_not() {
    let cloud =
        start(MockCloud::builder().fault_times(Route::DevicePage(2), Fault::status(502, ""), 1));
    assert_eq!(fetch(&cloud).unwrap().len(), 5);
    assert_eq!(cloud.stats().requests, 5);

    let cloud = start(MockCloud::builder().fault_times(Route::DevicePage(1), Fault::Drop, 2));
    assert_eq!(fetch(&cloud).unwrap().len(), 5);

    let cloud = faulty(Route::DevicePage(1), Fault::status(503, ""));
    let e = fetch_err(&cloud);
    assert_eq!((e.kind(), e.status()), (ErrorKind::Http, Some(503)));
    assert_eq!(cloud.stats().requests, 1 + 3);

    let cloud = faulty(Route::Login, Fault::Drop);
    let e = fetch_err(&cloud);
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert_eq!(cloud.stats().requests, 1);
    let cloud = faulty(Route::Login, Fault::status(502, ""));
    assert_eq!(fetch_err(&cloud).status(), Some(502));
    assert_eq!(cloud.stats().requests, 1);
}

#[test]
fn slow_servers_time_out() {
    for (route, fault) in [
        (Route::Login, Fault::Hang),
        (Route::DevicePage(2), Fault::Hang),
        (
            Route::DevicePage(1),
            Fault::Trickle(Duration::from_millis(200)),
        ),
        (Route::Login, Fault::Delay(Duration::from_secs(3))),
    ] {
        let cloud = faulty(route, fault.clone());
        let started = Instant::now();
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::Timeout, "{fault:?}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{fault:?}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn refused_connections_are_network_errors() {
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{}", closed_port()))
        .build()
        .unwrap();
    let e = client.login("a@b.c", "x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
}

#[test]
fn tls_failures() {
    let cloud = MockCloud::start().unwrap();
    let public_roots = Client::builder()
        .base_url(cloud.base_url())
        .build()
        .unwrap();
    let e = public_roots.login(DEMO_EMAIL, DEMO_PASSWORD).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "unknown CA: {e}");

    let cloud = start(MockCloud::builder().tls(TlsMode::WrongHost));
    assert_eq!(fetch_err(&cloud).kind(), ErrorKind::Tls, "wrong host");

    let cloud = start(MockCloud::builder().tls(TlsMode::Plain));
    let https = cloud.base_url().replace("http://", "https://");
    let client = cloud.client_builder().base_url(https).build().unwrap();
    let e = client.login(DEMO_EMAIL, DEMO_PASSWORD).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "plain http on the TLS port: {e}");
    // And plain http itself works on loopback.
    assert_eq!(fetch(&cloud).unwrap().len(), 5);
}

#[test]
fn bad_arguments() {
    let cloud = MockCloud::start().unwrap();
    let client = cloud.client();
    assert_eq!(
        client.login("", "x").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        client.login("a@b.c", "").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    for bad in ["", "a b", "tok\r\nX: y", &"x".repeat(1025)] {
        assert_eq!(
            Token::new(bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    assert_eq!(cloud.stats().requests, 0);
    for url in ["http://my.hmarex.com", "ftp://x", "https://a@b"] {
        let e = Client::builder().base_url(url).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{url}");
    }
}

/// Sharing one client between threads is exercised (16 threads) in tests/faults.rs.
#[test]
fn client_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Client>();
}

/// How a login with a 1 s connect and a 3 s request timeout fails, and when.
fn timed_login(builder: hmx::ClientBuilder) -> (Error, Duration) {
    let client = builder
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    let e = client.login(DEMO_EMAIL, DEMO_PASSWORD).unwrap_err();
    (e, started.elapsed())
}

#[test]
fn connect_and_request_timeouts_are_separate() {
    // A server that takes the TCP connection and never says a word: the TLS
    // handshake cannot finish, so the connect timeout (1 s) ends it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", silent.local_addr().unwrap());
    let (e, took) = timed_login(Client::builder().base_url(url));
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        took < Duration::from_millis(2500),
        "connect bound not kept: {took:?}"
    );

    // A server that takes the request and never answers: the request timeout
    // (3 s), not the connect timeout, ends it.
    let cloud = faulty(Route::Login, Fault::Hang);
    let (e, took) = timed_login(cloud.client_builder());
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        (Duration::from_millis(2900)..Duration::from_secs(5)).contains(&took),
        "request bound not kept: {took:?}"
    );
}

#[test]
fn progress_is_told_after_every_page() {
    let cloud = MockCloud::start().unwrap();
    let client = cloud.client();
    let token = client.login(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
    let mut seen = Vec::new();
    let devices = client
        .list_devices_with_progress(&token, |pages, devices| seen.push((pages, devices)))
        .unwrap();
    assert_eq!(devices.len(), 5);
    assert_eq!(seen, [(1, 2), (2, 4), (3, 5)]);
}

/// examples/keys.rs, the Rust API example, prints what the C example prints.
#[test]
fn the_rust_api_example_lists_every_key() {
    let cloud = MockCloud::start().unwrap();
    let out = Command::new(common::example("keys"))
        .env("HMX_BASE_URL", cloud.base_url())
        .env("HMX_CA_FILE", cloud.ca_file())
        .env("HMX_EMAIL", DEMO_EMAIL)
        .env("HMX_PASSWORD", DEMO_PASSWORD)
        .output()
        .unwrap();
    common::procs::assert_exit(&out, 0);

    assert_eq!(common::procs::stdout(&out), common::listing(&cloud));
}
