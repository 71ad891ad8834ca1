//! Reaching the cloud through a proxy or with the system's trust store.
//!
//! The networks people have: an HTTP CONNECT proxy (given, or from the
//! environment) and the system's trust store, from Rust, from C and with the
//! `hmx` command. In a test binary of its own, since these tests change
//! environment variables; each holds `ENV`, also while it starts a program,
//! which inherits them.
#![cfg(feature = "test-util")]

mod common;

use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard};

use common::net::{by_name_url, cloud_port, routing_proxy};
use common::procs::assert_exit;
use common::socks::Socks;
use hmx::testing::{CLOUD_HOST, DEMO_EMAIL, DEMO_PASSWORD, MockCloud, MockProxy, TlsMode};
use hmx::{Client, ClientBuilder, ErrorKind, Roots};

static ENV: Mutex<()> = Mutex::new(());

const PROXY_VARS: [&str; 8] = [
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// Holds the environment for one test, with the given variables set and
/// every other proxy or trust-store variable removed.
fn env(vars: &[(&str, &str)]) -> MutexGuard<'static, ()> {
    let guard = ENV.lock().unwrap_or_else(|p| p.into_inner());
    for name in PROXY_VARS.iter().chain(&["SSL_CERT_FILE", "SSL_CERT_DIR"]) {
        // SAFETY: every test of this binary holds ENV while it reads or writes the environment.
        unsafe { std::env::remove_var(name) };
    }
    for (name, value) in vars {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
    guard
}

/// A client for the stand-in by the name only a routing proxy can reach.
fn by_name(cloud: &MockCloud) -> ClientBuilder {
    Client::builder()
        .base_url(by_name_url(cloud))
        .root_ca_pem(cloud.ca_pem())
}

fn with_credentials(url: &str, user: &str, password: &str) -> String {
    url.replace("http://", &format!("http://{user}:{password}@"))
}

#[test]
fn a_fetch_through_the_proxy_shows_it_no_secret() {
    let _env = env(&[]);
    let cloud = MockCloud::start().unwrap();
    let proxy = routing_proxy(MockProxy::builder().basic_auth("factory", "proxy-s3cret"));
    let client = by_name(&cloud)
        .proxy(with_credentials(&proxy.url(), "factory", "proxy-s3cret"))
        .build()
        .unwrap();
    let devices = client.fetch_devices(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
    assert_eq!(devices.len(), 5);
    assert_eq!(
        proxy.stats().tunnels,
        1,
        "login and every page in one tunnel"
    );
    assert_eq!(cloud.stats().connections, 1);

    let recorded = proxy.recorded();
    let seen = String::from_utf8_lossy(&recorded);
    assert!(seen.starts_with(&format!(
        "CONNECT {CLOUD_HOST}:{} HTTP/1.1\r\n",
        cloud_port(&cloud)
    )));
    let mut secrets = vec![DEMO_PASSWORD.to_string(), DEMO_EMAIL.to_string()];
    secrets.extend(cloud.tokens());
    secrets.extend(
        devices
            .iter()
            .map(|d| d.totp_key.as_ref().unwrap().as_str().to_string()),
    );
    for secret in &secrets {
        let found = recorded
            .windows(secret.len())
            .any(|w| w == secret.as_bytes());
        assert!(!found, "the proxy saw {secret:?}");
    }
    assert!(recorded.len() > 2000, "the tunnel carried the TLS records");
    // The client's Debug names the proxy, never its credentials.
    assert!(!format!("{client:?}").contains("proxy-s3cret"));
}

#[test]
fn a_refusing_or_absent_proxy_is_named() {
    let _env = env(&[]);
    let cloud = MockCloud::start().unwrap();
    let guarded = routing_proxy(MockProxy::builder().basic_auth("factory", "right"));
    let forbidding = MockProxy::builder().refuse(403).start().unwrap();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for (proxy_url, kind, status) in [
        (guarded.url(), ErrorKind::Http, Some(407)),
        (
            with_credentials(&guarded.url(), "factory", "wrong-pw"),
            ErrorKind::Http,
            Some(407),
        ),
        (forbidding.url(), ErrorKind::Http, Some(403)),
        (
            with_credentials(&closed, "factory", "closed-pw"),
            ErrorKind::Network,
            None,
        ),
    ] {
        let builder = by_name(&cloud).proxy(&proxy_url);
        assert!(!format!("{builder:?}").contains("-pw"));
        let e = builder
            .build()
            .unwrap()
            .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
            .unwrap_err();
        assert_eq!((e.kind(), e.status()), (kind, status), "{proxy_url}: {e}");
        let shown = format!("{e} {e:?}");
        assert!(shown.contains("proxy 127.0.0.1:"), "{shown}");
        assert!(
            !shown.contains("-pw") && !shown.contains("factory:"),
            "{shown}"
        );
    }
    assert_eq!(guarded.stats().refused, 2);
    assert_eq!(forbidding.stats().refused, 1);
    assert_eq!(cloud.stats().connections, 0, "the cloud heard nothing");
}

#[test]
fn plain_http_and_loopback_origins() {
    let proxy = routing_proxy(MockProxy::builder());
    let _env = env(&[("HTTPS_PROXY", &proxy.url()), ("ALL_PROXY", &proxy.url())]);
    // A plain-http base URL (loopback only) never goes through a proxy, not
    // even one given explicitly: the proxy would read everything.
    let plain = MockCloud::builder().tls(TlsMode::Plain).start().unwrap();
    let client = plain.client_builder().proxy(proxy.url()).build().unwrap();
    assert_eq!(
        client
            .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
            .unwrap()
            .len(),
        5
    );
    // The environment's proxy is for the network, not for this machine.
    let cloud = MockCloud::start().unwrap();
    assert_eq!(
        cloud
            .client()
            .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
            .unwrap()
            .len(),
        5
    );
    assert_eq!(proxy.stats().tunnels, 0);
    // An explicit proxy does take an https loopback origin.
    let client = cloud.client_builder().proxy(proxy.url()).build().unwrap();
    assert_eq!(
        client
            .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
            .unwrap()
            .len(),
        5
    );
    assert_eq!(proxy.stats().tunnels, 1);
}

#[test]
fn the_environment_decides_unless_told() {
    let cloud = MockCloud::start().unwrap();
    let proxy = routing_proxy(MockProxy::builder());
    let url = proxy.url();
    let fetch = |b: ClientBuilder| b.build().unwrap().fetch_devices(DEMO_EMAIL, DEMO_PASSWORD);
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        let _env = env(&[(var, &url)]);
        assert_eq!(fetch(by_name(&cloud)).unwrap().len(), 5, "{var}");
    }
    assert_eq!(proxy.stats().tunnels, 4);
    // `host:port` alone means an http:// proxy, as it does for curl.
    let bare = url.trim_start_matches("http://").to_string();
    {
        let _env = env(&[("HTTPS_PROXY", &bare)]);
        assert_eq!(fetch(by_name(&cloud)).unwrap().len(), 5);
    }
    // NO_PROXY, no_proxy() and HTTP_PROXY (for http URLs only) leave the proxy out:
    // then the name resolves nowhere, so the fetch fails without reaching anyone.
    for (vars, builder) in [
        (
            vec![
                ("HTTPS_PROXY", url.as_str()),
                ("NO_PROXY", "example.org,.hmx.test"),
            ],
            by_name(&cloud),
        ),
        (
            vec![("https_proxy", url.as_str()), ("no_proxy", "*")],
            by_name(&cloud),
        ),
        (
            vec![("HTTPS_PROXY", url.as_str())],
            by_name(&cloud).no_proxy(),
        ),
        (vec![("HTTP_PROXY", url.as_str())], by_name(&cloud)),
    ] {
        let _env = env(&vars);
        let e = fetch(builder).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Network | ErrorKind::Timeout),
            "{vars:?}: {e}"
        );
    }
    assert_eq!(proxy.stats().tunnels, 5);
    // A proxy hmx cannot use is a clear error, naming where it came from, never its password.
    let _env = env(&[("HTTPS_PROXY", "ftp://u:socks-pw@127.0.0.1:1080")]);
    let e = by_name(&cloud).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.to_string().contains("HTTPS_PROXY") && !e.to_string().contains("socks-pw"),
        "{e}"
    );
}

