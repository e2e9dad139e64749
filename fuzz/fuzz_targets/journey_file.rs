//! Journey files: read or refused at a line (reach::fuzzing::journey_file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::fuzzing::journey_file(data);
});
