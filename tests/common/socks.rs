//! A real SOCKS5 server (Debian's `microsocks`) on 127.0.0.1, behind a
//! recording front that also stands in for DNS: `cloud.hmx.test` resolves
//! nowhere, so the front rewrites it to 127.0.0.1 in the client's connect
//! request. Everything else the client and `microsocks` say passes through
//! untouched, and every byte is recorded.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hmx::testing::CLOUD_HOST;

pub struct Socks {
    server: Child,
    front: u16,
    recorded: Arc<Mutex<Vec<u8>>>,
    tunnels: Arc<AtomicUsize>,
}

impl Socks {
    /// `microsocks`, with a user and password when given, and its front.
    pub fn start(credentials: Option<(&str, &str)>) -> Socks {
        let port = super::net::closed_port();
        let mut cmd = Command::new("microsocks");
        cmd.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
        if let Some((user, password)) = credentials {
            cmd.args(["-u", user, "-P", password]);
        }
        let server = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("microsocks (Debian package microsocks; .ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "microsocks did not start");
            thread::sleep(Duration::from_millis(20));
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let front = listener.local_addr().unwrap().port();
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let tunnels = Arc::new(AtomicUsize::new(0));
        let (rec, count) = (recorded.clone(), tunnels.clone());
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                relay(client, upstream, rec.clone());
            }
        });
        Socks {
            server,
            front,
            recorded,
            tunnels,
        }
    }

    /// `SCHEME://[credentials@]127.0.0.1:<front>`.
    pub fn url(&self, scheme: &str, credentials: Option<(&str, &str)>) -> String {
        let userinfo = credentials.map_or(String::new(), |(u, p)| format!("{u}:{p}@"));
        format!("{scheme}://{userinfo}127.0.0.1:{}", self.front)
    }

    /// Connections the server took.
    pub fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::SeqCst)
    }

    /// Every byte relayed, both ways.
    pub fn recorded(&self) -> Vec<u8> {
        self.recorded.lock().unwrap().clone()
    }
}

impl Drop for Socks {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Copies both ways until either side closes, recording all of it.
fn relay(client: TcpStream, upstream: TcpStream, recorded: Arc<Mutex<Vec<u8>>>) {
    let pipe = |mut from: TcpStream, mut to: TcpStream, rewrite: bool, rec: Arc<Mutex<Vec<u8>>>| {
        thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            let mut rewritten = !rewrite;
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut bytes = buf[..n].to_vec();
                if !rewritten {
                    // SOCKS5 connect by name: ATYP 3, length, name; by address: ATYP 1, 4 bytes.
                    let mut by_name = vec![3u8, CLOUD_HOST.len() as u8];
                    by_name.extend_from_slice(CLOUD_HOST.as_bytes());
                    if let Some(at) = bytes.windows(by_name.len()).position(|w| w == by_name) {
                        bytes.splice(at..at + by_name.len(), [1u8, 127, 0, 0, 1]);
                        rewritten = true;
                    }
                }
                rec.lock().unwrap().extend_from_slice(&bytes);
                if to.write_all(&bytes).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    pipe(client, upstream, true, recorded.clone());
    pipe(u2, c2, false, recorded);
}
