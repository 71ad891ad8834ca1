//! Which proxy a client's requests go through: given, from the environment, or none.
//!
//! A proxy is used only for https origins and only as a tunnel: an HTTP
//! proxy through `CONNECT`, a SOCKS proxy (4, 4a, 5, 5h) through its own
//! connect request. Either way it learns the cloud's host name (or, for
//! `socks4` and `socks5`, its address) and relays TLS it cannot read, never
//! the password, the token or a key. A plain-http origin (loopback only)
//! never goes through a proxy, since there the proxy would read everything.

use std::fmt;

use ureq::Proxy;
use ureq::http::Uri;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};

/// Where a client's proxy comes from.
#[derive(Clone, Default)]
pub(crate) enum ProxySetting {
    /// `https_proxy`/`HTTPS_PROXY`, else `all_proxy`/`ALL_PROXY`, minus `NO_PROXY`.
    #[default]
    Environment,
    /// No proxy, whatever the environment says.
    Off,
    /// This proxy URL (it may carry credentials).
    Url(Zeroizing<String>),
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::Environment => f.write_str("Environment"),
            ProxySetting::Off => f.write_str("Off"),
            ProxySetting::Url(url) => match ProxyUrl::parse(url) {
                Ok(p) => write!(f, "Url({})", p.address),
                Err(_) => f.write_str("Url(<invalid>)"),
            },
        }
    }
}

/// The proxy a client uses: ureq's, its `host:port` for messages, and the
/// credentials to keep out of messages.
pub(crate) struct ProxyUse {
    pub(crate) proxy: Proxy,
    /// "proxy host:port" or "SOCKS5h proxy host:port", never with credentials.
    pub(crate) name: String,
    /// The user information as written (and its decoded password), redacted from messages.
    pub(crate) secrets: Vec<Zeroizing<String>>,
}

/// A checked `SCHEME://[user:password@]host[:port]` proxy URL.
pub(crate) struct ProxyUrl {
    /// Normalised for ureq: with a scheme.
    url: Zeroizing<String>,
    /// `host:port`.
    address: String,
    /// How messages call it: "proxy", or "SOCKS5h proxy" and the like.
    noun: &'static str,
    secrets: Vec<Zeroizing<String>>,
}

/// The proxy schemes hmx takes, as curl names them, with their default ports
/// and how messages call them (`None`: an HTTP proxy, "the proxy host:port").
const SCHEMES: [(&str, u16, &str); 6] = [
    ("http", 80, "proxy"),
    ("socks4", 1080, "SOCKS4 proxy"),
    ("socks4a", 1080, "SOCKS4a proxy"),
    ("socks5", 1080, "SOCKS5 proxy"),
    ("socks5h", 1080, "SOCKS5h proxy"),
    // curl's and ureq's shorthand for socks5.
    ("socks", 1080, "SOCKS5 proxy"),
];

impl ProxyUrl {
    pub(crate) fn parse(url: &str) -> Result<ProxyUrl, &'static str> {
        let url = url.trim();
        // `proxy.corp:3128`, as many environments write it, means http.
        let url = Zeroizing::new(if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        });
        let uri: Uri = url.parse().map_err(|_| "is not a valid URL")?;
        let scheme = uri.scheme_str().unwrap_or_default();
        let Some((_, default_port, noun)) = SCHEMES
            .iter()
            .find(|(s, _, _)| s.eq_ignore_ascii_case(scheme))
        else {
            return Err("must be an http://, socks4://, socks4a://, socks5:// or socks5h:// proxy");
        };
        let authority = uri.authority().ok_or("has no host")?;
        if authority.host().is_empty() {
            return Err("has no host");
        }
        let address = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(*default_port)
        );

        let mut secrets = Vec::new();
        if let Some((userinfo, _)) = authority.as_str().rsplit_once('@') {
            secrets.push(Zeroizing::new(userinfo.to_string()));
            if let Some((_, password)) = userinfo.split_once(':') {
                secrets.push(Zeroizing::new(password.to_string()));
            }
        }
        Ok(ProxyUrl {
            url,
            address,
            noun,
            secrets,
        })
    }
}

/// The first of `names` set to a non-empty value in the environment.
fn env_var(names: &[&str]) -> Option<(String, Zeroizing<String>)> {
    names.iter().find_map(|name| {
        let value = Zeroizing::new(std::env::var(name).ok()?);
        (!value.trim().is_empty()).then(|| (name.to_string(), value))
    })
}

