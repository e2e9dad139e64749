//! Policy files: read or refused at a line, written back, quiet hours asked (reach::fuzzing::policy_file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::fuzzing::policy_file(data);
});
