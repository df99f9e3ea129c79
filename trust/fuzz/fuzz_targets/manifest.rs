//! Any text as a manifest, any bytes as a component carrying one.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use hamgam_trust::manifest::{Manifest, find_custom_section, replace_manifest};
    let _ = Manifest::from_component(data);
    let _ = find_custom_section(data, "hamgam:manifest");
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Manifest::parse(text);
        let _ = replace_manifest(b"\0asm\x0d\0\x01\0", text);
    }
});
