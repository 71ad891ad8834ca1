//! Runs tests/python/test_hmx.py (stdlib unittest) against the built library
//! and the stand-in cloud process, so that `cargo test` covers the Python module.
#![cfg(feature = "test-util")]

mod common;

use std::process::Command;

use serde_json::json;

#[test]
fn python_module() {
    let mock_cloud = common::example("mock_cloud");
    let mock_thermostat = common::example("mock_thermostat");
    let data = r#"{"par":[[125,7,"0"],[23,2,"1"]],"cmd":1}"#;
    let vectors: Vec<_> = [
        ("BW4ERXAJXXXXXXXX", 634_929_122u32),
        ("AAD4EXAJX4E8A8XT", 0),
        ("Ключ", u32::MAX),
    ]
    .into_iter()
    .map(|(key, time)| {
        let sn = "058016000543464839373520000159";
        json!({
            "key": key, "time": time, "sn": sn, "data": data,
            "code": hmx::totp::code(key.as_bytes(), time).to_string(),
            "body": hmx::local::sign_request(key.as_bytes(), sn, time, data).unwrap(),
        })
    })
    .collect();
    let output = Command::new("python3")
        .arg("tests/python/test_hmx.py")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("HMX_LIB", common::profile_dir().join("libhmx.so"))
        .env("HMX_MOCK_CLOUD", mock_cloud)
        .env("HMX_MOCK_THERMOSTAT", mock_thermostat)
        .env("HMX_DEMO_KEY", hmx::testing::DEMO_KEY)
        .env("HMX_EXPECT_VERSION", hmx::VERSION)
        .env("HMX_EXPECT_TOTP", serde_json::to_string(&vectors).unwrap())
        .output()
        .expect("python3 is installed (see README)");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Python tests failed:\n{report}");
    assert!(report.contains("\nOK"), "{report}");
    eprintln!("{report}");
}
