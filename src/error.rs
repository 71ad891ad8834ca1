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
    /// The site file cannot be read or written: corrupt, of a newer format,
    /// readable by others, or on a disk that refused it.
    Storage,
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
            ErrorKind::Storage => "storage",
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
    // Set when a write reached the device, which may have acted on it: never re-sent.
    may_have_applied: bool,
    // Set when the address answered as another device (it moved; DHCP gave its address away).
    wrong_device: bool,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            status: None,
            retry_after: None,
            transient: false,
            may_have_applied: false,
            wrong_device: false,
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

    pub(crate) fn with_message(mut self, message: String) -> Error {
        self.message = message;
        self
    }

    pub(crate) fn transient(mut self) -> Error {
        self.transient = true;
        self
    }

    pub(crate) fn is_transient(&self) -> bool {
        self.transient
    }

    pub(crate) fn applied_maybe(mut self) -> Error {
        self.may_have_applied = true;
        self
    }

    /// Whether a write reached the device before it failed: sending it again could apply it twice.
    pub(crate) fn may_have_applied(&self) -> bool {
        self.may_have_applied
    }

    pub(crate) fn answered_by_another_device(mut self) -> Error {
        self.wrong_device = true;
        self
    }

    /// Whether another device answered at the address (the one asked for moved).
    pub(crate) fn is_wrong_device(&self) -> bool {
        self.wrong_device
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
            U::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
                Error::new(ErrorKind::Timeout, format!("{what}: no connection in time"))
            }
            U::Timeout(_) => Error::new(ErrorKind::Timeout, format!("{what}: no answer in time")),
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

    pub(crate) fn from_io(io: std::io::Error, what: &str) -> Error {
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
                Error::new(ErrorKind::Timeout, format!("{what}: no answer in time"))
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

/// Longest message hmx keeps; longer server text is cut, after secrets are redacted.
pub(crate) const MAX_MESSAGE_BYTES: usize = 400;
/// Pieces of a secret this long or longer are redacted from messages.
const MIN_SECRET_PIECE: usize = 4;

impl Error {
    /// Removes `secrets` (the password, the token) from the message, then cuts
    /// it to [`MAX_MESSAGE_BYTES`]. Every path that puts server text into a
    /// message ends here, so no cut can leave a prefix of a secret behind.
    pub(crate) fn redact(mut self, secrets: &[&str]) -> Error {
        self.message = redact_text(&self.message, secrets);
        self
    }
}

/// `text` without `secrets`: every occurrence is replaced by a marker, the
/// result is cut to [`MAX_MESSAGE_BYTES`] on a character boundary, and then
/// any run of 4 or more characters that also occurs inside a secret (a piece
/// the server itself cut off, say) is replaced too. The marker is chosen so
/// that it cannot join with its neighbours into a piece of a secret.
pub(crate) fn redact_text(text: &str, secrets: &[&str]) -> String {
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    let marker = marker_for(&secrets);
    let mut text = text.to_string();
    for secret in &secrets {
        if text.contains(secret) {
            text = text.replace(secret, marker);
        }
    }
    if text.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    // Without a safe marker pieces are deleted, and deleting can join two
    // neighbours into a new piece: repeat until nothing changes.
    loop {
        let scrubbed = secrets
            .iter()
            .fold(text.clone(), |t, s| scrub_pieces(&t, s, marker));
        if scrubbed == text {
            return text;
        }
        text = scrubbed;
    }
}

/// A marker whose edge characters occur in no secret and which holds no piece
/// of one; `""` (delete) when every candidate fails.
fn marker_for(secrets: &[&str]) -> &'static str {
    const CANDIDATES: [&str; 5] = ["<redacted>", "[redacted]", "{redacted}", "(redacted)", "*"];
    CANDIDATES
        .into_iter()
        .find(|m| {
            let first = m.chars().next().unwrap_or('*');
            let last = m.chars().last().unwrap_or('*');
            secrets
                .iter()
                .all(|s| !s.contains(first) && !s.contains(last) && scrub_pieces(m, s, "") == *m)
        })
        .unwrap_or("")
}

/// Replaces each longest run of at least [`MIN_SECRET_PIECE`] characters of
/// `text` that occurs in `secret` by `marker`, scanning left to right.
fn scrub_pieces(text: &str, secret: &str, marker: &str) -> String {
    if secret.chars().count() < MIN_SECRET_PIECE {
        return text.to_string();
    }
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let chars = bounds.len() - 1;
    // Characters `from..to` of `text`; both are within `bounds` wherever this is called.
    let run = |from: usize, to: usize| match (bounds.get(from), bounds.get(to)) {
        (Some(&a), Some(&b)) => text.get(a..b),
        _ => None,
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars {
        // A run that occurs in the secret has every prefix occurring too, so grow it.
        let mut piece = 0;
        while i + piece < chars
            && (piece + 1 < MIN_SECRET_PIECE
                || run(i, i + piece + 1).is_some_and(|r| secret.contains(r)))
        {
            piece += 1;
        }
        if piece >= MIN_SECRET_PIECE {
            out.push_str(marker);
            i += piece;
        } else {
            out.push_str(run(i, i + 1).unwrap_or_default());
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_go_before_the_cut() {
        let password = "correct-horse-battery";
        let text = format!("{} submitted password: {password}", "x".repeat(380));
        let clean = redact_text(&text, &[password]);
        assert!(clean.len() <= MAX_MESSAGE_BYTES + 3);
        assert!(!clean.contains("corr"), "{clean}");
        // A piece the server cut off itself.
        let clean = redact_text("echo: correct-hor", &[password]);
        assert_eq!(clean, "echo: <redacted>");
        // Short runs shared by chance stay.
        assert_eq!(redact_text("cor hor bat", &[password]), "cor hor bat");
    }

    #[test]
    fn the_marker_never_forms_a_piece() {
        for secret in ["<redacted>", "a>b<c", "dacted]x{y}(z)*", "******"] {
            let text = format!("before {secret} after {secret}");
            let clean = redact_text(&text, &[secret]);
            let chars: Vec<char> = secret.chars().collect();
            for piece in chars.windows(MIN_SECRET_PIECE) {
                let piece: String = piece.iter().collect();
                assert!(!clean.contains(&piece), "{secret:?} -> {clean:?}");
            }
        }
    }
}
