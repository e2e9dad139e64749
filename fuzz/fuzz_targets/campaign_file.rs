//! Campaign files, TOML or JSON, read against the demo store and written back (reach::fuzzing::campaign_file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::fuzzing::campaign_file(reach_fuzz::session(), data);
});
