//! Getting the keys when the cloud or the network misbehaves, from Rust and C.
//!
//! The fault matrix: every fault against the stand-in, through the Rust API and
//! through the C ABI (natively, and under valgrind). Each ends in its documented
//! outcome within the configured timeout + 2 s, and a server the token must
//! not reach hears nothing.
#![cfg(feature = "test-util")]

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::net::closed_port;
use common::procs::{assert_exit, assert_exit_for};
use hmx::ErrorKind;
use hmx::testing::{
    DEMO_EMAIL, DEMO_PASSWORD, Fault, ListChange, MockCloud, MockCloudBuilder, NextLink, Route,
    TlsMode, demo_devices,
};
use serde_json::json;

/// Where a case's client points, and what must stay silent.
struct Setup {
    base_url: String,
    /// The stand-in, kept alive for the run; its CA is trusted unless `public_roots`.
    cloud: Option<MockCloud>,
    public_roots: bool,
    /// A server that must receive nothing.
    witness: Option<MockCloud>,
    /// Keeps a silent listener open for the run.
    _listener: Option<TcpListener>,
}

fn cloud(builder: MockCloudBuilder) -> Setup {
    let cloud = builder.start().unwrap();
    Setup {
        base_url: cloud.base_url().to_string(),
        cloud: Some(cloud),
        public_roots: false,
        witness: None,
        _listener: None,
    }
}

fn with_witness(make: impl Fn(&MockCloud) -> MockCloudBuilder) -> Setup {
    let witness = MockCloud::start().unwrap();
    let mut setup = cloud(make(&witness));
    setup.witness = Some(witness);
    setup
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    Devices(usize),
    Fails(ErrorKind),
}

struct Case {
    name: &'static str,
    setup: Box<dyn Fn() -> Setup + Send + Sync>,
    want: Want,
    timeout: Duration,
}

fn case(name: &'static str, want: Want, setup: impl Fn() -> Setup + Send + Sync + 'static) -> Case {
    Case {
        name,
        setup: Box::new(setup),
        want,
        timeout: Duration::from_secs(5),
    }
}

fn fault(route: Route, fault: Fault) -> impl Fn() -> Setup + Send + Sync {
    move || cloud(MockCloud::builder().fault(route, fault.clone()))
}

fn body(route: Route, bytes: Vec<u8>) -> impl Fn() -> Setup + Send + Sync {
    fault(route, Fault::Body(bytes))
}

fn status_name(want: Want) -> &'static str {
    match want {
        Want::Devices(_) => "HMX_STATUS_OK",
        Want::Fails(kind) => match kind {
            ErrorKind::InvalidArgument => "HMX_STATUS_INVALID_ARGUMENT",
            ErrorKind::Auth => "HMX_STATUS_AUTH",
            ErrorKind::RateLimited => "HMX_STATUS_RATE_LIMITED",
            ErrorKind::Network => "HMX_STATUS_NETWORK",
            ErrorKind::Timeout => "HMX_STATUS_TIMEOUT",
            ErrorKind::Tls => "HMX_STATUS_TLS",
            ErrorKind::Http => "HMX_STATUS_HTTP",
            ErrorKind::Protocol => "HMX_STATUS_PROTOCOL",
            _ => "HMX_STATUS_NOT_FOUND",
        },
    }
}

fn drf(status: u16, body: serde_json::Value) -> Fault {
    Fault::status(status, body.to_string())
}

/// DRF refusing the token on device page `page`, in its words: `Auth`.
fn token_refused(name: &'static str, page: usize, status: u16, detail: &str) -> Case {
    let refusal = drf(status, json!({ "detail": detail }));
    case(
        name,
        Fails(ErrorKind::Auth),
        fault(Route::DevicePage(page), refusal),
    )
}

