//! The stand-in's HTTP/1.1 server: one thread per connection, keep-alive, faults on demand.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};
use serde_json::{Value, json};

use super::{Fault, NextLink, RecordedRequest, Route, Shared};

/// The port of a `scheme://host:port` URL.
fn port_of(url: &str) -> &str {
    url.rsplit(':').next().unwrap_or_default()
}

/// How long an idle keep-alive connection is held open.
const IDLE: Duration = Duration::from_secs(30);
/// How long a `Hang` fault holds a request at most.
const HANG_LIMIT: Duration = Duration::from_secs(120);

trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// Serves one connection of the stand-in cloud: TLS, then requests until it closes.
pub(crate) fn serve_connection(tcp: TcpStream, shared: &Shared) -> io::Result<()> {
    shared.connections.fetch_add(1, Ordering::SeqCst);
    tcp.set_read_timeout(Some(IDLE))?;
    tcp.set_nodelay(true)?;
    let stream: Box<dyn Duplex> = match &shared.tls {
        Some(config) => {
            let mut conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
            let mut tcp = tcp;
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp)?;
            }
            shared.handshakes.fetch_add(1, Ordering::SeqCst);
            Box::new(StreamOwned::new(conn, tcp))
        }
        None => Box::new(tcp),
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader)? {
        if !request.well_formed {
            // What a real HTTP server does with bytes that are not HTTP (a TLS
            // ClientHello, say): answer 400 and close.
            let answer = Answer::json(400, json!({"detail": "Bad request."}));
            reader.get_mut().write_all(&answer.bytes())?;
            break;
        }
        let keep_alive = respond(reader.get_mut(), shared, &request)?;
        if !keep_alive {
            break;
        }
    }
    Ok(())
}

pub(crate) struct Request {
    pub(crate) well_formed: bool,
    pub(crate) method: String,
    pub(crate) path: String,
    query: String,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn page(&self) -> usize {
        self.query
            .split('&')
            .find_map(|kv| kv.strip_prefix("page="))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
    }
}

pub(crate) fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let first = reader.fill_buf()?;
    if first.is_empty() {
        return Ok(None);
    }
    let mut line = String::new();
    if first[0].is_ascii_uppercase() {
        let mut raw = Vec::new();
        reader.read_until(b'\n', &mut raw)?;
        line = String::from_utf8_lossy(&raw).into_owned();
    }
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let target = words.next().unwrap_or_default();
    let well_formed = target.starts_with('/')
        && words.next().is_some_and(|v| v.starts_with("HTTP/1."))
        && method.bytes().all(|b| b.is_ascii_uppercase());
    if !well_formed {
        return Ok(Some(Request {
            well_formed,
            method,
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        well_formed,
        method,
        path,
        query,
        headers,
        body,
    }))
}

/// A response before it is written: status, extra headers, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\n",
            self.status,
            reason(self.status),
            self.body.len()
        );
        let typed = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        if !typed {
            head.push_str("Content-Type: application/json\r\n");
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Answers one request, applying a fault when one matches. Returns whether
/// the connection stays open.
fn respond(stream: &mut dyn Duplex, shared: &Shared, request: &Request) -> io::Result<bool> {
    let route = match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/api/login/") => Some(Route::Login),
        ("GET", "/api/device/") => Some(Route::DevicePage(request.page())),
        _ => None,
    };
    shared.requests.lock().unwrap().push(RecordedRequest {
        method: request.method.clone(),
        path: request.path.clone(),
        query: request.query.clone(),
        headers: request.headers.clone(),
        route,
    });
    let fault = route.and_then(|r| shared.take_fault(r));
    let answer = || match route {
        Some(Route::Login) => login(shared, request),
        Some(Route::DevicePage(n)) => device_page(shared, request, n),
        _ => Answer::json(404, json!({"detail": "Not found."})),
    };
    let answer = match fault {
        None => answer(),
        Some(Fault::Respond {
            status,
            headers,
            body,
        }) => Answer {
            status,
            headers,
            body,
        },
        Some(Fault::Body(body)) => Answer {
            status: 200,
            headers: Vec::new(),
            body,
        },
        Some(Fault::Redirect(location)) => Answer {
            status: 302,
            headers: vec![("Location".into(), location)],
            body: Vec::new(),
        },
        Some(Fault::Delay(d)) => {
            thread::sleep(d);
            answer()
        }
        Some(Fault::Drop) => return Ok(false),
        Some(Fault::DropMidBody) => {
            let bytes = answer().bytes();
            let head = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
            stream.write_all(&bytes[..head + (bytes.len() - head) / 2])?;
            stream.flush()?;
            return Ok(false);
        }
        Some(Fault::Hang) => {
            let start = Instant::now();
            while !shared.shutdown.load(Ordering::SeqCst) && start.elapsed() < HANG_LIMIT {
                thread::sleep(Duration::from_millis(20));
            }
            return Ok(false);
        }
        Some(Fault::Trickle(every)) => {
            for byte in answer().bytes() {
                if shared.shutdown.load(Ordering::SeqCst) {
                    return Ok(false);
                }
                stream.write_all(&[byte])?;
                stream.flush()?;
                thread::sleep(every);
            }
            return Ok(true);
        }
        Some(Fault::EchoSecret { status, padding }) => echo_secret(request, route, status, padding),
        Some(Fault::ByteOrderMark) => {
            let mut answer = answer();
            answer.body.splice(0..0, *b"\xEF\xBB\xBF");
            answer
        }
    };
    stream.write_all(&answer.bytes())?;
    stream.flush()?;
    Ok(request.header("connection") != Some("close"))
}

