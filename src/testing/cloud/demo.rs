//! The stand-in cloud's demo account: its credentials, its devices, and the tokens it issues.

use serde_json::{Value, json};

/// The demo account's email.
pub const DEMO_EMAIL: &str = "demo@hmx.invalid";
/// The demo account's password.
pub const DEMO_PASSWORD: &str = "demo-password";

pub(super) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::process::id())
}

/// `n` devices in the cloud's format, the same on every call: serials,
/// names (a few non-ASCII), 16-character keys and the extra fields the real
/// cloud sends.
pub fn demo_devices(n: usize) -> Vec<Value> {
    const NAMES: [&str; 5] = [
        "Living room",
        "Kitchen",
        "Bathroom floor",
        "Детская",
        "Büro",
    ];
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..n)
        .map(|i| {
            let mut bits = splitmix(i as u64);
            let key: String = (0..16)
                .map(|_| {
                    let c = ALPHABET[(bits & 31) as usize] as char;
                    bits = bits.rotate_right(5) ^ splitmix(bits);
                    c
                })
                .collect();
            let name = NAMES
                .get(i)
                .map_or_else(|| format!("Room {}", i + 1), |s| s.to_string());
            json!({
                "id": 18801 + i as i64,
                "sn": format!("1100150010434B58363539{:08X}", i),
                "name": name,
                "totp_key": key,
                "type": 4,
                "version_name": "2.4",
                "readonly": false,
                "data": {"device_type": 4, "online": true},
            })
        })
        .collect()
}
