//! `media::sniff` and `media::check` on any prefix: no panic, and a recognised file always maps
//! to an extension its own kind allows.
#![no_main]

use corpus_te::{domain::MediaType, media};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sniffed = media::sniff(data);
    if let Some(s) = &sniffed {
        assert!(media::allowed_extensions(s.kind).contains(&s.extension));
    }
    for declared in MediaType::ALL {
        let _ = media::check(declared, sniffed.as_ref(), Some("upload.bin"));
    }
});
