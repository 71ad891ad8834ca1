//! TOTP tokens for the thermostat's local API: HOTP over the key's raw bytes,
//! 30-second steps counted from 2000-01-01T00:00:00Z, 9 digits.
//!
//! This follows the vendor's text: the key is the `totp_key` string's bytes
//! as given (not base32-decoded), the hash is HMAC-SHA1, the truncation is
//! RFC 4226's. It has not been checked against a device here. The two public
//! clients that compute a token disagree on the key encoding and the counter
//! epoch, so both are a [`Scheme`]; [`Scheme::ALL`] lists the four, and
//! `hmx::local::Thermostat::probe` finds the one a device accepts. [`hotp`] is
//! the plain primitive for anything else.
//!
//! ```
//! let code = hmx::totp::code(b"BW4ERXAJXXXXXXXX", 634_929_122);
//! assert_eq!(code.to_string().len(), 9);
//! assert_eq!(hmx::totp::seconds_left(634_929_122), 28);
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

use crate::error::Error;

/// Digits in a device token.
pub const DIGITS: u32 = 9;
/// Seconds a token is valid.
pub const PERIOD: u32 = 30;
/// 2000-01-01T00:00:00Z as Unix time: the device clock's zero.
pub const DEVICE_EPOCH_UNIX: u64 = 946_684_800;

/// Plain RFC 4226 HOTP: HMAC-SHA1 of `counter` (8 bytes, big-endian) under
/// `key`, dynamic truncation, modulo 10^`digits`. Allocates nothing.
///
/// # Panics
/// If `digits` is not in 1..=9 (a 31-bit truncation has at most 10 digits,
/// and the 10th would not be uniform).
///
/// ```
/// // RFC 4226, appendix D.
/// assert_eq!(hmx::totp::hotp(b"12345678901234567890", 1, 6), 287082);
/// ```
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    assert!(
        (1..=9).contains(&digits),
        "HOTP digits must be 1 to 9, not {digits}"
    );
    let mac = hmac_sha1_u64(key, counter.to_be_bytes());
    // RFC 4226 5.3: the low nibble of the last byte picks 4 bytes at 0..=15.
    let offset = usize::from(mac[19] & 0x0f);
    let window: [u8; 4] = mac
        .get(offset..offset + 4)
        .and_then(|w| w.try_into().ok())
        .unwrap_or_default();
    let binary = u32::from_be_bytes(window) & 0x7fff_ffff;
    binary % 10u32.pow(digits)
}

/// HMAC-SHA1 (RFC 2104) of an 8-byte message, on the stack. The `hmac`
/// crate's `zeroize` feature wipes the padded key and the hash state when
/// the MAC is dropped.
fn hmac_sha1_u64(key: &[u8], message: [u8; 8]) -> [u8; 20] {
    // HMAC takes a key of any length (a longer one is hashed first): this never fails.
    #[allow(clippy::unreachable)]
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(&message);
    mac.finalize().into_bytes().into()
}

/// A device token: [`DIGITS`] digits. `Display` zero-pads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code(u32);

impl Code {
    /// The token as a number (below 10^9).
    pub fn value(self) -> u32 {
        self.0
    }

    /// The token as ASCII digits, zero-padded, without allocating.
    pub fn digits(self) -> [u8; DIGITS as usize] {
        let mut out = [b'0'; DIGITS as usize];
        let mut v = self.0;
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:09}", self.0)
    }
}

/// The token for `device_time` (seconds since 2000-01-01T00:00:00Z).
pub fn code(key: &[u8], device_time: u32) -> Code {
    Code(hotp(key, u64::from(device_time / PERIOD), DIGITS))
}

/// Seconds until the token for `device_time` expires (1 to 30).
pub fn seconds_left(device_time: u32) -> u32 {
    PERIOD - device_time % PERIOD
}

/// Device time for a Unix time: `None` before 2000 or past what 32 bits hold (2136).
pub fn device_time_from_unix(unix: u64) -> Option<u32> {
    unix.checked_sub(DEVICE_EPOCH_UNIX)
        .and_then(|t| u32::try_from(t).ok())
}

/// Device time from this machine's clock. A clock set before 2000 gives 0,
/// one past 2136 gives `u32::MAX`. Devices refuse commands older than the last
/// one they processed: prefer the device's own clock (`{"cmd":3}`) when the
/// local clock may be off.
pub fn device_time_now() -> u32 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match device_time_from_unix(unix) {
        Some(t) => t,
        None if unix < DEVICE_EPOCH_UNIX => 0,
        None => u32::MAX,
    }
}

/// How the key text becomes HMAC key bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyEncoding {
    /// The `totp_key` string's bytes as given (16 ASCII bytes): the vendor's wording.
    #[default]
    Raw,
    /// The string base32-decoded (RFC 4648; 16 characters give 10 bytes), as
    /// generic TOTP apps treat a key. See [`base32_decode`] for what is accepted.
    Base32,
}

/// Where the 30-second counter starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Epoch {
    /// 2000-01-01T00:00:00Z, the device clock's zero: counter = device time / 30.
    #[default]
    Y2000,
    /// 1970-01-01T00:00:00Z, as RFC 6238: counter = (device time + 946684800) / 30.
    /// The windows of both epochs line up (946684800 is a multiple of 30); only
    /// the counter differs.
    Unix,
}

