//! Secret strings (the session token and TOTP keys) that wipe themselves and never print.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::error::Error;

/// Longest token hmx accepts; the cloud's are 40 hex characters.
const MAX_TOKEN_LEN: usize = 1024;

/// A session token from [`Client::login`](crate::Client::login), or one the caller already holds.
///
/// The bytes are wiped when the token is dropped. `Debug` shows `Token(<redacted>)`;
/// there is no `Display`, so printing one takes an explicit [`Token::as_str`].
///
/// ```
/// let token: hmx::Token = "9573e6a8e24b025fafbaf81dc2eccbc09b94d187".parse()?;
/// assert_eq!(format!("{token:?}"), "Token(<redacted>)");
/// # Ok::<(), hmx::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Zeroizing<String>);

impl Token {
    /// Wraps a token string. It must be 1 to 1024 visible ASCII characters
    /// (it goes into an HTTP header), else [`ErrorKind::InvalidArgument`](crate::ErrorKind).
    pub fn new(token: impl Into<String>) -> Result<Token, Error> {
        let token = Zeroizing::new(token.into());
        let usable = !token.is_empty()
            && token.len() <= MAX_TOKEN_LEN
            && token.bytes().all(|b| b.is_ascii_graphic());
        if usable {
            Ok(Token(token))
        } else {
            Err(Error::invalid(
                "a token must be 1 to 1024 visible ASCII characters",
            ))
        }
    }

    /// The token itself. Whatever the caller copies it into is the caller's to wipe.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Token {
    type Err = Error;
    fn from_str(s: &str) -> Result<Token, Error> {
        Token::new(s)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A device's TOTP key, exactly as the cloud sent it (16 ASCII characters in
/// every known account). Wiped on drop; `Debug` shows `TotpKey(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpKey(Zeroizing<String>);

impl TotpKey {
    /// Wraps a key string; the string moves in, so no unwiped copy is left behind.
    pub fn new(key: String) -> TotpKey {
        TotpKey(Zeroizing::new(key))
    }

    /// The key as text, for printing or storing.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key bytes as used for HMAC: the text's bytes, not base32-decoded.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpKey(<redacted>)")
    }
}
