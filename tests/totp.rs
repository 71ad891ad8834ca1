//! Computing a device's token and signing a request with it.
//!
//! Device tokens: published vectors, an independent implementation, boundaries, signed bodies.

use hmx::totp::{self, DEVICE_EPOCH_UNIX, code, device_time_from_unix, hotp, seconds_left};
use hmx::{ErrorKind, local};

const RFC_KEY: &[u8] = b"12345678901234567890";

#[test]
fn rfc4226_appendix_d() {
    let expected = [
        755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
    ];
    for (counter, want) in expected.into_iter().enumerate() {
        assert_eq!(hotp(RFC_KEY, counter as u64, 6), want, "counter {counter}");
    }
}

#[test]
fn rfc6238_appendix_b_sha1() {
    for (unix, want) in [
        (59u64, 94287082),
        (1111111109, 7081804),
        (1111111111, 14050471),
        (1234567890, 89005924),
        (2000000000, 69279037),
        (20000000000, 65353130),
    ] {
        assert_eq!(hotp(RFC_KEY, unix / 30, 8), want, "T = {unix}");
    }
}

/// Made with Python's standard library, independently of hmx:
///
/// ```python
/// import hmac, hashlib, struct
/// def code(key, t):
///     mac = hmac.new(key, struct.pack(">Q", t // 30), hashlib.sha1).digest()
///     o = mac[19] & 15
///     return (struct.unpack(">I", mac[o:o+4])[0] & 0x7fffffff) % 10**9
/// ```
#[test]
fn nine_digits_from_2000() {
    let long_key = [b'K'; 100];
    let vectors: [(&[u8], u32, &str); 10] = [
        (b"BW4ERXAJXXXXXXXX", 0, "111322880"),
        (b"BW4ERXAJXXXXXXXX", 29, "111322880"),
        (b"BW4ERXAJXXXXXXXX", 30, "331229475"),
        (b"BW4ERXAJXXXXXXXX", 480, "026874418"),
        (b"BW4ERXAJXXXXXXXX", 634929122, "923926026"),
        (b"AAD4EXAJX4E8A8XT", 634993283, "619699081"),
        (b"AAD4EXAJX4E8A8XT", u32::MAX, "398910601"),
        (RFC_KEY, 1234567890, "689005924"),
        (&long_key, 634929122, "680058005"),
        (b"", 30, "230812658"),
    ];
    for (key, time, want) in vectors {
        let c = code(key, time);
        assert_eq!(c.to_string(), want, "time {time}");
        assert_eq!(c.digits(), want.as_bytes());
        assert_eq!(c.value(), want.parse::<u32>().unwrap());
    }
}

/// hmx's HMAC-SHA1 against ring's, over keys of every length around the
/// 64-byte block size and counters across the whole range.
#[test]
fn agrees_with_ring_hmac() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for len in 0..=200usize {
        for _ in 0..8 {
            let key: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let counter = next();
            let tag = ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key),
                &counter.to_be_bytes(),
            );
            let mac = tag.as_ref();
            let offset = usize::from(mac[19] & 15);
            let bin = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
            for digits in 1..=9 {
                assert_eq!(
                    hotp(&key, counter, digits),
                    bin % 10u32.pow(digits),
                    "len {len}"
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "digits must be 1 to 9")]
fn ten_digits_are_refused() {
    hotp(RFC_KEY, 0, 10);
}

#[test]
#[should_panic(expected = "digits must be 1 to 9")]
fn zero_digits_are_refused() {
    hotp(RFC_KEY, 0, 0);
}

#[test]
fn clock_boundaries() {
    assert_eq!(device_time_from_unix(0), None);
    assert_eq!(device_time_from_unix(DEVICE_EPOCH_UNIX - 1), None);
    assert_eq!(device_time_from_unix(DEVICE_EPOCH_UNIX), Some(0));
    assert_eq!(
        device_time_from_unix(DEVICE_EPOCH_UNIX + 634929122),
        Some(634929122)
    );
    assert_eq!(
        device_time_from_unix(DEVICE_EPOCH_UNIX + u64::from(u32::MAX)),
        Some(u32::MAX)
    );
    assert_eq!(
        device_time_from_unix(DEVICE_EPOCH_UNIX + u64::from(u32::MAX) + 1),
        None
    );
    assert_eq!(device_time_from_unix(u64::MAX), None);
    assert_eq!(
        (seconds_left(0), seconds_left(29), seconds_left(30)),
        (30, 1, 30)
    );
    assert_eq!(seconds_left(u32::MAX), 30 - u32::MAX % 30);
    // Windows of both epochs line up: 946684800 is a multiple of 30.
    assert_eq!(DEVICE_EPOCH_UNIX % 30, 0);
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = totp::device_time_now();
    assert!(u64::from(now).abs_diff(now_unix - DEVICE_EPOCH_UNIX) <= 2);
}

