//! Any bytes given to the bundle reader: an error or a verified bundle,
//! never a panic, hang or out-of-bounds read.
#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let trust = common::trust();
    let _ = hamgam_trust::bundle::verify(data, &trust);
    let _ = hamgam_trust::bundle::peek(data);
});
