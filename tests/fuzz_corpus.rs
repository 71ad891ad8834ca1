//! Keeping the parsers of untrusted input safe: every input in the committed
//! fuzz corpora (`fuzz/corpus/<target>/`) runs through its target on stable
//! Rust, as `cargo fuzz` runs it on nightly. A missing or empty corpus fails.
#![cfg(feature = "fuzzing")]

use std::path::Path;

#[test]
fn every_corpus_replays_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, target) in hmx::fuzzing::TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!("the corpus for {name} is missing ({}): {e}", dir.display())
        });
        let mut inputs = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            target(&data);
            inputs += 1;
        }
        assert!(inputs > 0, "the corpus for {name} is empty");
        println!("{name}: {inputs} inputs");
    }
    // Every target has a fuzz target file, and every file a corpus.
    for entry in std::fs::read_dir(root.parent().unwrap().join("fuzz_targets")).unwrap() {
        let file = entry.unwrap().path();
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        assert!(
            hmx::fuzzing::TARGETS.iter().any(|(name, _)| *name == stem),
            "fuzz/fuzz_targets/{stem}.rs has no entry in hmx::fuzzing::TARGETS"
        );
    }
}
