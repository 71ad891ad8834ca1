//! The Rust client against the stand-in cloud: every behaviour the README promises.
#![cfg(feature = "test-util")]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use hmx::testing::{DEMO_EMAIL, DEMO_PASSWORD, Fault, MockCloud, NextLink, Route, TlsMode};
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
fn foreign_next_link_is_refused_and_the_other_host_hears_nothing() {
    let other = MockCloud::start().unwrap();
    // Same host, other port; then another host name for the same port.
    let port = other.base_url().rsplit(':').next().unwrap().to_string();
    for origin in [
        other.base_url().to_string(),
        format!("https://localhost:{port}"),
    ] {
        let cloud = start(MockCloud::builder().next_link(NextLink::Foreign(origin)));
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert!(e.to_string().contains("another origin"), "{e}");
    }
    assert_eq!(other.stats().connections, 0);
}

#[test]
fn next_cycle_and_too_many_pages() {
    let cloud = start(MockCloud::builder().next_link(NextLink::Cycle));
    let e = fetch_err(&cloud);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_eq!(cloud.stats().requests, 4);

    let cloud = start(
        MockCloud::builder()
            .devices(hmx::testing::demo_devices(1001))
            .page_size(1),
    );
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
        let cloud = start(MockCloud::builder().fault(Route::Login, Fault::status(status, body)));
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
    let cloud = start(MockCloud::builder().fault(Route::Login, Fault::status(400, body)));
    let e = fetch_err(&cloud);
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(DEMO_PASSWORD), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}

#[test]
fn rejected_token_is_auth_and_never_shown() {
    let token = "9573e6a8e24b025fafbaf81dc2eccbc09b94d187";
    for status in [401, 403] {
        let body = json!({"detail": format!("Token {token} expired.")}).to_string();
        let cloud =
            start(MockCloud::builder().fault(Route::AnyDevicePage, Fault::status(status, body)));
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
        let cloud = start(MockCloud::builder().fault(route, limited.clone()));
        let e = fetch_err(&cloud);
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    }
    let cloud = start(MockCloud::builder().fault(Route::Login, Fault::status(429, "")));
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
        let cloud =
            start(MockCloud::builder().fault(route, Fault::status(status, "<html>boom</html>")));
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
        let cloud = start(MockCloud::builder().fault(route, Fault::Redirect(to)));
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
        let cloud = start(MockCloud::builder().fault(route, Fault::Body(body)));
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

    let cloud = start(MockCloud::builder().fault(Route::DevicePage(1), Fault::status(503, "")));
    let e = fetch_err(&cloud);
    assert_eq!((e.kind(), e.status()), (ErrorKind::Http, Some(503)));
    assert_eq!(cloud.stats().requests, 1 + 3);

    let cloud = start(MockCloud::builder().fault(Route::Login, Fault::Drop));
    let e = fetch_err(&cloud);
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert_eq!(cloud.stats().requests, 1);
    let cloud = start(MockCloud::builder().fault(Route::Login, Fault::status(502, "")));
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
        let cloud = start(MockCloud::builder().fault(route, fault.clone()));
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
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
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
