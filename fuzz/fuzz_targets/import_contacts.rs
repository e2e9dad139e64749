//! Contact imports, CSV and JSONL (gzip, zip and Parquet as streams too), every preset, options from the first two bytes, rolled back (reach::fuzzing::import).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach_fuzz::pass_over_caught_panics();
    reach::fuzzing::import(reach_fuzz::store(), reach::import::What::Contacts, data);
});
