//! The HOST a thermostat is reached at: an IP address or name with an optional port, as `host:port`.

use crate::error::Error;

/// The device's HTTP port.
pub const DEFAULT_PORT: u16 = 80;

/// Whether a HOST as typed is a serial number rather than an address: 16
/// or more hex digits (devices have 30), which no IP address or host name
/// a LAN gives a thermostat looks like.
///
/// ```
/// assert!(hmx::local::looks_like_serial("058016000543464839373520000159"));
/// assert!(!hmx::local::looks_like_serial("192.168.1.40"));
/// ```
pub fn looks_like_serial(host: &str) -> bool {
    host.len() >= 16 && host.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `host[:port]` for the URL, from an IP address or name with an optional port.
pub(crate) fn authority(host: &str) -> Result<String, Error> {
    let host = host.trim();
    let bad = || {
        Error::invalid(format!(
            "{host:?} is not a device address: give an IP address or host name, optionally with :port"
        ))
    };
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(match ip {
            std::net::IpAddr::V4(v4) => format!("{v4}:{DEFAULT_PORT}"),
            std::net::IpAddr::V6(v6) => format!("[{v6}]:{DEFAULT_PORT}"),
        });
    }
    if let Ok(addr) = host.parse::<std::net::SocketAddr>() {
        return Ok(addr.to_string());
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, port.parse::<u16>().map_err(|_| bad())?),
        None => (host, DEFAULT_PORT),
    };
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !name.starts_with(['-', '.']);
    if !valid || port == 0 {
        return Err(bad());
    }
    Ok(format!("{}:{port}", name.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let ok = [
            ("192.168.0.1", "192.168.0.1:80"),
            (" 10.0.0.7:8080 ", "10.0.0.7:8080"),
            ("Thermostat.lan", "thermostat.lan:80"),
            ("therm-1:81", "therm-1:81"),
            ("::1", "[::1]:80"),
            ("[fe80::1]:8080", "[fe80::1]:8080"),
        ];
        for (given, want) in ok {
            assert_eq!(authority(given).unwrap(), want);
        }
        for bad in [
            "",
            "http://1.2.3.4",
            "1.2.3.4/api.cgi",
            "a:b",
            "host:0",
            "user@host",
            "-x",
            "a b",
        ] {
            assert!(authority(bad).is_err(), "{bad}");
        }
    }
}
