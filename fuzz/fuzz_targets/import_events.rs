//! Event imports, CSV and JSONL, every preset, options from the first two bytes, rolled back (reach::fuzzing::import).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::fuzzing::import(reach_fuzz::store(), reach::import::What::Events, data);
});