#[test]
fn the_system_store_is_trusted_only_when_chosen() {
    let cloud = MockCloud::start().unwrap();
    let other = MockCloud::start().unwrap();
    let ca_file = cloud.ca_file().to_str().unwrap().to_string();
    let _env = env(&[("SSL_CERT_FILE", &ca_file)]);
    let fetch = |roots: Roots| {
        Client::builder()
            .base_url(cloud.base_url())
            .roots(roots)
            .build()
            .unwrap()
            .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
    };
    assert_eq!(fetch(Roots::System).unwrap().len(), 5);
    assert_eq!(fetch(Roots::Bundled).unwrap_err().kind(), ErrorKind::Tls);
    let other_ca = other.ca_pem().as_bytes().to_vec();
    assert_eq!(
        fetch(Roots::Pem(other_ca)).unwrap_err().kind(),
        ErrorKind::Tls
    );
    // And the default is the bundled roots.
    let e = Client::builder()
        .base_url(cloud.base_url())
        .build()
        .unwrap()
        .login(DEMO_EMAIL, DEMO_PASSWORD)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls);
    // A store without a usable certificate is refused when the client is made.
    let empty = std::env::temp_dir().join(format!("hmx-empty-{}.pem", std::process::id()));
    std::fs::write(&empty, "").unwrap();
    // SAFETY: this test holds ENV.
    unsafe { std::env::set_var("SSL_CERT_FILE", &empty) };
    let e = Client::builder().roots(Roots::System).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    std::fs::remove_file(empty).unwrap();
}

