#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| hmx::fuzzing::fixture_file(data));
