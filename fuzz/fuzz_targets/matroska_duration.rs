//! The Matroska/WebM duration walk on any bytes: no panic, no allocation by a claimed size (the
//! fuzzer's RSS limit catches one), and any answer is a finite, positive number of seconds.
#![no_main]

use corpus_te::media::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(seconds) = fuzzing::matroska_seconds(data) {
        assert!(seconds.is_finite() && seconds > 0.0, "{seconds}");
    }
});
