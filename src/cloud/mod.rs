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
// What the property tests and the fuzz targets call.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use {
    device::parse_page,
    drf::{server_words, token_from_reply},
    origin::BaseUrl,
};
#[cfg(feature = "fuzzing")]
pub(crate) use {
    drf::{auth_error, status_error, wait_from_body},
    proxy::ProxyUrl,
};

/// Terneo's cloud, the default base URL.
pub const TERNEO_URL: &str = "https://my.hmarex.com";
/// Welrok's cloud: the same server software and protocol.
pub const WELROK_URL: &str = "https://app.welrok.com";
