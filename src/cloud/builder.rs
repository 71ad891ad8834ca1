//! [`ClientBuilder`]: a client's settings, checked once when it is built, and the roots it trusts.

use std::fmt;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use zeroize::Zeroizing;

use super::client::Client;
use super::origin::BaseUrl;
use super::proxy::ProxySetting;
use super::transport;
use crate::error::Error;

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default connect timeout (TCP and TLS handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings for a [`Client`]; start from [`Client::builder`].
#[derive(Clone)]
pub struct ClientBuilder {
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    roots: Roots,
    proxy: ProxySetting,
    accept_language: String,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("roots", &self.roots)
            .field("proxy", &self.proxy)
            .field("accept_language", &self.accept_language)
            .finish()
    }
}

impl ClientBuilder {
    /// The cloud to talk to; default [`TERNEO_URL`](crate::TERNEO_URL). `https://` only,
    /// except `http://` for loopback hosts (127.0.0.0/8, ::1, localhost).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Bound on each request, from connecting to the last body byte; default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bound on connecting (TCP and TLS handshake); default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trust only the certificates in this PEM instead of the public roots
    /// (for tests and private deployments).
    pub fn root_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.roots = Roots::Pem(pem.as_ref().to_vec());
        self
    }

    /// Which roots to trust: [`Roots::Bundled`] (the default: Mozilla's public
    /// roots, built in), [`Roots::System`] (the operating system's store) or
    /// [`Roots::Pem`] (the same as [`root_ca_pem`](Self::root_ca_pem)).
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Send requests through this proxy, as curl names them:
    /// `http://[user:password@]host[:port]` (port 80 when none; `host:port`
    /// alone means `http://`), spoken to with `CONNECT` and Basic proxy
    /// authentication; or `socks5h://`, `socks5://`, `socks4a://`,
    /// `socks4://` (port 1080 when none; `socks5h` and `socks4a` let the
    /// proxy resolve the cloud's name, `socks5` and `socks4` resolve it
    /// here first), with SOCKS5 username/password authentication when
    /// credentials are given. It is used for https base URLs only, as a
    /// tunnel: the proxy sees the cloud's host name (or address) and
    /// encrypted bytes, never the password, the token or a key. Any other
    /// scheme is [`ErrorKind::InvalidArgument`](crate::ErrorKind) at
    /// [`build`](Self::build).
    ///
    /// Without this or [`no_proxy`](Self::no_proxy), the environment decides,
    /// as for curl: `https_proxy`/`HTTPS_PROXY`, else `all_proxy`/`ALL_PROXY`,
    /// unless `no_proxy`/`NO_PROXY` lists the cloud's host; never for loopback hosts.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxySetting::Url(Zeroizing::new(url.into()));
        self
    }

    /// Use no proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Off;
        self
    }

    /// The `Accept-Language` header, which picks the language of the cloud's
    /// error messages; default `"en"`.
    pub fn accept_language(mut self, lang: impl Into<String>) -> Self {
        self.accept_language = lang.into();
        self
    }

    /// Checks the settings and makes the client. Fails with
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) on a
    /// bad URL, a zero timeout, an unusable `Accept-Language`, a PEM or system
    /// store without a usable certificate, or a proxy URL (given, or from the
    /// environment) whose scheme is none of those [`proxy`](Self::proxy) takes.
    pub fn build(self) -> Result<Client, Error> {
        let base = BaseUrl::parse(&self.base_url)?;
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::invalid("timeouts must be greater than zero"));
        }
        let lang = &self.accept_language;
        if lang.is_empty()
            || lang.len() > 255
            || !lang.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(Error::invalid(
                "accept_language must be 1 to 255 printable ASCII characters",
            ));
        }
        let root_certs = self.roots.load()?;
        let proxy = self
            .proxy
            .resolve(base.is_https(), base.host(), base.is_loopback())?;
        let config = transport::agent_config(self.timeout)
            .timeout_connect(Some(self.connect_timeout.min(self.timeout)))
            .proxy(proxy.as_ref().map(|p| p.proxy.clone()))
            .tls_config(TlsConfig::builder().root_certs(root_certs).build())
            .build();
        Ok(Client {
            agent: config.into(),
            base,
            proxy,
            accept_language: self.accept_language,
            bounds: (self.connect_timeout.min(self.timeout), self.timeout),
            unusable: None,
        })
    }
}