/// Proxies hmx cannot use, whichever scheme support it gains.
const UNUSABLE_PROXY: &str = "ftp://proxy.invalid:21";

#[test]
fn an_unusable_proxy_in_the_environment_is_an_error_never_a_panic() {
    for variable in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        let _env = env(&[(variable, UNUSABLE_PROXY)]);
        // Rust: the default client is made, and every call says why it cannot be used.
        let client = Client::new();
        for e in [
            client.login(DEMO_EMAIL, DEMO_PASSWORD).unwrap_err(),
            client.fetch_devices(DEMO_EMAIL, DEMO_PASSWORD).unwrap_err(),
            Client::default()
                .login(DEMO_EMAIL, DEMO_PASSWORD)
                .unwrap_err(),
            Client::builder().build().unwrap_err(),
        ] {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{variable}: {e}");
            assert!(e.message().contains(variable), "{variable}: {e}");
        }
    }
    // C, under valgrind: the NULL client is the default one.
    let _env = env(&[("HTTPS_PROXY", UNUSABLE_PROXY)]);
    let output = common::valgrind("test_hmx", &["badenv", "HTTPS_PROXY"], &[]);
    assert_exit(&output, 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn proxy_and_system_roots_from_c() {
    let _env = env(&[]);
    let cloud = MockCloud::start().unwrap();
    let proxy = routing_proxy(MockProxy::builder());
    let output = common::valgrind(
        "test_hmx",
        &["network", "5"],
        &[
            ("HMX_BASE_URL", &by_name_url(&cloud)),
            ("HMX_PROXY", &proxy.url()),
            ("SSL_CERT_FILE", cloud.ca_file().to_str().unwrap()),
        ],
    );
    assert_exit(&output, 0);
    assert_eq!(proxy.stats().tunnels, 1);
}

#[cfg(feature = "cli")]
#[test]
fn keys_through_a_proxy_or_the_system_store() {
    use common::procs::{hmx, stdout};
    let _env = env(&[]);
    let cloud = MockCloud::start().unwrap();
    let proxy = routing_proxy(MockProxy::builder());
    let named = by_name_url(&cloud);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        hmx()
            .env("HMX_PASSWORD", DEMO_PASSWORD)
            .envs(env.iter().copied())
            .args(["keys", DEMO_EMAIL])
            .args(args)
            .output()
            .unwrap()
    };
    let ca = cloud.ca_file().to_str().unwrap();
    let out = run(
        &[
            "--base-url",
            &named,
            "--ca-file",
            ca,
            "--proxy",
            &proxy.url(),
        ],
        &[],
    );
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 6);
    let out = run(
        &["--base-url", &named, "--ca-file", ca],
        &[("HTTPS_PROXY", &proxy.url())],
    );
    assert_exit(&out, 0);
    assert_eq!(proxy.stats().tunnels, 2);
    // --no-proxy: the name resolves nowhere, so nothing is reached (exit 4).
    let out = run(
        &["--base-url", &named, "--ca-file", ca, "--no-proxy"],
        &[("HTTPS_PROXY", &proxy.url())],
    );
    assert_exit(&out, 4);
    assert_eq!(proxy.stats().tunnels, 2);
    // The system store, here a file named by SSL_CERT_FILE, instead of the bundled roots.
    let out = run(
        &["--base-url", cloud.base_url(), "--system-roots"],
        &[("SSL_CERT_FILE", ca)],
    );
    assert_exit(&out, 0);
    let out = run(&["--base-url", cloud.base_url()], &[("SSL_CERT_FILE", ca)]);
    assert_exit(&out, 4);
}

