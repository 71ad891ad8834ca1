//! The stand-in HTTP proxy: `CONNECT` tunnels on 127.0.0.1 that it counts and records.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::Acceptor;
use crate::sync::lock;

/// Bytes recorded at most; more are relayed but not kept.
const RECORD_LIMIT: usize = 64 * 1024 * 1024;

/// Settings for a [`MockProxy`]: by default it opens every tunnel to a loopback address.
#[derive(Default)]
pub struct MockProxyBuilder {
    credentials: Option<(String, String)>,
    refuse: Option<u16>,
    routes: HashMap<String, IpAddr>,
}

impl MockProxyBuilder {
    /// Demand `Proxy-Authorization: Basic` with these credentials; answer 407 otherwise.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_string(), password.to_string()));
        self
    }

    /// Refuse every `CONNECT` with this status (403, say).
    pub fn refuse(mut self, status: u16) -> Self {
        self.refuse = Some(status);
        self
    }

    /// Open tunnels for `host` (a name that resolves nowhere) to `ip`, at the
    /// port the client asked for. Loopback IP literals need no route; any other
    /// target is answered 502, so nothing leaves this machine.
    pub fn route(mut self, host: &str, ip: IpAddr) -> Self {
        self.routes.insert(host.to_ascii_lowercase(), ip);
        self
    }

    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn start(self) -> io::Result<MockProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            settings: self,
            tunnels: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            recorded: Mutex::new(Vec::new()),
            shutdown: AtomicBool::new(false),
        });
        let accept = super::serve_each(listener, shared.clone(), |s| &s.shutdown, serve)?;
        Ok(MockProxy {
            shared,
            addr,
            _accept: accept,
        })
    }
}

struct Shared {
    settings: MockProxyBuilder,
    tunnels: AtomicUsize,
    refused: AtomicUsize,
    recorded: Mutex<Vec<u8>>,
    shutdown: AtomicBool,
}

impl Shared {
    fn record(&self, bytes: &[u8]) {
        let mut recorded = lock(&self.recorded);
        let room = RECORD_LIMIT.saturating_sub(recorded.len());
        recorded.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// What a [`MockProxy`] did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// `CONNECT` tunnels opened.
    pub tunnels: usize,
    /// `CONNECT` requests refused (auth, `refuse`, unknown target).
    pub refused: usize,
}

/// A running stand-in proxy; stops when dropped.
pub struct MockProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _accept: Acceptor,
}

impl std::fmt::Debug for MockProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProxy")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MockProxy {
    /// Settings to start from.
    pub fn builder() -> MockProxyBuilder {
        MockProxyBuilder::default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Tunnels opened and refused.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            tunnels: self.shared.tunnels.load(Ordering::SeqCst),
            refused: self.shared.refused.load(Ordering::SeqCst),
        }
    }

    /// Every byte it read or wrote, in both directions, `CONNECT` requests included.
    pub fn recorded(&self) -> Vec<u8> {
        lock(&self.shared.recorded).clone()
    }
}

/// `Basic <base64(user:password)>`, for comparing with what the client sent.
fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    loop {
        let before = head.len();
        reader.read_until(b'\n', &mut head)?;
        if head.len() == before || head.ends_with(b"\r\n\r\n") || head.len() > 64 * 1024 {
            break;
        }
    }
    shared.record(&head);
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let request: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let authorization = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_string())
    });
    let mut client = client;
    let mut refuse = |status: u16, reason: &str| -> io::Result<()> {
        shared.refused.fetch_add(1, Ordering::SeqCst);
        let extra = if status == 407 {
            "Proxy-Authenticate: Basic realm=\"hmx\"\r\n"
        } else {
            ""
        };
        let answer = format!(
            "HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        shared.record(answer.as_bytes());
        client.write_all(answer.as_bytes())
    };
    if request.first() != Some(&"CONNECT") || request.len() != 3 {
        return refuse(405, "Method Not Allowed");
    }
    if let Some(status) = shared.settings.refuse {
        return refuse(status, "Forbidden");
    }
    if let Some((user, password)) = &shared.settings.credentials
        && authorization.as_deref() != Some(basic(user, password).as_str())
    {
        return refuse(407, "Proxy Authentication Required");
    }
    let Some((host, port)) = request[1].rsplit_once(':') else {
        return refuse(400, "Bad Request");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match shared.settings.routes.get(&host.to_ascii_lowercase()) {
        Some(ip) => Some(*ip),
        None => host.parse::<IpAddr>().ok().filter(IpAddr::is_loopback),
    };
    let (Some(ip), Ok(port)) = (ip, port.parse::<u16>()) else {
        return refuse(502, "Bad Gateway");
    };
    let Ok(upstream) =
        TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(5))
    else {
        return refuse(502, "Bad Gateway");
    };
    shared.tunnels.fetch_add(1, Ordering::SeqCst);
    let ok = b"HTTP/1.1 200 Connection established\r\n\r\n";
    shared.record(ok);
    client.write_all(ok)?;
    // Bytes the client sent after the CONNECT head are already in the reader.
    let pending = reader.buffer().to_vec();
    relay(reader.into_inner(), client, upstream, pending, shared)
}

/// Copies both ways until either side closes, recording everything.
fn relay(
    from_client: TcpStream,
    to_client: TcpStream,
    upstream: TcpStream,
    pending: Vec<u8>,
    shared: &Shared,
) -> io::Result<()> {
    let mut to_upstream = upstream.try_clone()?;
    if !pending.is_empty() {
        shared.record(&pending);
        to_upstream.write_all(&pending)?;
    }
    let copy = |mut from: TcpStream, mut to: TcpStream| {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    shared.record(&buf[..n]);
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    };
    thread::scope(|s| {
        s.spawn(|| copy(from_client, to_upstream));
        copy(upstream, to_client);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials() {
        // RFC 7617, section 2.
        assert_eq!(
            super::basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(super::basic("a", "b"), "Basic YTpi");
        assert_eq!(super::basic("ab", "c"), "Basic YWI6Yw==");
    }
}
