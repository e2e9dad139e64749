//! Any bytes as a Parquet file, imported as events then as contacts, rolled back (reach::fuzzing::import_parquet).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach_fuzz::pass_over_caught_panics();
    reach::fuzzing::import_parquet(reach_fuzz::store(), reach::import::What::Events, data);
    reach::fuzzing::import_parquet(reach_fuzz::store(), reach::import::What::Contacts, data);
});