/// One way of turning a key and a device time into a token: the key encoding
/// and the counter epoch. Everything else (HMAC-SHA1, 30 s, 9 digits) is fixed.
///
/// The default, [`Scheme::RAW_2000`], is what [`code`] computes. Which one
/// devices use has not been confirmed on hardware; `Thermostat::probe` in
/// `hmx::local` asks a device.
///
/// ```
/// use hmx::totp::{self, Scheme};
/// let key = b"BW4ERXAJXXXXXXXX";
/// assert_eq!(Scheme::default().code(key, 634_929_122)?, totp::code(key, 634_929_122));
/// assert_eq!("base32-unix".parse::<Scheme>()?, Scheme::BASE32_UNIX);
/// assert_eq!(Scheme::BASE32_UNIX.to_string(), "base32-unix");
/// # Ok::<(), hmx::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scheme {
    /// How the key text becomes bytes.
    pub key: KeyEncoding,
    /// Where the counter starts.
    pub epoch: Epoch,
}

// Rust-only for now: keeps cbindgen from putting these in the C header.
#[doc = "cbindgen:ignore"]
impl Scheme {
    /// Raw key bytes, counter from 2000: the default, as the vendor's text reads.
    pub const RAW_2000: Scheme = Scheme::new(KeyEncoding::Raw, Epoch::Y2000);
    /// Raw key bytes, counter from 1970.
    pub const RAW_UNIX: Scheme = Scheme::new(KeyEncoding::Raw, Epoch::Unix);
    /// Base32-decoded key, counter from 2000.
    pub const BASE32_2000: Scheme = Scheme::new(KeyEncoding::Base32, Epoch::Y2000);
    /// Base32-decoded key, counter from 1970 (what a generic TOTP app computes).
    pub const BASE32_UNIX: Scheme = Scheme::new(KeyEncoding::Base32, Epoch::Unix);
    /// All four, the default first: the order a probe tries them in.
    pub const ALL: [Scheme; 4] = [
        Scheme::RAW_2000,
        Scheme::RAW_UNIX,
        Scheme::BASE32_2000,
        Scheme::BASE32_UNIX,
    ];

    /// The scheme with this key encoding and epoch.
    pub const fn new(key: KeyEncoding, epoch: Epoch) -> Scheme {
        Scheme { key, epoch }
    }

    /// The short name: `raw-2000`, `raw-unix`, `base32-2000` or `base32-unix`.
    pub fn name(self) -> &'static str {
        match (self.key, self.epoch) {
            (KeyEncoding::Raw, Epoch::Y2000) => "raw-2000",
            (KeyEncoding::Raw, Epoch::Unix) => "raw-unix",
            (KeyEncoding::Base32, Epoch::Y2000) => "base32-2000",
            (KeyEncoding::Base32, Epoch::Unix) => "base32-unix",
        }
    }

    /// The HOTP counter for a device time (seconds since 2000).
    pub fn counter(self, device_time: u32) -> u64 {
        let seconds = match self.epoch {
            Epoch::Y2000 => u64::from(device_time),
            Epoch::Unix => u64::from(device_time) + DEVICE_EPOCH_UNIX,
        };
        seconds / u64::from(PERIOD)
    }

    /// The token for `device_time` under this scheme; `key` is the key text's
    /// bytes as the cloud sent them. Fails with
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind) only for
    /// [`KeyEncoding::Base32`] and a key that is not base32.
    pub fn code(self, key: &[u8], device_time: u32) -> Result<Code, Error> {
        let counter = self.counter(device_time);
        match self.key {
            KeyEncoding::Raw => Ok(Code(hotp(key, counter, DIGITS))),
            KeyEncoding::Base32 => {
                let bytes = base32_decode(key).ok_or_else(|| {
                    Error::invalid("the key is not base32 (RFC 4648: A-Z and 2-7)")
                })?;
                Ok(Code(hotp(&bytes, counter, DIGITS)))
            }
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scheme {
    type Err = Error;
    /// Parses a [`Scheme::name`], ignoring ASCII case.
    fn from_str(s: &str) -> Result<Scheme, Error> {
        Scheme::ALL
            .into_iter()
            .find(|scheme| scheme.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown token scheme {s:?}: use raw-2000, raw-unix, base32-2000 or base32-unix"
                ))
            })
    }
}

/// Decodes RFC 4648 base32 (alphabet `A-Z2-7`) into a buffer wiped on drop.
///
/// Lenient where key text varies harmlessly: lower case is accepted, and so
/// are `=` padding at the end and spaces or hyphens anywhere (as keys are
/// often written in groups). Strict otherwise: any other character, `=`
/// before the end, or an empty key gives `None`. Bits left over after the
/// last whole byte are dropped, as TOTP apps do.
///
/// ```
/// assert_eq!(hmx::totp::base32_decode(b"MZXW6YTBOI======").as_deref().map(|b| &b[..]), Some(&b"foobar"[..]));
/// assert_eq!(hmx::totp::base32_decode(b"mzxw 6ytb oi").as_deref().map(|b| &b[..]), Some(&b"foobar"[..]));
/// assert!(hmx::totp::base32_decode(b"MZXW0").is_none());
/// ```
pub fn base32_decode(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8 + 1));
    let (mut bits, mut held, mut symbols, mut padding) = (0u64, 0u32, 0usize, false);
    for &c in text {
        let value = match c {
            b' ' | b'-' => continue,
            b'=' => {
                padding = true;
                continue;
            }
            _ if padding => return None,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        symbols += 1;
        bits = (bits << 5) | u64::from(value);
        held += 5;
        if held >= 8 {
            held -= 8;
            out.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    (symbols > 0).then_some(out)
}
