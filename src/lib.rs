//! hmx gets the TOTP keys of Terneo and Welrok Wi-Fi thermostats out of the
//! vendor cloud, and makes the tokens that sign commands to their local API.
//!
//! The fetch is two blocking calls on one [`Client`]: [`Client::login`] for a
//! session token, then [`Client::list_devices`] for every device on every page.
//!
//! ```no_run
//! let client = hmx::Client::builder().base_url(hmx::WELROK_URL).build()?;
//! let devices = client.fetch_devices("user@example.com", "secret")?;
//! if let Some(d) = hmx::find_device(&devices, "1100150010434B58363539XXXXXXXX") {
//!     println!("{}: key present: {}", d.name, d.totp_key.is_some());
//! }
//! # Ok::<(), hmx::Error>(())
//! ```
//!
//! With a key in hand, [`local::Thermostat`] talks to the device itself on the
//! LAN (reads, and writes signed with the device's own clock), and
//! [`local::discover`] finds devices by their UDP announcements.
//!
//! Secrets (the password on its way out, the token, the keys, every response
//! body) live in buffers that are wiped when dropped, and never appear in
//! `Debug` output or error messages.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Nothing a user's environment, input or a server sends may reach a panic:
// a panic in a C or Python caller's process is a crash. Each exception is
// allowed where it stands, with the reason.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

mod cloud;
mod error;
mod framing;
mod http;
pub mod local;
mod retry;
mod secret;
mod serial;
pub mod site;
mod sync;
pub mod totp;
#[cfg(any(feature = "zeroize-heap", feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "zeroize-heap", feature = "test-util"))))]
pub mod zeroize_heap;

mod ffi;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(test)]
mod proptests;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

pub use cloud::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, MAX_PAGES, TERNEO_URL,
    WELROK_URL,
};
pub use cloud::{Device, Roots, find_device};
pub use error::{Error, ErrorKind};
pub use http::MAX_BODY_BYTES;
pub use secret::{Token, TotpKey};
pub use serial::same_serial;
pub use site::Site;

/// This library's version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
