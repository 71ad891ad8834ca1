//! Strings for C: NUL-terminated copies, kept by a list or handed out on their own.

use std::ffi::c_char;
use std::ptr;

use zeroize::Zeroizing;

use super::handles::{self, Owned};

/// A NUL-terminated copy of `s`. A NUL inside `s` (which C could not see past)
/// becomes U+FFFD.
fn c_string(s: &str) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(s.len() + 3));
    for piece in s.split('\0').enumerate() {
        if piece.0 > 0 {
            bytes.extend_from_slice("\u{FFFD}".as_bytes());
        }
        bytes.extend_from_slice(piece.1.as_bytes());
    }
    bytes.push(0);
    bytes
}

/// The strings a C list's items point into, wiped when the list is dropped.
pub(crate) struct CStrings(Vec<Zeroizing<Vec<u8>>>);

impl CStrings {
    pub(crate) fn with_capacity(n: usize) -> CStrings {
        CStrings(Vec::with_capacity(n))
    }

    /// Keeps a NUL-terminated copy of `s` (see [`c_string`]) and returns C's
    /// pointer to it.
    pub(crate) fn keep(&mut self, s: &str) -> *const c_char {
        let s = c_string(s);
        let p = s.as_ptr().cast::<c_char>();
        self.0.push(s);
        p
    }

    /// [`keep`](Self::keep), or NULL for `None`.
    pub(crate) fn keep_some(&mut self, s: Option<&str>) -> *const c_char {
        s.map_or(ptr::null(), |s| self.keep(s))
    }
}

/// A NUL-terminated secret string handed to C on its own, wiped on free.
struct Secret(Zeroizing<Vec<u8>>);

impl Owned for Secret {
    fn address(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

/// Hands C a NUL-terminated copy of a secret, to be wiped by `hmx_free`.
pub(crate) fn hand_out_secret(secret: &str) -> *mut c_char {
    let mut bytes = Zeroizing::new(Vec::with_capacity(secret.len() + 1));
    bytes.extend_from_slice(secret.as_bytes());
    bytes.push(0);
    handles::hand_out(Secret(bytes)) as *mut c_char
}
