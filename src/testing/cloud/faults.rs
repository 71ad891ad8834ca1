//! What the stand-in cloud can be told to do wrong: faults by route, `next` link styles, list changes, TLS modes.

use std::time::Duration;

/// Which request a [`Fault`] replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/login/`.
    Login,
    /// `GET /api/device/`, page n (1-based).
    DevicePage(usize),
    /// Any page of `GET /api/device/`.
    AnyDevicePage,
}

impl Route {
    pub(super) fn matches(self, actual: Route) -> bool {
        self == actual || (self == Route::AnyDevicePage && matches!(actual, Route::DevicePage(_)))
    }
}

/// What the stand-in does instead of answering normally.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status, extra headers and body.
    Respond {
        /// HTTP status.
        status: u16,
        /// Headers besides Content-Type and Content-Length.
        headers: Vec<(String, String)>,
        /// Body bytes, sent as they are.
        body: Vec<u8>,
    },
    /// Answer 200 with this body (malformed, oversized, wrong shape...).
    Body(Vec<u8>),
    /// Answer 302 with this `Location`.
    Redirect(String),
    /// Wait, then answer normally.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
    /// Send the headers and half the body, then close.
    DropMidBody,
    /// Never answer (until the stand-in stops, at most 120 s).
    Hang,
    /// Send the normal answer one byte at a time, this long apart.
    Trickle(Duration),
    /// Answer with this status and a DRF-style error whose text is `padding`
    /// characters long and ends with the secret the request carried (the
    /// password on the login, the token on a device page), as a careless
    /// server might echo it.
    EchoSecret {
        /// HTTP status.
        status: u16,
        /// Characters of text before the secret.
        padding: usize,
    },
    /// The normal answer with a UTF-8 byte order mark before the JSON.
    ByteOrderMark,
}

impl Fault {
    /// [`Fault::Respond`] without extra headers.
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Fault {
        Fault::Respond {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

/// How the `next` links of device pages are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextLink {
    /// `https://<Host header>/api/device/?page=2`, as DRF writes them.
    Absolute,
    /// `/api/device/?page=2`.
    Relative,
    /// `?page=2`.
    QueryOnly,
    /// `<origin>/api/device/?page=2`: a link to another server.
    Foreign(String),
    /// Absolute, and the last page links back to the first.
    Cycle,
    /// `http://<Host header>/...`: DRF behind a TLS proxy that does not
    /// forward the scheme (`$http_host`), so the link names plain http.
    PlainHttp,
    /// `https://<host name>/...`: a proxy that passes `$host`, so the port is dropped.
    NoPort,
    /// Any link: `{port}` and `{path}` (path and query) are filled in.
    Template(String),
}

/// A change to the device list the stand-in makes while it is being read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListChange {
    /// Delete the first n devices.
    RemoveFirst(usize),
    /// Add a new device (a fresh id and serial) at the front.
    AddFirst,
}

/// The transport the stand-in speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// HTTPS with a certificate for 127.0.0.1, localhost and [`CLOUD_HOST`](super::CLOUD_HOST), signed by the generated CA.
    Valid,
    /// HTTPS with a certificate for `wrong-host.invalid` only.
    WrongHost,
    /// Plain HTTP (`http://` base URL).
    Plain,
}
