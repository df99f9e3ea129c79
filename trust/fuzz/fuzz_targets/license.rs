//! Any text as a license file.
#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let trust = common::trust();
        let _ = hamgam_trust::license::License::verify(text, &trust);
        let _ = hamgam_trust::license::License::peek(text);
    }
});