fn run(case: &Case) {
    let bound = case.timeout + Duration::from_secs(2);
    let check_witness = |setup: &Setup| {
        if let Some(w) = &setup.witness {
            assert_eq!(
                w.stats().connections,
                0,
                "{}: the witness was contacted",
                case.name
            );
        }
    };

    // Rust.
    let setup = (case.setup)();
    let mut builder = hmx::Client::builder()
        .base_url(&setup.base_url)
        .timeout(case.timeout);
    if let (Some(c), false) = (&setup.cloud, setup.public_roots) {
        builder = builder.root_ca_pem(c.ca_pem());
    }
    let started = Instant::now();
    let got = builder
        .build()
        .unwrap()
        .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD);
    let took = started.elapsed();
    let got = match &got {
        Ok(devices) => Want::Devices(devices.len()),
        Err(e) => {
            assert!(!e.to_string().contains(DEMO_PASSWORD), "{}: {e}", case.name);
            Want::Fails(e.kind())
        }
    };
    assert_eq!(got, case.want, "{} (Rust): {:?}", case.name, got);
    assert!(took <= bound, "{} (Rust) took {took:?}", case.name);
    check_witness(&setup);

    // C, natively: the same outcome within the same bound.
    let c_env = |setup: &Setup| {
        let mut env = vec![("HMX_BASE_URL", setup.base_url.clone())];
        if let (Some(c), false) = (&setup.cloud, setup.public_roots) {
            env.push(("HMX_CA_FILE", c.ca_file().to_str().unwrap().to_string()));
        }
        env
    };
    let timeout_ms = case.timeout.as_millis().to_string();
    let program = common::c_dir().join("test_hmx");
    let setup = (case.setup)();
    let started = Instant::now();
    let output = Command::new(program)
        .args(["status", status_name(case.want), &timeout_ms])
        .env_remove("HMX_CA_FILE")
        .envs(c_env(&setup))
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_exit_for(&format!("{} (C)", case.name), &output, 0);
    assert!(took <= bound, "{} (C) took {took:?}", case.name);
    check_witness(&setup);

    // C under valgrind: no memory error, no definite leak. valgrind slows TLS
    // down (a handshake can take many seconds on a loaded machine), so only the
    // cases that must time out keep their short timeout; 0 is test_hmx's
    // generous default.
    let setup = (case.setup)();
    let slow_ms = if case.want == Want::Fails(ErrorKind::Timeout) {
        timeout_ms.clone()
    } else {
        "0".to_string()
    };
    let env = c_env(&setup);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = common::valgrind(
        "test_hmx",
        &["status", status_name(case.want), &slow_ms],
        &env,
    );
    assert_exit_for(&format!("{} (C, valgrind)", case.name), &output, 0);
    check_witness(&setup);
}

fn run_all(cases: Vec<Case>) {
    for c in &cases {
        run(c);
    }
}

use ErrorKind::*;
use Want::{Devices, Fails};