fn echo_secret(request: &Request, route: Option<Route>, status: u16, padding: usize) -> Answer {
    let text: String = "The request was refused. "
        .chars()
        .cycle()
        .take(padding)
        .collect();
    if route == Some(Route::Login) {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let password = body["password"].as_str().unwrap_or_default();
        return Answer::json(
            status,
            json!({"non_field_errors": [format!("{text}submitted password: {password}")]}),
        );
    }
    let token = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Token "))
        .unwrap_or_default();
    Answer::json(status, json!({"detail": format!("{text}token {token}")}))
}

fn login(shared: &Shared, request: &Request) -> Answer {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    let (Some(email), Some(password)) = (field("email"), field("password")) else {
        let mut errors = serde_json::Map::new();
        for name in ["email", "password"] {
            if field(name).is_none() {
                errors.insert(name.into(), json!(["This field is required."]));
            }
        }
        return Answer::json(400, Value::Object(errors));
    };
    let known = shared
        .accounts
        .iter()
        .any(|(e, p)| e.eq_ignore_ascii_case(email) && p == password);
    if !known {
        return Answer::json(
            400,
            json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
        );
    }
    let token = shared.issue_token();
    Answer::json(
        200,
        json!({"access_token": token, "user_name": email.split('@').next(), "is_timezone_chosen": true}),
    )
}

fn device_page(shared: &Shared, request: &Request, page: usize) -> Answer {
    let authorized = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Token "))
        .is_some_and(|t| shared.tokens.lock().unwrap().iter().any(|known| known == t));
    if !authorized {
        return Answer::json(401, json!({"detail": "Invalid token."}));
    }
    let answer = {
        let devices = shared.devices.lock().unwrap();
        // DRF writes absolute links from the Host header the request carried.
        let authority = shared.base_url.split_once("://").map_or("", |(_, a)| a);
        let host = request.header("host").unwrap_or(authority);
        page_of(shared, host, &devices, page)
    };
    shared.change_after(page);
    answer
}

/// Page `page` of `devices`, as DRF's PageNumberPagination writes it.
fn page_of(shared: &Shared, host: &str, devices: &[Value], page: usize) -> Answer {
    let scheme = shared.base_url.split("://").next().unwrap_or("https");
    let host_name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let size = shared.page_size.max(1);
    let pages = devices.len().div_ceil(size).max(1);
    if page == 0 || page > pages {
        return Answer::json(404, json!({"detail": "Invalid page."}));
    }
    let link = |n: usize| -> Value {
        let path = if n == 1 {
            "/api/device/".to_string()
        } else {
            format!("/api/device/?page={n}")
        };
        match &shared.next_link {
            NextLink::Absolute | NextLink::Cycle => json!(format!("{scheme}://{host}{path}")),
            NextLink::Relative => json!(path),
            NextLink::QueryOnly => json!(format!("?page={n}")),
            NextLink::Foreign(origin) => json!(format!("{origin}{path}")),
            NextLink::PlainHttp => json!(format!("http://{host}{path}")),
            NextLink::NoPort => json!(format!("https://{host_name}{path}")),
            NextLink::Template(t) => json!(
                t.replace("{port}", port_of(&shared.base_url))
                    .replace("{path}", &path)
            ),
        }
    };
    let next = if page < pages {
        link(page + 1)
    } else if matches!(shared.next_link, NextLink::Cycle) {
        link(1)
    } else {
        Value::Null
    };
    let previous = if page > 1 {
        link(page - 1)
    } else {
        Value::Null
    };
    let start = (page - 1) * size;
    let end = (start + size).min(devices.len());
    let results = &devices[start.min(end)..end];
    Answer::json(
        200,
        json!({"count": devices.len(), "next": next, "previous": previous, "results": results}),
    )
}
