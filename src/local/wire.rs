//! The device's HTTP/1.x as small stacks send it: one request per connection, the answer read whole, then taken apart leniently.
//!
//! A thermostat's web server is a few kilobytes of firmware. hmx sends it one
//! `POST /api.cgi` with `Connection: close` and reads until the answer is
//! complete or the connection ends, then decides what it got:
//!
//! - a status line and headers ending in CRLF or in a bare LF (RFC 9112
//!   allows a recipient to accept the bare LF);
//! - a body framed by `Content-Length`, by chunks (whose lines may also end
//!   in a bare LF), or by the end of the connection;
//! - anything without a status line is refused with what arrived, quoted.
//!
//! The body rules are the cloud's (`crate::http`): the size cap, no content
//! coding, no byte order mark. ureq, which the cloud side uses, reads only
//! strict HTTP/1.1 and cannot say what arrived when it is not.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};
use crate::framing::quote;
use crate::http::{self, BodyBuf, MAX_BODY_BYTES, Reply};

/// Room for the status line and headers on top of the body's cap.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers read at most; small stacks send three or four.
const MAX_HEADERS: usize = 32;

/// Sends `body` to `http://{authority}/api.cgi` and reads the answer, all
/// within `timeout`.
/// `sent` is set once the whole request is on its way: after that, a
/// failure does not mean the device did not act.
pub(super) fn post(
    authority: &str,
    body: &[u8],
    timeout: Duration,
    what: &str,
    sent: &mut bool,
) -> Result<Reply, Error> {
    let deadline = Instant::now() + timeout;
    let timed_out = || {
        Error::new(
            ErrorKind::Timeout,
            format!("{what}: no answer within {}", seconds(timeout)),
        )
    };
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(timed_out)
    };
    let mut tcp = connect(authority, left()?, what)?;
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => timed_out(),
        _ => Error::from_io(e, what),
    };
    tcp.set_nodelay(true).map_err(io)?;
    tcp.set_write_timeout(Some(left()?)).map_err(io)?;
    let head = format!(
        "POST /api.cgi HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: hmx/{}\r\n\
         Accept: application/json\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    // One write, so that a stack that reads one segment sees the whole request.
    let mut request = Zeroizing::new(Vec::with_capacity(head.len() + body.len()));
    request.extend_from_slice(head.as_bytes());
    request.extend_from_slice(body);
    tcp.write_all(&request).map_err(io)?;
    *sent = true;

    let mut raw = BodyBuf::with_capacity(4096);
    let mut chunk = Zeroizing::new([0u8; 4096]);
    loop {
        tcp.set_read_timeout(Some(left()?)).map_err(io)?;
        let n = match tcp.read(&mut chunk[..]) {
            Ok(n) => n,
            // An answer already complete needs no orderly close.
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionReset && complete(raw.as_slice()) =>
            {
                0
            }
            Err(e) => return Err(io(e)),
        };
        if n == 0 {
            break;
        }
        if !raw.extend(
            chunk.get(..n).unwrap_or_default(),
            MAX_BODY_BYTES + MAX_HEAD_BYTES,
        ) {
            return Err(http::too_big(0, what));
        }
        if complete(raw.as_slice()) {
            break;
        }
    }
    parse(raw.as_slice(), what)
}

/// Connects to the first address of `authority` that answers within `timeout`.
fn connect(authority: &str, timeout: Duration, what: &str) -> Result<TcpStream, Error> {
    let started = Instant::now();
    let addrs = resolve(authority, timeout, what)?;
    let timeout = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1));
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) =>
        {
            Error::new(
                ErrorKind::Timeout,
                format!("{what}: no connection within {}", seconds(timeout)),
            )
        }
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Error::new(
            ErrorKind::Network,
            format!("{what}: connection refused (nothing listens on that port)"),
        ),
        Some(e) => Error::from_io(e, what),
        None => Error::new(ErrorKind::Network, format!("{what}: host not found")),
    })
}

/// The addresses of `authority`: at once for an IP address (what devices
/// have); a host name is looked up on a thread of its own, so that a slow
/// resolver cannot hold the caller past `timeout` (the look-up may go on
/// after, and its answer is dropped).
fn resolve(authority: &str, timeout: Duration, what: &str) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(addr) = authority.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = authority.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(name.to_socket_addrs().map(Vec::from_iter));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(Error::new(ErrorKind::Network, format!("{what}: {e}"))),
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "{what}: the host name was not resolved within {}",
                seconds(timeout)
            ),
        )),
    }
}

/// `1.5 s`, `5 s`, `250 ms`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The status line and headers, and where the body starts.
struct Head<'a> {
    status: u16,
    headers: Vec<(&'a str, &'a str)>,
    body_at: usize,
}

impl Head<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|l| l.parse().ok())
    }
}

/// Reads the head, `None` while it is incomplete; an error when it is not HTTP.
fn head(raw: &[u8]) -> Result<Option<Head<'_>>, httparse::Error> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let httparse::Status::Complete(body_at) = response.parse(raw)? else {
        return Ok(None);
    };
    let status = response.code.unwrap_or(0);
    let headers = response
        .headers
        .iter()
        .map(|h| (h.name, std::str::from_utf8(h.value).unwrap_or("")))
        .collect();
    Ok(Some(Head {
        status,
        headers,
        body_at,
    }))
}