/// The password, the email, every token the cloud issued and every key.
fn secrets_of(cloud: &MockCloud, devices: &[hmx::Device]) -> Vec<String> {
    let mut secrets = vec![DEMO_PASSWORD.to_string(), DEMO_EMAIL.to_string()];
    secrets.extend(cloud.tokens());
    secrets.extend(
        devices
            .iter()
            .filter_map(|d| d.totp_key.as_ref())
            .map(|k| k.as_str().to_string()),
    );
    secrets
}

fn holds_any(recorded: &[u8], secrets: &[String]) -> Option<String> {
    secrets
        .iter()
        .find(|s| recorded.windows(s.len()).any(|w| w == s.as_bytes()))
        .cloned()
}

#[test]
fn socks_proxies_through_a_real_server() {
    let cloud = MockCloud::start().unwrap();
    let socks = Socks::start(None);
    // Given (each SOCKS flavour that names the target or resolves it here), and from
    // the environment, as curl reads ALL_PROXY and HTTPS_PROXY.
    for (scheme, variable) in [
        ("socks5h", None),
        ("socks5h", Some("ALL_PROXY")),
        ("socks5h", Some("all_proxy")),
        ("socks5h", Some("HTTPS_PROXY")),
    ] {
        let url = socks.url(scheme, None);
        let before = socks.tunnels();
        let _env = match variable {
            Some(name) => env(&[(name, &url)]),
            None => env(&[]),
        };
        let builder = by_name(&cloud);
        let builder = if variable.is_some() {
            builder
        } else {
            builder.proxy(&url)
        };
        let client = builder.build().unwrap();
        let devices = client.fetch_devices(DEMO_EMAIL, DEMO_PASSWORD).unwrap();
        assert_eq!(devices.len(), 5, "{scheme} {variable:?}");
        assert_eq!(
            socks.tunnels(),
            before + 1,
            "{scheme} {variable:?}: one tunnel"
        );
        assert!(format!("{client:?}").contains("SOCKS5"), "{client:?}");
        let recorded = socks.recorded();
        assert!(recorded.len() > 2000, "the tunnel carried the TLS records");
        assert_eq!(holds_any(&recorded, &secrets_of(&cloud, &devices)), None);
    }
    // socks5 (and its shorthand socks) resolve the name here and hand the
    // server an address: for a name only the server's side knows, that
    // fails here, naming the proxy; for an address it goes through.
    let _env = env(&[]);
    for scheme in ["socks5", "socks"] {
        let e = by_name(&cloud)
            .proxy(socks.url(scheme, None))
            .build()
            .unwrap()
            .login(DEMO_EMAIL, DEMO_PASSWORD)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Network, "{e}");
        assert!(e.message().contains("SOCKS5 proxy"), "{e}");
        let before = socks.tunnels();
        let devices = cloud
            .client_builder()
            .proxy(socks.url(scheme, None))
            .build()
            .unwrap()
            .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
            .unwrap();
        assert_eq!(devices.len(), 5);
        assert_eq!(
            socks.tunnels(),
            before + 1,
            "{scheme}: an explicit proxy serves loopback too"
        );
    }
}

