//! The stand-in cloud's routes: TLS, keep-alive, the login and the device pages, faults on demand.

use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ServerConnection, StreamOwned};
use serde_json::{Value, json};

use super::{Fault, NextLink, RecordedRequest, Route, Shared};
use crate::sync::lock;
use crate::testing::wire::{Reply, Request, read_request};

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
            let answer = Reply::json(400, json!({"detail": "Bad request."}));
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

/// Answers one request, applying a fault when one matches. Returns whether
/// the connection stays open.
fn respond(stream: &mut dyn Duplex, shared: &Shared, request: &Request) -> io::Result<bool> {
    let route = match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/api/login/") => Some(Route::Login),
        ("GET", "/api/device/") => Some(Route::DevicePage(request.page())),
        _ => None,
    };
    lock(&shared.requests).push(RecordedRequest {
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
        _ => Reply::json(404, json!({"detail": "Not found."})),
    };
    let answer = match fault {
        None => answer(),
        Some(Fault::Respond {
            status,
            headers,
            body,
        }) => Reply {
            status,
            headers,
            body,
        },
        Some(Fault::Body(body)) => Reply {
            status: 200,
            headers: Vec::new(),
            body,
        },
        Some(Fault::Redirect(location)) => Reply {
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

fn echo_secret(request: &Request, route: Option<Route>, status: u16, padding: usize) -> Reply {
    let text: String = "The request was refused. "
        .chars()
        .cycle()
        .take(padding)
        .collect();
    if route == Some(Route::Login) {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let password = body["password"].as_str().unwrap_or_default();
        return Reply::json(
            status,
            json!({"non_field_errors": [format!("{text}submitted password: {password}")]}),
        );
    }
    let token = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Token "))
        .unwrap_or_default();
    Reply::json(status, json!({"detail": format!("{text}token {token}")}))
}

fn login(shared: &Shared, request: &Request) -> Reply {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    let (Some(email), Some(password)) = (field("email"), field("password")) else {
        let mut errors = serde_json::Map::new();
        for name in ["email", "password"] {
            if field(name).is_none() {
                errors.insert(name.into(), json!(["This field is required."]));
            }
        }
        return Reply::json(400, Value::Object(errors));
    };
    let known = shared
        .accounts
        .iter()
        .any(|(e, p)| e.eq_ignore_ascii_case(email) && p == password);
    if !known {
        return Reply::json(
            400,
            json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
        );
    }
    let token = shared.issue_token();
    Reply::json(
        200,
        json!({"access_token": token, "user_name": email.split('@').next(), "is_timezone_chosen": true}),
    )
}

fn device_page(shared: &Shared, request: &Request, page: usize) -> Reply {
    let authorized = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Token "))
        .is_some_and(|t| lock(&shared.tokens).iter().any(|known| known == t));
    if !authorized {
        return Reply::json(401, json!({"detail": "Invalid token."}));
    }
    let answer = {
        let devices = lock(&shared.devices);
        // DRF writes absolute links from the Host header the request carried.
        let authority = shared.base_url.split_once("://").map_or("", |(_, a)| a);
        let host = request.header("host").unwrap_or(authority);
        page_of(shared, host, &devices, page)
    };
    shared.change_after(page);
    answer
}

/// Page `page` of `devices`, as DRF's PageNumberPagination writes it.
fn page_of(shared: &Shared, host: &str, devices: &[Value], page: usize) -> Reply {
    let scheme = shared.base_url.split("://").next().unwrap_or("https");
    let host_name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let size = shared.page_size.max(1);
    let pages = devices.len().div_ceil(size).max(1);
    if page == 0 || page > pages {
        return Reply::json(404, json!({"detail": "Invalid page."}));
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
    Reply::json(
        200,
        json!({"count": devices.len(), "next": next, "previous": previous, "results": results}),
    )
}
