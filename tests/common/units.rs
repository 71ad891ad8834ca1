//! The recorded units in `tests/fixtures/`, found at run time: a new file is a new case everywhere.

use std::path::{Path, PathBuf};

use hmx::local::Fixture;

/// `tests/fixtures/`.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One recorded unit by file name (`oz.json`).
pub fn fixture(name: &str) -> Fixture {
    Fixture::load(fixture_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every recorded unit, by file name, in name order.
pub fn fixtures() -> Vec<(String, Fixture)> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "fixtures: {names:?}");
    names
        .into_iter()
        .map(|n| (n.clone(), fixture(&n)))
        .collect()
}