impl Client {
    /// A client for [`TERNEO_URL`](crate::TERNEO_URL) with default settings.
    ///
    /// It never fails: the one default the environment can spoil is the proxy
    /// (`HTTPS_PROXY` and the like, see [`ClientBuilder::proxy`]). When that
    /// cannot be used, the client is made anyway and every call on it returns
    /// the reason ([`ErrorKind::InvalidArgument`](crate::ErrorKind), naming
    /// the variable) without sending anything, so no request goes around a
    /// proxy the user asked for. [`ClientBuilder::build`] reports it at once.
    pub fn new() -> Client {
        Client::builder().build().unwrap_or_else(|why| Client {
            agent: transport::agent_config(DEFAULT_TIMEOUT)
                .proxy(None)
                .build()
                .into(),
            base: BaseUrl::terneo(),
            proxy: None,
            accept_language: "en".to_string(),
            bounds: (DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT),
            unusable: Some(why),
        })
    }

    /// Settings to start from: Terneo's cloud, 30 s per request, 10 s to connect,
    /// public roots, `Accept-Language: en`.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            base_url: super::TERNEO_URL.to_string(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            roots: Roots::Bundled,
            proxy: ProxySetting::Environment,
            accept_language: "en".to_string(),
        }
    }
}

/// Which certificate authorities a client trusts for the cloud's TLS certificate.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Roots {
    /// The public (Mozilla) roots built into hmx: the same on every machine. The default.
    #[default]
    Bundled,
    /// The operating system's trust store, as `rustls-native-certs` reads it
    /// (on Linux `SSL_CERT_FILE`/`SSL_CERT_DIR` when set, else the
    /// distribution's bundle): for networks that inspect TLS with their own
    /// CA, or private deployments whose CA is installed system-wide.
    System,
    /// Only the certificates in this PEM text.
    Pem(Vec<u8>),
}

impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Roots::Bundled => "Bundled",
            Roots::System => "System",
            Roots::Pem(_) => "Pem(<pem>)",
        })
    }
}

impl Roots {
    /// The roots as ureq takes them; a PEM or system store without a usable
    /// certificate is `InvalidArgument`.
    pub(crate) fn load(&self) -> Result<RootCerts, Error> {
        match self {
            Roots::Bundled => Ok(RootCerts::WebPki),
            Roots::Pem(pem) => Ok(RootCerts::new_with_certs(&parse_pem(pem)?)),
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                let certs: Vec<Certificate<'static>> = found
                    .certs
                    .into_iter()
                    .filter(|c| usable(c.as_ref()).is_ok())
                    .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                    .collect();
                if certs.is_empty() {
                    let why = found
                        .errors
                        .first()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default();
                    return Err(Error::invalid(format!(
                        "the system trust store has no usable certificate{why}"
                    )));
                }
                Ok(RootCerts::new_with_certs(&certs))
            }
        }
    }
}

/// Whether rustls can use `der` as a trust anchor.
fn usable(der: &[u8]) -> Result<(), rustls::Error> {
    rustls::RootCertStore::empty().add(rustls::pki_types::CertificateDer::from(der.to_vec()))
}

fn parse_pem(pem: &[u8]) -> Result<Vec<Certificate<'static>>, Error> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let PemItem::Certificate(cert) =
            item.map_err(|e| Error::invalid(format!("root CA PEM: {e}")))?
        {
            // Checked now, so that a bad CA fails here and not at connect.
            usable(cert.der())
                .map_err(|e| Error::invalid(format!("root CA PEM: unusable certificate: {e}")))?;
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(Error::invalid("root CA PEM holds no certificate"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn builder_rejects_bad_settings() {
        let bad = [
            Client::builder().base_url("http://example.com"),
            Client::builder().timeout(Duration::ZERO),
            Client::builder().accept_language("en\r\nX: y"),
            Client::builder().root_ca_pem("not a pem"),
            Client::builder()
                .root_ca_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ];
        for b in bad {
            let e = b.clone().build().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{b:?}");
        }
    }
}
