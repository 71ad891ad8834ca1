//! The vendor cloud: log in, then read every page of the device list.

mod client;
mod device;
mod network;
mod origin;

pub(crate) use client::read_reply;
pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, MAX_BODY_BYTES, MAX_PAGES,
};
pub use device::{Device, find_device};
pub use network::Roots;
#[cfg(test)]
pub(crate) use {
    client::{server_words, token_from_reply},
    device::parse_page,
    origin::BaseUrl,
};

/// Terneo's cloud, the default base URL.
pub const TERNEO_URL: &str = "https://my.hmarex.com";
/// Welrok's cloud: the same server software and protocol.
pub const WELROK_URL: &str = "https://app.welrok.com";