#[test]
fn statuses() {
    run_all(vec![
        case(
            "a CDN challenge page on the login (403, cf-mitigated)",
            Fails(Http),
            fault(
                Route::Login,
                Fault::Respond {
                    status: 403,
                    headers: vec![
                        ("cf-mitigated".into(), "challenge".into()),
                        ("Content-Type".into(), "text/html".into()),
                    ],
                    body: b"<html>Just a moment...</html>".to_vec(),
                },
            ),
        ),
        case(
            "a refusal echoing the password past 272 characters",
            Fails(Auth),
            fault(
                Route::Login,
                Fault::EchoSecret {
                    status: 400,
                    padding: 272,
                },
            ),
        ),
        case(
            "wrong password (DRF 400)",
            Fails(Auth),
            fault(
                Route::Login,
                drf(
                    400,
                    json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
                ),
            ),
        ),
        token_refused("expired token (401)", 2, 401, "Invalid token."),
        token_refused("403 on the device list", 1, 403, "Forbidden."),
        case(
            "429 with Retry-After",
            Fails(RateLimited),
            fault(
                Route::Login,
                Fault::Respond {
                    status: 429,
                    headers: vec![("Retry-After".into(), "60".into())],
                    body: Vec::new(),
                },
            ),
        ),
        case(
            "429 without Retry-After",
            Fails(RateLimited),
            fault(Route::DevicePage(1), Fault::status(429, "")),
        ),
        case(
            "500 with an HTML body",
            Fails(Http),
            fault(
                Route::DevicePage(1),
                Fault::status(500, "<html><body>Server Error</body></html>"),
            ),
        ),
        case("502 then success (retried)", Devices(5), || {
            cloud(MockCloud::builder().fault_times(Route::DevicePage(2), Fault::status(502, ""), 1))
        }),
        case("503 three times (gives up)", Fails(Http), || {
            cloud(MockCloud::builder().fault_times(Route::DevicePage(1), Fault::status(503, ""), 3))
        }),
        case(
            "404",
            Fails(Http),
            fault(
                Route::Login,
                Fault::status(404, r#"{"detail":"Not found."}"#),
            ),
        ),
        case("302 to another origin", Fails(Http), || {
            with_witness(|w| {
                MockCloud::builder().fault(
                    Route::DevicePage(1),
                    Fault::Redirect(format!("{}/api/device/", w.base_url())),
                )
            })
        }),
    ]);
}

#[test]
fn connections() {
    let mut trickle = case(
        "one byte a second",
        Fails(Timeout),
        fault(Route::DevicePage(1), Fault::Trickle(Duration::from_secs(1))),
    );
    trickle.timeout = Duration::from_secs(2);
    let mut hang = case(
        "accepts the request, never answers",
        Fails(Timeout),
        fault(Route::Login, Fault::Hang),
    );
    hang.timeout = Duration::from_millis(1500);
    let mut silent = case("accepts TCP, never speaks TLS", Fails(Timeout), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("https://{}", listener.local_addr().unwrap());
        Setup {
            base_url,
            cloud: None,
            public_roots: true,
            witness: None,
            _listener: Some(listener),
        }
    });
    silent.timeout = Duration::from_millis(1500);
    run_all(vec![
        case("connection refused", Fails(Network), || Setup {
            base_url: format!("https://127.0.0.1:{}", closed_port()),
            cloud: None,
            public_roots: true,
            witness: None,
            _listener: None,
        }),
        case(
            "dropped mid-body (login)",
            Fails(Network),
            fault(Route::Login, Fault::DropMidBody),
        ),
        case(
            "dropped mid-body (every page try)",
            Fails(Network),
            fault(Route::DevicePage(1), Fault::DropMidBody),
        ),
        case("dropped once, then fine (retried)", Devices(5), || {
            cloud(MockCloud::builder().fault_times(Route::DevicePage(3), Fault::DropMidBody, 1))
        }),
        hang,
        silent,
        trickle,
        case("unknown CA", Fails(Tls), || {
            let mut setup = cloud(MockCloud::builder());
            setup.public_roots = true;
            setup
        }),
        case("certificate for another host", Fails(Tls), || {
            cloud(MockCloud::builder().tls(TlsMode::WrongHost))
        }),
        case("plain HTTP on the TLS port", Fails(Tls), || {
            let mut setup = cloud(MockCloud::builder().tls(TlsMode::Plain));
            setup.base_url = setup.base_url.replace("http://", "https://");
            setup
        }),
    ]);
}