/// Whether `host` is excluded by a `NO_PROXY` list, as curl reads one: `*`
/// excludes every host; an entry excludes that host and its subdomains
/// (a leading `.` or `*.` is ignored); ASCII case does not matter.
fn no_proxy_matches(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    list.split([',', ' '])
        .map(|e| e.trim().trim_start_matches('*').trim_start_matches('.'))
        .map(|e| e.trim_end_matches('.').to_ascii_lowercase())
        .filter(|e| !e.is_empty() || list.trim() == "*")
        .any(|entry| {
            entry.is_empty()
                || host == entry
                || host
                    .strip_suffix(&entry)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
}

impl ProxySetting {
    /// The proxy for a client of `host` (already normalised), if any.
    /// `https` false or, for the environment, a loopback host: none.
    pub(crate) fn resolve(
        &self,
        https: bool,
        host: &str,
        loopback: bool,
    ) -> Result<Option<ProxyUse>, Error> {
        if !https {
            return Ok(None);
        }
        let (url, source) = match self {
            ProxySetting::Off => return Ok(None),
            ProxySetting::Url(url) => (url.clone(), "proxy".to_string()),
            ProxySetting::Environment => {
                // Like Go's clients: the environment's proxy is for the
                // network, never for this machine itself.
                if loopback {
                    return Ok(None);
                }
                let Some((name, url)) =
                    env_var(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])
                else {
                    return Ok(None);
                };
                if let Some((_, list)) = env_var(&["no_proxy", "NO_PROXY"])
                    && no_proxy_matches(&list, host)
                {
                    return Ok(None);
                }
                (url, format!("proxy from {name}"))
            }
        };
        let parsed = ProxyUrl::parse(&url)
            .map_err(|why| Error::new(ErrorKind::InvalidArgument, format!("{source} {why}")))?;
        let proxy = Proxy::new(&parsed.url)
            .map_err(|_| Error::invalid(format!("{source} is not a usable proxy URL")))?;
        Ok(Some(ProxyUse {
            proxy,
            name: format!("{} {}", parsed.noun, parsed.address),
            secrets: parsed.secrets,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_lists() {
        let yes = |list, host| assert!(no_proxy_matches(list, host), "{list} / {host}");
        let no = |list, host| assert!(!no_proxy_matches(list, host), "{list} / {host}");
        yes("*", "my.hmarex.com");
        yes("my.hmarex.com", "my.hmarex.com");
        yes("hmarex.com", "my.hmarex.com");
        yes(".hmarex.com", "my.hmarex.com");
        yes("*.hmarex.com", "MY.HMAREX.COM.");
        yes("localhost, example.org ,hmarex.com", "my.hmarex.com");
        no("hmarex.com", "nothmarex.com");
        no("my.hmarex.com", "hmarex.com");
        no("", "my.hmarex.com");
        no(",", "my.hmarex.com");
        no("example.org", "my.hmarex.com");
    }

    #[test]
    fn proxy_urls() {
        let p = ProxyUrl::parse("http://user:s3cret@proxy.corp:3128").unwrap();
        assert_eq!((p.noun, p.address.as_str()), ("proxy", "proxy.corp:3128"));
        assert_eq!(p.secrets.len(), 2);
        assert_eq!(
            ProxyUrl::parse("proxy.corp").unwrap().address,
            "proxy.corp:80"
        );
        for (url, noun, address) in [
            ("socks5h://u:pw@tunnel:9050", "SOCKS5h proxy", "tunnel:9050"),
            ("SOCKS5://tunnel", "SOCKS5 proxy", "tunnel:1080"),
            ("socks4a://tunnel:1", "SOCKS4a proxy", "tunnel:1"),
            ("socks://tunnel", "SOCKS5 proxy", "tunnel:1080"),
        ] {
            let p = ProxyUrl::parse(url).unwrap();
            assert_eq!((p.noun, p.address.as_str()), (noun, address), "{url}");
        }
        for bad in [
            "ftp://proxy:21",
            "https://proxy:443",
            "http://",
            "http://a b",
        ] {
            assert!(ProxyUrl::parse(bad).is_err(), "{bad}");
        }
        let debug = format!(
            "{:?}",
            ProxySetting::Url(Zeroizing::new("http://u:pw@p:1".into()))
        );
        assert_eq!(debug, "Url(p:1)");
    }
}
