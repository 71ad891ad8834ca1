#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| hmx::fuzzing::command_line(data));
