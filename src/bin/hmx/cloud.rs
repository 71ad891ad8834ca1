//! The cloud options `hmx keys` and `hmx sync` share (base URL, CA file, proxy, roots, timeout), and the client they build.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use hmx::Client;

use crate::Failure;

#[derive(clap::Args)]
pub struct CloudArgs {
    /// The cloud: https://my.hmarex.com (Terneo, the default) or https://app.welrok.com [env: HMX_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Trust the certificates in this PEM file instead of the public roots [env: HMX_CA_FILE]
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Bound on each request, connecting included (default: 10 s to connect, 30 s a request)
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Send requests through this proxy: http://[user:password@]host[:port] (CONNECT), or
    /// socks5h://, socks5://, socks4a://, socks4:// (default: HTTPS_PROXY or ALL_PROXY from
    /// the environment, minus NO_PROXY)
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Use no proxy, whatever the environment says
    #[arg(long)]
    pub no_proxy: bool,
    /// Trust the operating system's certificate store instead of the public roots built in
    #[arg(long, conflicts_with = "ca_file")]
    pub system_roots: bool,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err("the timeout must be more than 0 seconds".into());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text} seconds is too long"))
}

/// A variable from the environment; unset or empty is None, not UTF-8 is an error.
pub fn env_text(name: &str) -> Result<Option<String>, Failure> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .map_err(|_| Failure::usage(format!("{name} is not UTF-8"))),
    }
}

pub fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The host (and port) of a base URL, for messages.
pub fn host_of(base_url: &str) -> String {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

impl CloudArgs {
    /// The client these options (and HMX_BASE_URL, HMX_CA_FILE) describe;
    /// `fallback_url` is the base URL when neither the flag nor the variable gives one.
    pub fn client(&self, fallback_url: Option<&str>) -> Result<Client, Failure> {
        let mut builder = Client::builder();
        let url = match self.base_url.clone() {
            Some(url) => Some(url),
            None => env_text("HMX_BASE_URL")?.or_else(|| fallback_url.map(str::to_string)),
        };
        if let Some(url) = url {
            builder = builder.base_url(url);
        }
        if let Some(path) = self.ca_file.clone().or_else(|| env_path("HMX_CA_FILE")) {
            let pem = fs::read(&path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            builder = builder.root_ca_pem(pem);
        }
        if self.system_roots {
            builder = builder.roots(hmx::Roots::System);
        }
        if let Some(url) = &self.proxy {
            builder = builder.proxy(url);
        } else if self.no_proxy {
            builder = builder.no_proxy();
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        builder.build().map_err(|e| Failure::hmx(&e, None))
    }

    /// No option given: what the environment alone says (the client a
    /// device command uses to fetch a changed key).
    pub fn from_environment() -> CloudArgs {
        CloudArgs {
            base_url: None,
            ca_file: None,
            timeout: None,
            proxy: None,
            no_proxy: false,
            system_roots: false,
        }
    }
}
