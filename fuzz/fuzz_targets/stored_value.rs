//! The store's decoders over damaged values (reach::fuzzing::stored_value).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reach::fuzzing::stored_value(data);
});
