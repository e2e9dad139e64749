//! The segment language: parse, check against a demo-like catalog, print and read back (reach::fuzzing::segment).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::fuzzing::segment(data);
});