#[test]
fn socks_credentials_refusals_and_absence_are_named() {
    let _env = env(&[]);
    let cloud = MockCloud::start().unwrap();
    let socks = Socks::start(Some(("tunnel", "socks-s3cret")));
    let fetch = |url: &str| {
        by_name(&cloud)
            .proxy(url)
            .build()
            .unwrap()
            .fetch_devices(DEMO_EMAIL, DEMO_PASSWORD)
    };
    let devices = fetch(&socks.url("socks5h", Some(("tunnel", "socks-s3cret")))).unwrap();
    assert_eq!(devices.len(), 5);
    assert_eq!(
        holds_any(&socks.recorded(), &secrets_of(&cloud, &devices)),
        None
    );
    // The wrong password, no password, a server that is not there: Network, naming the proxy.
    let closed = format!("socks5h://127.0.0.1:{}", common::net::closed_port());
    for url in [
        socks.url("socks5h", Some(("tunnel", "wrong-pw"))),
        socks.url("socks5h", None),
        closed,
    ] {
        let e = fetch(&url).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Network, "{url}: {e}");
        assert!(
            e.message().contains("SOCKS5h proxy 127.0.0.1:"),
            "{url}: {e}"
        );
        assert!(
            !e.message().contains("wrong-pw") && !e.message().contains("s3cret"),
            "{e}"
        );
    }
}

#[test]
fn socks_from_c_and_the_command() {
    let cloud = MockCloud::start().unwrap();
    let socks = Socks::start(None);
    let url = socks.url("socks5h", None);
    // C, under valgrind: the builder's proxy, a fetch of the 5 devices.
    {
        let _env = env(&[]);
        let output = common::valgrind(
            "test_hmx",
            &["network", "5"],
            &[
                ("HMX_BASE_URL", &by_name_url(&cloud)),
                ("HMX_PROXY", &url),
                ("SSL_CERT_FILE", cloud.ca_file().to_str().unwrap()),
            ],
        );
        assert_exit(&output, 0);
        assert!(socks.tunnels() >= 1);
    }
    // C, under valgrind, with the proxy from ALL_PROXY: a client built with no proxy setting.
    {
        let _env = env(&[("ALL_PROXY", &url)]);
        let before = socks.tunnels();
        let output = common::valgrind(
            "test_hmx",
            &["status", "HMX_STATUS_OK"],
            &[
                ("HMX_BASE_URL", &by_name_url(&cloud)),
                ("HMX_CA_FILE", cloud.ca_file().to_str().unwrap()),
            ],
        );
        assert_exit(&output, 0);
        assert_eq!(socks.tunnels(), before + 1);
    }
    // The command: --proxy, then ALL_PROXY.
    #[cfg(feature = "cli")]
    for via_env in [false, true] {
        use common::procs::{hmx, stdout};
        let _env = if via_env {
            env(&[("ALL_PROXY", &url)])
        } else {
            env(&[])
        };
        let before = socks.tunnels();
        let mut cmd = hmx();
        cmd.env("HMX_PASSWORD", DEMO_PASSWORD).args([
            "keys",
            DEMO_EMAIL,
            "--base-url",
            &by_name_url(&cloud),
            "--ca-file",
            cloud.ca_file().to_str().unwrap(),
        ]);
        if !via_env {
            cmd.args(["--proxy", &url]);
        }
        let out = cmd.output().unwrap();
        assert_exit(&out, 0);
        assert_eq!(stdout(&out).lines().count(), 6);
        assert_eq!(socks.tunnels(), before + 1);
    }
}
