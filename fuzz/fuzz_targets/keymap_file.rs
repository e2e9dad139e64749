//! Console keymap files: read or refused at a line, then fed keys (reach::fuzzing::keymap_file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::fuzzing::keymap_file(data);
});
