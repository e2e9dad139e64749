//! The configuration file: read or refused at a line (reach::fuzzing::config_file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::fuzzing::config_file(data);
});
