//! TOTP tokens for the thermostat's local API: HOTP over the key's raw bytes,
//! 30-second steps counted from 2000-01-01T00:00:00Z, 9 digits.
//!
//! This follows the vendor's text (see `PROTOCOL.md`, section 2): the key is
//! the `totp_key` string's bytes as given (not base32-decoded), the hash is
//! HMAC-SHA1, the truncation is RFC 4226's. It has not been checked against
//! a device here; [`hotp`] is the plain primitive for building a variant.
//!
//! ```
//! let code = hmx::totp::code(b"BW4ERXAJXXXXXXXX", 634_929_122);
//! assert_eq!(code.to_string().len(), 9);
//! assert_eq!(hmx::totp::seconds_left(634_929_122), 28);
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};

/// Digits in a device token.
pub const DIGITS: u32 = 9;
/// Seconds a token is valid.
pub const PERIOD: u32 = 30;
/// 2000-01-01T00:00:00Z as Unix time: the device clock's zero.
pub const DEVICE_EPOCH_UNIX: u64 = 946_684_800;

const POWERS_OF_TEN: [u32; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

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
    let offset = usize::from(mac[19] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    binary % POWERS_OF_TEN[digits as usize]
}

/// SHA-1's initial state (FIPS 180-4, 5.3.1).
const SHA1_INIT: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// HMAC-SHA1 (RFC 2104) of an 8-byte message: exactly four SHA-1 block
/// compressions, padding laid out by hand, nothing on the heap. The blocks
/// that held key material or intermediate state are wiped before returning.
fn hmac_sha1_u64(key: &[u8], message: [u8; 8]) -> [u8; 20] {
    const BLOCK: usize = 64;
    let mut padded = [0u8; BLOCK];
    if key.len() > BLOCK {
        padded[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        padded[..key.len()].copy_from_slice(key);
    }
    // Block 1 is key ^ pad; block 2 is the message, 0x80, zeros and the bit
    // length of everything hashed (one key block plus the message).
    let mut blocks = [[0u8; BLOCK]; 2];
    for (b, k) in blocks[0].iter_mut().zip(&padded) {
        *b = k ^ 0x36;
    }
    blocks[1][..8].copy_from_slice(&message);
    blocks[1][8] = 0x80;
    blocks[1][56..].copy_from_slice(&(((BLOCK + 8) * 8) as u64).to_be_bytes());
    let mut inner = SHA1_INIT;
    sha1::block_api::compress(&mut inner, &blocks);

    for (b, k) in blocks[0].iter_mut().zip(&padded) {
        *b = k ^ 0x5c;
    }
    blocks[1] = [0u8; BLOCK];
    for (chunk, word) in blocks[1][..20].chunks_exact_mut(4).zip(inner) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    blocks[1][20] = 0x80;
    blocks[1][56..].copy_from_slice(&(((BLOCK + 20) * 8) as u64).to_be_bytes());
    let mut state = SHA1_INIT;
    sha1::block_api::compress(&mut state, &blocks);

    let mut mac = [0u8; 20];
    for (chunk, word) in mac.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    wipe(&mut padded);
    wipe(&mut blocks);
    wipe(&mut inner);
    wipe(&mut state);
    mac
}

/// Overwrites `secret` with zeros in one volatile store (a few vector
/// writes), which the optimiser may not remove even though it is never read.
fn wipe<T: Copy>(secret: &mut T) {
    // SAFETY: `secret` is a valid, aligned, exclusive reference; an all-zero
    // bit pattern is valid for the byte arrays this is used on.
    unsafe { std::ptr::write_volatile(secret, std::mem::zeroed()) };
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
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
