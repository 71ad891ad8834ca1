#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| hmx::fuzzing::api_answer(data));
