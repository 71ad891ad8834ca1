//! Base URL checks and the same-origin rule that keeps the token at the configured host.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::Error;

/// A parsed absolute URL: scheme, host and port (the origin) plus the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Parts {
    https: bool,
    /// Lower-case; IPv6 literals keep their brackets.
    host: String,
    port: u16,
    /// Path, query, no fragment; starts with '/' or is empty.
    rest: String,
}

/// Refuses what must never reach a request line: spaces, control and non-ASCII bytes.
fn check_chars(url: &str) -> Result<(), &'static str> {
    if url
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || !b.is_ascii())
    {
        return Err("contains spaces, control or non-ASCII characters");
    }
    Ok(())
}

fn split_absolute(url: &str) -> Result<Parts, &'static str> {
    check_chars(url)?;
    let (https, after) = if let Some(r) = strip_prefix_ci(url, "https://") {
        (true, r)
    } else if let Some(r) = strip_prefix_ci(url, "http://") {
        (false, r)
    } else {
        return Err("must start with https://");
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        return Err("must not contain user information");
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or("has an unclosed IPv6 bracket")?;
        let host = &authority[..=close];
        host[1..close]
            .parse::<Ipv6Addr>()
            .map_err(|_| "has an invalid IPv6 address")?;
        (host, &authority[close + 1..])
    } else {
        match authority.find(':') {
            Some(i) => (&authority[..i], &authority[i..]),
            None => (authority, ""),
        }
    };
    let valid_host = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    if !valid_host {
        return Err("has no valid host");
    }
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or("has an invalid port")?,
        None => return Err("has an invalid port"),
    };
    let rest = rest.split('#').next().unwrap_or("");
    Ok(Parts {
        https,
        host: host.to_ascii_lowercase(),
        port,
        rest: rest.to_string(),
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn is_loopback(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

impl Parts {
    fn origin(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let default_port = if self.https { 443 } else { 80 };
        if self.port == default_port {
            format!("{scheme}://{}", self.host)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    fn same_origin(&self, other: &Parts) -> bool {
        self.https == other.https && self.host == other.host && self.port == other.port
    }
}

/// The configured cloud: every request hmx makes goes to this origin.
#[derive(Clone, Debug)]
pub(crate) struct BaseUrl {
    parts: Parts,
    /// `origin` + path prefix without a trailing slash, e.g. `https://my.hmarex.com`.
    prefix: String,
}

impl BaseUrl {
    /// Accepts `https://host[:port][/path]`, or `http://` for loopback hosts only.
    pub(crate) fn parse(url: &str) -> Result<BaseUrl, Error> {
        let parts =
            split_absolute(url.trim()).map_err(|why| Error::invalid(format!("base URL {why}")))?;
        if parts.rest.contains('?') || url.contains('#') {
            return Err(Error::invalid("base URL must not have a query or fragment"));
        }
        if !parts.https && !is_loopback(&parts.host) {
            return Err(Error::invalid(
                "base URL must use https (plain http is allowed for loopback hosts only)",
            ));
        }
        let prefix = format!("{}{}", parts.origin(), parts.rest.trim_end_matches('/'));
        Ok(BaseUrl { parts, prefix })
    }

    /// The base URL in canonical form, e.g. `https://my.hmarex.com`.
    pub(crate) fn as_str(&self) -> &str {
        &self.prefix
    }

    /// `path` (starting with '/') under the base URL.
    pub(crate) fn join(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// Resolves a `next` link found on the page at `current` (an absolute URL
    /// on this origin) and refuses any link that leaves the origin.
    pub(crate) fn resolve_next(&self, current: &str, next: &str) -> Result<String, Error> {
        let next = next.trim();
        let refuse = |why: &str| Error::protocol(format!("next page link {why}"));
        let current = split_absolute(current).map_err(&refuse)?;
        let target = if next.starts_with("//") {
            let scheme = if current.https { "https:" } else { "http:" };
            split_absolute(&format!("{scheme}{next}")).map_err(&refuse)?
        } else if next.contains("://") {
            split_absolute(next).map_err(&refuse)?
        } else {
            check_chars(next).map_err(&refuse)?;
            let next = next.split('#').next().unwrap_or("");
            let current_path = current.rest.split('?').next().unwrap_or("");
            let rest = if next.starts_with('/') {
                next.to_string()
            } else if next.starts_with('?') {
                format!("{current_path}{next}")
            } else {
                let dir = &current_path[..current_path.rfind('/').map_or(0, |i| i + 1)];
                format!("{dir}{next}")
            };
            Parts { rest, ..current }
        };
        if !target.same_origin(&self.parts) {
            return Err(refuse(&format!(
                "points to another origin ({}); nothing was sent there",
                target.origin()
            )));
        }
        let rest = if target.rest.is_empty() {
            "/"
        } else {
            &target.rest
        };
        Ok(format!("{}{rest}", target.origin()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let ok = |u: &str| BaseUrl::parse(u).unwrap().as_str().to_string();
        assert_eq!(ok("https://my.hmarex.com"), "https://my.hmarex.com");
        assert_eq!(ok("HTTPS://My.Hmarex.com:443/"), "https://my.hmarex.com");
        assert_eq!(
            ok("https://h.example:8443/cloud/"),
            "https://h.example:8443/cloud"
        );
        assert_eq!(ok("http://127.0.0.1:9"), "http://127.0.0.1:9");
        assert_eq!(ok("http://127.1.2.3:9"), "http://127.1.2.3:9");
        assert_eq!(ok("http://localhost"), "http://localhost");
        assert_eq!(ok("http://[::1]:80"), "http://[::1]");
        for bad in [
            "http://my.hmarex.com",
            "http://10.0.0.1",
            "ftp://x",
            "my.hmarex.com",
            "https://",
            "https://u:p@host",
            "https://host:0",
            "https://host:99999",
            "https://host?x=1",
            "https://host/#f",
            "https://ho st",
            "https://[::1",
            "",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn next_links() {
        let base = BaseUrl::parse("https://c.example").unwrap();
        let cur = "https://c.example/api/device/";
        let r = |n: &str| base.resolve_next(cur, n);
        assert_eq!(
            r("https://c.example/api/device/?page=2").unwrap(),
            "https://c.example/api/device/?page=2"
        );
        assert_eq!(
            r("https://C.EXAMPLE:443/api/device/?page=2").unwrap(),
            "https://c.example/api/device/?page=2"
        );
        assert_eq!(
            r("/api/device/?page=2").unwrap(),
            "https://c.example/api/device/?page=2"
        );
        assert_eq!(
            r("?page=3").unwrap(),
            "https://c.example/api/device/?page=3"
        );
        assert_eq!(
            r("x?page=3").unwrap(),
            "https://c.example/api/device/x?page=3"
        );
        assert_eq!(r("//c.example/p").unwrap(), "https://c.example/p");
        for foreign in [
            "https://evil.example/api/device/?page=2",
            "http://c.example/api/device/?page=2",
            "https://c.example:444/api/device/?page=2",
            "//evil.example/p",
            "https://c.example@evil.example/",
        ] {
            let e = r(foreign).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Protocol, "{foreign}");
        }
    }
}
