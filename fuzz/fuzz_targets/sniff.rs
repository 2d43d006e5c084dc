//! `media::sniff` and `media::check` on any prefix: no panic, and a recognised file always maps
//! to an extension its own kind allows. The office-document detection also gets the bytes past
//! the first 8 KiB as the further read `media::sniff_file` makes (a zip's end, a compound file's
//! directory sector).
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
    let (prefix, extra) = data.split_at(data.len().min(8192));
    if let Some(Some(document)) = media::fuzzing::document(prefix, extra) {
        assert_eq!(document.kind, MediaType::Document);
        assert!(media::allowed_extensions(MediaType::Document).contains(&document.extension));
    }
});
