//! Property tests: the parsers, the URL rules, request signing and the C
//! string handling never panic, whatever bytes arrive; nor do the
//! thermostat's answer and announcement parsers, base32 or device addresses;
//! no piece of a secret the server echoes survives into an error message.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::cloud::{BaseUrl, parse_page, server_words, token_from_reply};
use crate::error::{Error, ErrorKind};

/// Arbitrary JSON, nested a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("id".to_string()),
                        Just("sn".to_string()),
                        Just("name".to_string()),
                        Just("totp_key".to_string()),
                        Just("next".to_string()),
                        Just("results".to_string()),
                        ".{0,6}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The runs of 4 or more characters of `secret` found in `shown`.
fn secret_pieces(secret: &str, shown: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(4)
        .map(|w| w.iter().collect::<String>())
        .filter(|piece| shown.contains(piece.as_str()))
        .collect()
}

proptest! {
    // Server text from one alphabet, secrets from another, so that any piece
    // of the secret in the message can only come from the echo.
    #[test]
    fn echoed_secrets_never_reach_a_message(
        text in "[a-z .,:;é]{0,1200}",
        offset in 0usize..1200,
        secret in "[A-Z0-9!#%&*+=?^_~<>\\[\\](){}-]{1,64}",
        field in prop_oneof![Just("detail".to_string()), Just("non_field_errors".to_string()), "[a-z_]{1,12}"],
        status in 400u16..600,
    ) {
        let mut cut = offset.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let echoed = format!("{}{secret}{}", &text[..cut], &text[cut..]);
        let body = json!({field: [echoed]}).to_string();
        let words = server_words(body.as_bytes()).unwrap_or_default();
        let error = Error::new(ErrorKind::Auth, format!("login rejected (HTTP {status}): {words}"))
            .redact(&[&secret]);
        let message = error.to_string();
        prop_assert!(message.len() <= crate::error::MAX_MESSAGE_BYTES + 3);
        prop_assert_eq!(secret_pieces(&secret, &message), Vec::<String>::new(), "{}", message);
        prop_assert!(!message.contains(&secret));
    }

    #[test]
    fn device_pages_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_page(&bytes, 0);
    }

    #[test]
    fn device_pages_of_any_json_never_panic(results in prop::collection::vec(json_value(), 0..8), next in json_value()) {
        let body = json!({"next": next, "results": results}).to_string();
        if let Ok(page) = parse_page(body.as_bytes(), 0) {
            prop_assert!(page.devices.iter().all(|d| !d.sn.trim().is_empty()));
        }
        let _ = parse_page(json!(results).to_string().as_bytes(), 7);
    }

    #[test]
    fn login_answers_never_panic(value in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = value.to_string();
        let _ = token_from_reply(text.as_bytes());
        let _ = token_from_reply(&bytes);
        if let Some(words) = server_words(text.as_bytes()) {
            prop_assert!(words.len() <= 303);
        }
        let _ = server_words(&bytes);
    }

    #[test]
    fn urls_never_panic(base in ".{0,40}", current in ".{0,40}", next in ".{0,40}") {
        let _ = BaseUrl::parse(&base);
        let _ = BaseUrl::parse(&format!("https://{base}"));
        let ok = BaseUrl::parse("https://c.example").unwrap();
        let _ = ok.resolve_next(&current, &next);
        if let Ok(url) = ok.resolve_next("https://c.example/api/device/", &next) {
            prop_assert!(url.starts_with("https://c.example/"));
        }
    }

    #[test]
    fn signing_never_panics(key in prop::collection::vec(any::<u8>(), 0..100), sn in ".{0,20}", time in any::<u32>(), data in json_value(), raw in ".{0,40}") {
        let _ = crate::local::sign_request(&key, &sn, time, &data.to_string());
        let _ = crate::local::sign_request(&key, &sn, time, &raw);
        prop_assert_eq!(crate::totp::code(&key, time).to_string().len(), 9);
    }

    #[test]
    fn c_strings_never_panic(a in prop::collection::vec(1u8..=255, 0..64), b in prop::collection::vec(1u8..=255, 0..64), len in 0usize..16, time in any::<u32>()) {
        use std::ffi::{CString, c_char};
        use crate::ffi::hmx_status;
        let a = CString::new(a).unwrap();
        let b = CString::new(b).unwrap();
        let mut err = vec![0 as c_char; len];
        let err_ptr = if len == 0 { std::ptr::null_mut() } else { err.as_mut_ptr() };
        let mut code = [0 as c_char; 10];
        let mut body = std::ptr::null_mut();
        let mut client = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated strings, buffers of the given lengths.
        unsafe {
            let s = crate::ffi::hmx_totp(a.as_ptr(), time, code.as_mut_ptr(), code.len());
            prop_assert!(s != hmx_status::HMX_STATUS_PANIC);
            let s = crate::ffi::hmx_sign_request(a.as_ptr(), b.as_ptr(), time, b.as_ptr(), &mut body, err_ptr, len);
            prop_assert!(s != hmx_status::HMX_STATUS_PANIC);
            if s == hmx_status::HMX_STATUS_OK {
                crate::ffi::hmx_free(body.cast());
            }
            let s = crate::ffi::hmx_client_new(a.as_ptr(), 0, b.as_ptr(), &mut client, err_ptr, len);
            prop_assert!(s != hmx_status::HMX_STATUS_PANIC);
            crate::ffi::hmx_free(client.cast());
            if len > 0 {
                let written = err.iter().position(|&c| c == 0);
                prop_assert!(written.is_some());
                prop_assert!(std::str::from_utf8(std::slice::from_raw_parts(err.as_ptr().cast::<u8>(), written.unwrap())).is_ok());
            }
        }
    }
}

proptest! {
    #[test]
    fn thermostat_answers_never_panic(answer in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let wrapped = json!({"par": answer.clone(), "tt": answer.clone()});
        for value in [answer, wrapped] {
            if let Value::Object(map) = value {
                let _ = crate::local::parse_parameters(&map);
                let _ = crate::local::parse_schedule(&map);
            }
        }
        let ip = std::net::IpAddr::from([127, 0, 0, 2]);
        let _ = crate::local::parse_announcement(&bytes, ip);
    }

    #[test]
    fn base32_and_addresses_never_panic(text in ".{0,40}", bytes in prop::collection::vec(any::<u8>(), 0..64), time in any::<u32>()) {
        let _ = crate::totp::base32_decode(&bytes);
        let _ = crate::totp::base32_decode(text.as_bytes());
        for scheme in crate::totp::Scheme::ALL {
            let _ = scheme.code(&bytes, time);
        }
        let _ = crate::local::Thermostat::new(&text, &text);
        let _ = text.parse::<crate::totp::Scheme>();
    }
}