/// Whether `raw` already holds a whole answer whose end the framing marks
/// (a device that keeps the connection open despite `Connection: close` is
/// then not waited for).
fn complete(raw: &[u8]) -> bool {
    let Ok(Some(head)) = head(raw) else {
        return false;
    };
    let body = raw.get(head.body_at..).unwrap_or_default();
    if head.chunked() {
        // Walked, not copied: this runs after every read.
        matches!(walk_chunks(body, None), Ok(true))
    } else {
        head.content_length().is_some_and(|n| body.len() >= n)
    }
}

/// Takes a whole answer apart.
pub(crate) fn parse(raw: &[u8], what: &str) -> Result<Reply, Error> {
    let not_http = |why: &str| {
        Error::protocol(format!(
            "{what}: the device's answer is not HTTP ({why}); it sent `{}`",
            quote(raw)
        ))
    };
    if raw.is_empty() {
        return Err(Error::new(
            ErrorKind::Network,
            format!("{what}: the device closed the connection without answering"),
        )
        .transient());
    }
    let head = match head(raw) {
        Ok(Some(head)) => head,
        Ok(None) if raw.starts_with(b"HTTP/") => {
            return Err(Error::new(
                ErrorKind::Network,
                format!("{what}: the connection ended inside the answer's headers"),
            )
            .transient());
        }
        Ok(None) | Err(httparse::Error::Version) | Err(httparse::Error::Token) => {
            return Err(not_http("no status line"));
        }
        Err(e) => return Err(not_http(&e.to_string())),
    };
    let status = head.status;
    http::check_coding(head.header("content-encoding"), status, what)?;
    let rest = raw.get(head.body_at..).unwrap_or_default();
    let body: Zeroizing<Vec<u8>> = if head.chunked() {
        let mut body = Zeroizing::new(Vec::new());
        match walk_chunks(rest, Some(&mut body)) {
            Ok(true) => body,
            // Cut off inside the chunks: what came is what the JSON reader sees.
            Ok(false) => Zeroizing::new(rest.to_vec()),
            Err(why) => return Err(not_http(&why)),
        }
    } else {
        match head.content_length() {
            // Shorter than declared: the JSON reader will call it cut off.
            Some(n) => Zeroizing::new(rest.get(..n).unwrap_or(rest).to_vec()),
            None => Zeroizing::new(rest.to_vec()),
        }
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(http::too_big(status, what));
    }
    Ok(Reply::new(status, |name| head.header(name), body))
}

/// Walks a chunked body, copying the chunks' data into `body` when given:
/// true once the last chunk has come, false while more is due; chunk lines
/// may end in CRLF or a bare LF.
fn walk_chunks(mut rest: &[u8], mut body: Option<&mut Zeroizing<Vec<u8>>>) -> Result<bool, String> {
    loop {
        let Some(eol) = rest.iter().position(|b| *b == b'\n') else {
            return Ok(false);
        };
        let (line, after) = rest.split_at(eol);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let size = line.split(|b| *b == b';').next().unwrap_or_default();
        let size = std::str::from_utf8(size)
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .filter(|n| *n <= MAX_BODY_BYTES)
            .ok_or_else(|| format!("a chunk size line `{}`", quote(line)))?;
        rest = after.get(1..).unwrap_or_default();
        if size == 0 {
            // Trailers, if any, are not needed.
            return Ok(true);
        }
        let Some((data, after)) = rest.split_at_checked(size) else {
            return Ok(false);
        };
        if let Some(body) = body.as_deref_mut() {
            body.extend_from_slice(data);
        }
        rest = after;
        rest = rest
            .strip_prefix(b"\r\n")
            .or_else(|| rest.strip_prefix(b"\n"))
            .unwrap_or(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(raw: &[u8]) -> Result<Vec<u8>, Error> {
        parse(raw, "cmd 4").map(|r| r.body.to_vec())
    }

    #[test]
    fn framings_small_stacks_send() {
        let want = b"{\"t.1\":\"432\"}".to_vec();
        for raw in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"t.1\":\"432\"}"[..],
            b"HTTP/1.1 200 OK\nContent-Length: 13\n\n{\"t.1\":\"432\"}",
            b"HTTP/1.0 200 OK\r\n\r\n{\"t.1\":\"432\"}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"t.1\r\n8\r\n\":\"432\"}\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\n{\"t.1\n8\n\":\"432\"}\n0\n\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"t.1\":\"432\"}more",
        ] {
            assert_eq!(body(raw).unwrap(), want, "{}", quote(raw));
        }
    }

    #[test]
    fn what_is_not_http_is_shown() {
        let e = body(b"{\"sn\":\"0580\"}").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(
            e.message().contains("no status line") && e.message().contains("{\"sn\""),
            "{e}"
        );
        let e = body(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").unwrap_err();
        assert!(e.message().contains("chunk size line `zz`"), "{e}");
        assert!(body(b"").unwrap_err().is_transient());
        assert!(
            body(b"HTTP/1.1 200 OK\r\nContent-Le")
                .unwrap_err()
                .is_transient()
        );
    }

    #[test]
    fn names_are_resolved_within_the_bound() {
        let addrs = resolve("localhost:80", Duration::from_secs(5), "cmd 4").unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
        assert_eq!(
            resolve("127.0.0.1:80", Duration::ZERO, "cmd 4").unwrap(),
            ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]
        );
        let e = resolve("no-such-host.invalid:80", Duration::from_secs(5), "cmd 4").unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Network | ErrorKind::Timeout),
            "{e}"
        );
    }

    #[test]
    fn seconds_read_well() {
        assert_eq!(seconds(Duration::from_secs(5)), "5 s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(seconds(Duration::from_millis(250)), "250 ms");
    }
}