#[test]
fn bodies() {
    let mut big_name = demo_devices(3);
    big_name[1]["name"] = json!("Ж".repeat(500_000));
    run_all(vec![
        case(
            "empty body",
            Fails(Protocol),
            body(Route::DevicePage(1), Vec::new()),
        ),
        case(
            "not JSON",
            Fails(Protocol),
            body(Route::Login, b"<html>hello</html>".to_vec()),
        ),
        case(
            "a byte order mark before the JSON",
            Devices(5),
            fault(Route::AnyDevicePage, Fault::ByteOrderMark),
        ),
        case(
            "a gzip body hmx did not ask for",
            Fails(Protocol),
            fault(
                Route::DevicePage(1),
                Fault::Respond {
                    status: 200,
                    headers: vec![("Content-Encoding".into(), "gzip".into())],
                    body: vec![0x1f, 0x8b, 8, 0],
                },
            ),
        ),
        case(
            "JSON of the wrong shape",
            Fails(Protocol),
            body(Route::DevicePage(1), br#"{"devices":[]}"#.to_vec()),
        ),
        case(
            "results not a list",
            Fails(Protocol),
            body(
                Route::DevicePage(1),
                br#"{"next":null,"results":"none"}"#.to_vec(),
            ),
        ),
        case(
            "a device without sn",
            Fails(Protocol),
            body(
                Route::DevicePage(1),
                br#"{"next":null,"results":[{"id":1,"name":"x"}]}"#.to_vec(),
            ),
        ),
        case(
            "5 MiB body",
            Fails(Protocol),
            body(Route::DevicePage(1), vec![b' '; 5 << 20]),
        ),
        case(
            "10,000 nested [",
            Fails(Protocol),
            body(Route::DevicePage(1), vec![b'['; 10_000]),
        ),
        case(
            "invalid UTF-8",
            Fails(Protocol),
            body(
                Route::DevicePage(1),
                b"{\"next\":null,\"results\":[{\"id\":1,\"sn\":\"\xc3\x28\"}]}".to_vec(),
            ),
        ),
        case("10,000 devices", Devices(10_000), || {
            cloud(common::paged(10_000, 10_000))
        }),
        case("a 1 MB device name", Devices(3), move || {
            cloud(MockCloud::builder().devices(big_name.clone()))
        }),
    ]);
}

#[test]
fn pagination() {
    run_all(vec![
        case("absolute next", Devices(5), || {
            cloud(MockCloud::builder().next_link(NextLink::Absolute))
        }),
        case("relative next", Devices(5), || {
            cloud(MockCloud::builder().next_link(NextLink::Relative))
        }),
        // The base host on another port (a proxy that drops or rewrites it):
        // followed to the base URL's port, and the server there hears nothing.
        case("next to another port of the base host", Devices(5), || {
            with_witness(|w| {
                MockCloud::builder().next_link(NextLink::Foreign(w.base_url().to_string()))
            })
        }),
        case(
            "next in plain http (DRF behind a TLS proxy)",
            Devices(5),
            || cloud(MockCloud::builder().next_link(NextLink::PlainHttp)),
        ),
        case("list changes while read, then settles", Devices(4), || {
            cloud(common::paged(7, 3).change_after_page(1, ListChange::RemoveFirst(3), 1))
        }),
        case("list changes on every read", Fails(Protocol), || {
            cloud(MockCloud::builder().change_after_page(1, ListChange::AddFirst, 1000))
        }),
        case("next to another host name", Fails(Protocol), || {
            with_witness(|w| {
                MockCloud::builder().next_link(NextLink::Foreign(
                    w.base_url().replace("127.0.0.1", "localhost"),
                ))
            })
        }),
        case("next cycle", Fails(Protocol), || {
            cloud(MockCloud::builder().next_link(NextLink::Cycle))
        }),
        case("1001 pages", Fails(Protocol), || {
            cloud(common::paged(1001, 1))
        }),
    ]);
}

#[test]
fn big_names_arrive_whole() {
    let mut devices = demo_devices(2);
    let name = "Ж".repeat(500_000);
    devices[1]["name"] = json!(name);
    let cloud = MockCloud::builder().devices(devices).start().unwrap();
    let got = cloud
        .client()
        .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
        .unwrap();
    assert_eq!(got[1].name, name);
}

#[test]
fn sixteen_threads_one_client() {
    let cloud = common::paged(30, 4).start().unwrap();
    let client = cloud.client();
    let expected = client.fetch_devices(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..16)
            .map(|_| s.spawn(|| client.fetch_devices(DEMO_EMAIL, DEMO_PASSWORD).unwrap()))
            .collect();
        for r in runs {
            assert!(r.join().unwrap() == expected);
        }
    });
    let ca = cloud.ca_file().to_str().unwrap();
    let output = common::valgrind(
        "test_hmx",
        &["threads", "30", "16"],
        &[("HMX_BASE_URL", cloud.base_url()), ("HMX_CA_FILE", ca)],
    );
    assert_exit(&output, 0);
}