#[test]
fn signed_bodies_keep_member_order() {
    let key = b"BW4ERXAJXXXXXXXX";
    let body = local::sign_request(
        key,
        "058016000543464839373520000159",
        634929122,
        r#"{"par":[[125,7,"0"],[23,2,"1"]],"cmd":1,"a":{"z":1,"b":2}}"#,
    )
    .unwrap();
    assert_eq!(
        body,
        r#"{"sn":"058016000543464839373520000159","time":"634929122","auth":"923926026","par":[[125,7,"0"],[23,2,"1"]],"cmd":1,"a":{"z":1,"b":2}}"#
    );
    let read = local::sign_request(key, "sn\"1", 30, r#" {"cmd":4} "#).unwrap();
    assert_eq!(
        read,
        r#"{"sn":"sn\"1","time":"30","auth":"331229475","cmd":4}"#
    );
}

#[test]
fn signed_bodies_refuse_bad_data() {
    for data in [
        "",
        "[]",
        "1",
        "\"x\"",
        "{",
        r#"{"sn":"x"}"#,
        r#"{"time":"1"}"#,
        r#"{"auth":"1"}"#,
        "{} {}",
        // Only sn, time and auth would set the device's clock.
        "{}",
        " { } ",
    ] {
        let e = local::sign_request(b"k", "sn", 0, data).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{data}");
    }
    assert_eq!(
        local::sign_request(b"k", " ", 0, "{}").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

/// Made with Python's standard library (`base64.b32decode`, `hmac`), independently of hmx.
#[test]
fn each_scheme_matches_python() {
    use hmx::totp::Scheme;
    let vectors: [(&[u8], u32, [&str; 4]); 4] = [
        (
            b"BW4ERXAJXXXXXXXX",
            634929122,
            ["923926026", "250658565", "366953682", "921508265"],
        ),
        (
            b"BW4ERXAJXXXXXXXX",
            0,
            ["111322880", "958334583", "718731146", "592975704"],
        ),
        (
            b"AAD4EXAJX4EQAQXT",
            634929122,
            ["425657102", "627490814", "015501840", "060447597"],
        ),
        (
            b"AAD4EXAJX4EQAQXT",
            0,
            ["148663168", "405540732", "676275106", "564945646"],
        ),
    ];
    for (key, time, want) in vectors {
        for (scheme, want) in Scheme::ALL.into_iter().zip(want) {
            let got = scheme.code(key, time).unwrap().to_string();
            assert_eq!(got, want, "{scheme} at {time}");
        }
    }
    // Lower case, groups and padding decode to the same key.
    let loose = b"bw4e-rxaj xxxx-xxxx======";
    assert_eq!(
        Scheme::BASE32_UNIX.code(loose, 0).unwrap().to_string(),
        "592975704"
    );
}

#[test]
fn schemes_parse_and_refuse() {
    use hmx::totp::{Scheme, base32_decode};
    for scheme in Scheme::ALL {
        assert_eq!(scheme.name().parse::<Scheme>().unwrap(), scheme);
        assert_eq!(
            scheme.name().to_uppercase().parse::<Scheme>().unwrap(),
            scheme
        );
    }
    assert_eq!(Scheme::default(), Scheme::RAW_2000);
    assert_eq!(Scheme::ALL[0], Scheme::default());
    assert_eq!(
        "raw".parse::<Scheme>().unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // 0, 1, 8 and 9 are not base32; nor is `=` before the end, nor nothing.
    for bad in [&b"AAD4EXAJX4E8A8XT"[..], b"AB=CD", b"", b"===="] {
        assert!(base32_decode(bad).is_none(), "{bad:?}");
        let e = hmx::totp::Scheme::BASE32_2000.code(bad, 0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
    // The raw schemes take any bytes.
    assert!(Scheme::RAW_UNIX.code(b"AAD4EXAJX4E8A8XT", 0).is_ok());
    // The windows of both epochs line up: 946684800 is a multiple of 30.
    assert_eq!(946_684_800 % 30, 0);
    assert_eq!(Scheme::RAW_UNIX.counter(29), Scheme::RAW_UNIX.counter(0));
    assert_eq!(
        Scheme::RAW_UNIX.counter(30),
        Scheme::RAW_UNIX.counter(0) + 1
    );
}
