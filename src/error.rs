//! The one error type of hmx, and how transport failures map onto it.

use std::fmt;
use std::time::Duration;

/// What went wrong, coarsely: the part of an [`Error`] to branch on.
///
/// Every kind has a stable C status code (see `hmx_status` in `include/hmx.h`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller passed something unusable: a bad URL, an empty email, a malformed token.
    InvalidArgument,
    /// The cloud refused the credentials (login) or the token (device list).
    Auth,
    /// The cloud answered 429; see [`Error::retry_after`].
    RateLimited,
    /// DNS failure, connection refused or reset.
    Network,
    /// A connect or request timeout expired.
    Timeout,
    /// Certificate verification or the TLS handshake failed.
    Tls,
    /// An HTTP status hmx does not handle otherwise, including every redirect.
    Http,
    /// The answer broke the protocol: not JSON, wrong shape, too large, a foreign `next` link.
    Protocol,
    /// The device looked for is not in the list.
    NotFound,
    /// A thermostat refused the request (`{"success":"block"}`): LAN locking
    /// is on and the token was missing or wrong.
    Blocked,
}

impl ErrorKind {
    /// A short lower-case name, as used in messages: `"auth"`, `"rate limited"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Auth => "auth",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Network => "network",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Http => "http",
            ErrorKind::Protocol => "protocol",
            ErrorKind::NotFound => "not found",
            ErrorKind::Blocked => "blocked",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An hmx failure: a kind, a message for people, and the HTTP details when there were any.
///
/// Messages never contain the password, the token or a key: server text that
/// echoes one of them is redacted before it is stored here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
    // Set for failures after which re-sending an idempotent request is safe and useful.
    transient: bool,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            status: None,
            retry_after: None,
            transient: false,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn with_status(mut self, status: u16) -> Error {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Error {
        self.retry_after = retry_after;
        self
    }

    pub(crate) fn transient(mut self) -> Error {
        self.transient = true;
        self
    }

    pub(crate) fn is_transient(&self) -> bool {
        self.transient
    }

    /// The coarse category, stable across versions.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message alone, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the answer that caused this error, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// For [`ErrorKind::RateLimited`]: how long the cloud asked to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Maps a ureq failure (no HTTP answer was read) to hmx's kinds. `what`
    /// names the request, e.g. "login", for the message.
    pub(crate) fn from_transport(err: ureq::Error, what: &str) -> Error {
        use ureq::Error as U;
        match err {
            U::Timeout(t) => Error::new(ErrorKind::Timeout, format!("{what}: timed out ({t})")),
            U::HostNotFound => Error::new(ErrorKind::Network, format!("{what}: host not found")),
            U::Io(io) => Error::from_io(io, what),
            U::Rustls(e) => Error::new(ErrorKind::Tls, format!("{what}: tls: {e}")),
            U::Tls(e) => Error::new(ErrorKind::Tls, format!("{what}: tls: {e}")),
            U::Pem(e) => Error::invalid(format!("{what}: bad PEM: {e}")),
            U::BodyExceedsLimit(n) => {
                Error::protocol(format!("{what}: response body exceeds the {n} byte limit"))
            }
            U::Protocol(e) => {
                Error::protocol(format!("{what}: the server broke HTTP/1.1: {e}")).transient()
            }
            U::BadUri(_) | U::Http(_) => Error::invalid(format!("{what}: unusable URL")),
            U::TooManyRedirects | U::RedirectFailed => Error::new(
                ErrorKind::Http,
                format!("{what}: redirect refused; hmx never follows redirects"),
            ),
            U::ConnectionFailed => {
                Error::new(ErrorKind::Network, format!("{what}: connection failed"))
            }
            other => Error::new(ErrorKind::Network, format!("{what}: {other}")),
        }
    }

    fn from_io(io: std::io::Error, what: &str) -> Error {
        use std::io::ErrorKind as K;
        // ureq hands its own errors through io::Error inside body readers.
        if io.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
            return Error::from_transport(ureq::Error::from(io), what);
        }
        if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            return Error::new(ErrorKind::Tls, format!("{what}: tls: {tls}"));
        }
        match io.kind() {
            K::TimedOut | K::WouldBlock => {
                Error::new(ErrorKind::Timeout, format!("{what}: timed out"))
            }
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                Error::new(ErrorKind::Network, format!("{what}: connection lost: {io}")).transient()
            }
            _ => Error::new(ErrorKind::Network, format!("{what}: {io}")),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// Replaces every occurrence of `secret` in the message, so that server
    /// text echoing a password or token never reaches a log.
    pub(crate) fn redact(mut self, secret: &str) -> Error {
        if !secret.is_empty() && self.message.contains(secret) {
            self.message = self.message.replace(secret, "<redacted>");
        }
        self
    }
}
