//! The vendor cloud: log in, then read every page of the device list.

mod builder;
mod client;
mod device;
mod drf;
mod origin;
mod proxy;
mod transport;

pub use builder::{ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Roots};
pub use client::{Client, MAX_PAGES};
pub use device::{Device, find_device};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use {
    device::parse_page,
    drf::{auth_error, server_words, status_error, token_from_reply, wait_from_body},
    origin::BaseUrl,
    proxy::ProxyUrl,
};

/// Terneo's cloud, the default base URL.
pub const TERNEO_URL: &str = "https://my.hmarex.com";
/// Welrok's cloud: the same server software and protocol.
pub const WELROK_URL: &str = "https://app.welrok.com";
