//! The base URL, and the rule that sends every request (and so the token) only there.
//!
//! Absolute URLs are parsed by `http::Uri` (through ureq); what stays ours is
//! the relative-reference step and the `next`-link rule: a link is followed
//! only when its host is the base URL's host, and then always to the base
//! URL's scheme, host and port, whatever scheme or port the link names.
//! Django REST Framework behind a TLS proxy writes `http://` links, or drops
//! the port, because it builds them from what the proxy passed on.

use std::net::{Ipv4Addr, Ipv6Addr};

use ureq::http::Uri;

use crate::error::Error;

/// Where requests go: scheme, host (normalised) and port.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    https: bool,
    /// Lower-case, without a trailing dot; IPv6 literals in brackets, in canonical form.
    host: String,
    port: u16,
}

impl Origin {
    fn to_url(&self) -> String {
        let (scheme, default_port) = if self.https {
            ("https", 443)
        } else {
            ("http", 80)
        };
        if self.port == default_port {
            format!("{scheme}://{}", self.host)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
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

/// The host as hmx compares it: ASCII lower-case, one trailing dot dropped,
/// IPv6 literals in canonical form. `None` when it is not a usable host name.
fn normalise_host(host: &str) -> Option<String> {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().ok().map(|ip| format!("[{ip}]"));
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then(|| host.to_ascii_lowercase())
}

/// Splits an absolute `http(s)://` URL into its origin and its path and query
/// (fragment dropped; `/` when the path is empty).
fn parse_absolute(url: &str) -> Result<(Origin, String), &'static str> {
    check_chars(url)?;
    let uri: Uri = url.parse().map_err(|_| "is not a valid URL")?;
    let https = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => true,
        Some(s) if s.eq_ignore_ascii_case("http") => false,
        _ => return Err("must start with https://"),
    };
    let authority = uri.authority().ok_or("has no valid host")?;
    if authority.as_str().contains('@') {
        return Err("must not contain user information");
    }
    let host = normalise_host(authority.host()).ok_or("has no valid host")?;
    // Without user information the authority is the host, then `:port` if any.
    let port = match authority.as_str()[authority.host().len()..].strip_prefix(':') {
        None => {
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
    };
    let mut rest = uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    if !rest.starts_with('/') {
        rest.insert(0, '/');
    }
    Ok((Origin { https, host, port }, rest))
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

/// `scheme:` at the start of a reference (RFC 3986: a letter, then letters,
/// digits, `+`, `-`, `.`), if there is one.
fn scheme_of(reference: &str) -> Option<&str> {
    let colon = reference.find(':')?;
    let scheme = &reference[..colon];
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.'))
    .then_some(scheme)
}

/// RFC 3986 section 5.2.4: resolves `.` and `..` segments of an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// The configured cloud: every request hmx makes goes to this origin.
#[derive(Clone, Debug)]
pub(crate) struct BaseUrl {
    origin: Origin,
    /// `origin` as a URL, e.g. `https://my.hmarex.com`.
    origin_url: String,
    /// `origin_url` + path prefix without a trailing slash.
    prefix: String,
}

impl BaseUrl {
    /// Accepts `https://host[:port][/path]`, or `http://` for loopback hosts only.
    pub(crate) fn parse(url: &str) -> Result<BaseUrl, Error> {
        let url = url.trim();
        let (origin, rest) =
            parse_absolute(url).map_err(|why| Error::invalid(format!("base URL {why}")))?;
        if rest.contains('?') || url.contains('#') {
            return Err(Error::invalid("base URL must not have a query or fragment"));
        }
        if !origin.https && !is_loopback(&origin.host) {
            return Err(Error::invalid(
                "base URL must use https (plain http is allowed for loopback hosts only)",
            ));
        }
        let origin_url = origin.to_url();
        let prefix = format!("{origin_url}{}", rest.trim_end_matches('/'));
        Ok(BaseUrl {
            origin,
            origin_url,
            prefix,
        })
    }

    /// [`TERNEO_URL`](crate::TERNEO_URL), the default, without parsing.
    pub(crate) fn terneo() -> BaseUrl {
        BaseUrl {
            origin: Origin {
                https: true,
                host: "my.hmarex.com".to_string(),
                port: 443,
            },
            origin_url: crate::TERNEO_URL.to_string(),
            prefix: crate::TERNEO_URL.to_string(),
        }
    }

    /// The base URL in canonical form, e.g. `https://my.hmarex.com`.
    pub(crate) fn as_str(&self) -> &str {
        &self.prefix
    }

    /// The host, normalised (for messages that name where a request went).
    pub(crate) fn host(&self) -> &str {
        &self.origin.host
    }

    /// Whether requests go over TLS.
    pub(crate) fn is_https(&self) -> bool {
        self.origin.https
    }

    /// Whether the host is this machine (127.0.0.0/8, `::1`, `localhost`).
    pub(crate) fn is_loopback(&self) -> bool {
        is_loopback(&self.origin.host)
    }

    /// `path` (starting with '/') under the base URL.
    pub(crate) fn join(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// The URL to fetch for a `next` link found on the page at `current` (a
    /// URL this base made). A link naming the base URL's host goes to the
    /// base URL's scheme, host and port with the link's path and query; a
    /// link to any other host is a `Protocol` error.
    pub(crate) fn resolve_next(&self, current: &str, next: &str) -> Result<String, Error> {
        let refuse = |why: &str| Error::protocol(format!("next page link {why}"));
        let next = next.trim();
        check_chars(next).map_err(refuse)?;
        let next = next.split('#').next().unwrap_or("");
        let path_and_query = if next.starts_with("//") || scheme_of(next).is_some() {
            let absolute = if next.starts_with("//") {
                format!("https:{next}")
            } else {
                next.to_string()
            };
            let (origin, rest) = parse_absolute(&absolute).map_err(refuse)?;
            if origin.host != self.origin.host {
                return Err(refuse(&format!(
                    "points to another host ({}); nothing was sent there",
                    origin.host
                )));
            }
            rest
        } else {
            let current = current.strip_prefix(&self.origin_url).unwrap_or("/");
            let current_path = current.split('?').next().unwrap_or("/");
            if next.starts_with('/') {
                next.to_string()
            } else if next.is_empty() || next.starts_with('?') {
                format!("{current_path}{next}")
            } else {
                let dir = &current_path[..current_path.rfind('/').map_or(0, |i| i + 1)];
                format!("{dir}{next}")
            }
        };
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query.as_str(), None),
        };
        let mut url = format!("{}{}", self.origin_url, remove_dot_segments(path));
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_base_url_is_what_parsing_it_gives() {
        let parsed = BaseUrl::parse(crate::TERNEO_URL).unwrap();
        let built = BaseUrl::terneo();
        assert_eq!(
            (built.origin, built.origin_url, built.prefix),
            (parsed.origin, parsed.origin_url, parsed.prefix)
        );
    }

    #[test]
    fn base_urls() {
        let ok = |u: &str| BaseUrl::parse(u).unwrap().as_str().to_string();
        assert_eq!(ok("https://my.hmarex.com"), "https://my.hmarex.com");
        assert_eq!(ok("HTTPS://My.Hmarex.com:443/"), "https://my.hmarex.com");
        assert_eq!(ok("https://my.hmarex.com./"), "https://my.hmarex.com");
        assert_eq!(
            ok("https://h.example:8443/cloud/"),
            "https://h.example:8443/cloud"
        );
        assert_eq!(ok("http://127.0.0.1:9"), "http://127.0.0.1:9");
        assert_eq!(ok("http://127.1.2.3:9"), "http://127.1.2.3:9");
        assert_eq!(ok("http://localhost"), "http://localhost");
        assert_eq!(ok("http://[::1]:80"), "http://[::1]");
        assert_eq!(ok("http://[0:0::1]:81"), "http://[::1]:81");
        for bad in [
            "http://my.hmarex.com",
            "http://10.0.0.1",
            "ftp://x",
            "my.hmarex.com",
            "https://",
            "https://u:p@host",
            "https://host:0",
            "https://host:99999",
            "https://host:",
            "https://host?x=1",
            "https://host/#f",
            "https://ho st",
            "https://ho_st",
            "https://[::1",
            "https://[::g]",
            "https://.",
            "",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn next_links_follow_the_host_to_the_base_origin() {
        let base = BaseUrl::parse("https://c.example:8443").unwrap();
        let cur = "https://c.example:8443/api/device/";
        let r = |n: &str| base.resolve_next(cur, n);
        let page2 = "https://c.example:8443/api/device/?page=2";
        for same_host in [
            "https://c.example:8443/api/device/?page=2",
            // DRF behind a proxy that does not forward the scheme, or drops the port:
            "http://c.example:8443/api/device/?page=2",
            "https://c.example/api/device/?page=2",
            "http://c.example/api/device/?page=2",
            "http://C.EXAMPLE./api/device/?page=2",
            "HTTPS://c.example:444/api/device/?page=2#top",
            "//c.example/api/device/?page=2",
            "/api/device/?page=2",
            "?page=2",
            "./?page=2",
            "../device/?page=2",
        ] {
            assert_eq!(r(same_host).unwrap(), page2, "{same_host}");
        }
        assert_eq!(
            r("x?page=3").unwrap(),
            "https://c.example:8443/api/device/x?page=3"
        );
        for foreign in [
            "https://evil.example/api/device/?page=2",
            "http://c.example.evil.example/",
            "//evil.example/p",
            "https://c.example@evil.example/",
            "https://user@c.example/",
            "ftp://c.example/api/device/?page=2",
            "javascript:alert(1)",
            "https://c.example:0/",
            "https://c.exa mple/",
        ] {
            let e = r(foreign).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Protocol, "{foreign}");
        }
    }

    #[test]
    fn dot_segments() {
        assert_eq!(remove_dot_segments("/a/b/../c"), "/a/c");
        assert_eq!(remove_dot_segments("/a/./b/"), "/a/b/");
        assert_eq!(remove_dot_segments("/../../x"), "/x");
        assert_eq!(remove_dot_segments("/a/.."), "/");
        assert_eq!(remove_dot_segments("/"), "/");
    }
}
