//! Timing an upload without trusting it: our own container parsers run in the server process
//! (they are bounded by construction), while third-party demuxers run in a child process
//! (`corpus media-probe`) whose address space is capped and whose time is limited, so a crafted
//! file that makes a demuxer allocate what a header claims kills only that child. Whatever the
//! parsers say is then checked against the bytes: a duration the file cannot hold for any real
//! bitrate of its codec is stored as unknown and flagged.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::Sniffed;
use super::duration::{self, DECODER_FORMATS, Timer};
use super::sniff;

/// Name of the hidden subcommand that runs a demuxer in a child process.
pub const SUBCOMMAND: &str = "media-probe";

/// Limits of the child processes that run third-party demuxers.
#[derive(Debug, Clone)]
pub struct ProbeLimits {
    /// The `corpus` executable to run as the child.
    pub program: PathBuf,
    /// Address-space cap of a child, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock limit of a child; it is killed after this.
    pub timeout: Duration,
    /// Children running at once; further uploads wait for a slot.
    pub concurrency: usize,
}

impl ProbeLimits {
    /// The limits the `MEDIA_PROBE_*` settings give; the program defaults to this executable.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        let uploads = &config.uploads;
        let program = match &uploads.media_probe_program {
            Some(program) => program.clone(),
            None => std::env::current_exe()
                .map_err(|e| anyhow::anyhow!("finding this executable for MEDIA_PROBE_PROGRAM: {e}"))?,
        };
        Ok(Self {
            program,
            memory_bytes: uploads.media_probe_memory_mb.saturating_mul(1024 * 1024),
            timeout: Duration::from_secs(uploads.media_probe_timeout_seconds.max(1)),
            concurrency: uploads.media_probe_concurrency.max(1),
        })
    }
}

/// What was learnt about an upload's playing time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measured {
    /// Whole seconds (truncated), or `None` when unknown.
    pub seconds: Option<i32>,
    /// A parser claimed a duration that the file's size cannot hold; `seconds` is then `None`.
    pub implausible: bool,
}

/// Times uploads (see the module documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct DurationProbe {
    limits: Arc<ProbeLimits>,
    slots: Arc<Semaphore>,
}

impl DurationProbe {
    /// A probe running at most `limits.concurrency` children at once.
    pub fn new(limits: ProbeLimits) -> Self {
        let slots = Arc::new(Semaphore::new(limits.concurrency.max(1)));
        Self { limits: Arc::new(limits), slots }
    }

    /// The playing time of the `size`-byte file at `path`, sniffed as `sniffed`. Never fails:
    /// anything that goes wrong gives "unknown".
    pub async fn measure(&self, path: &Path, sniffed: Sniffed, size: u64) -> Measured {
        let claimed = match duration::timer(&sniffed) {
            Timer::Untimed => return Measured::default(),
            Timer::Container => {
                let path = path.to_owned();
                tokio::task::spawn_blocking(move || duration::container_seconds(&path, &sniffed)).await.ok().flatten()
            }
            Timer::Decoder => self.in_child(path, &sniffed).await,
        };
        judge(claimed, size, &sniffed)
    }

    async fn in_child(&self, path: &Path, sniffed: &Sniffed) -> Option<f64> {
        let _slot = self.slots.acquire().await.ok()?;
        let child = tokio::process::Command::new(&self.limits.program)
            .arg(SUBCOMMAND)
            .arg("--format")
            .arg(sniffed.extension)
            .arg("--memory-bytes")
            .arg(self.limits.memory_bytes.to_string())
            .arg(path)
            // The child needs no settings; keep secrets out of its environment.
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                tracing::warn!(error = %e, program = %self.limits.program.display(), "could not start the media probe");
                return None;
            }
        };
        // On timeout the future, and with it the child, is dropped: kill_on_drop ends it.
        match tokio::time::timeout(self.limits.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) if output.status.success() => parse_answer(&output.stdout),
            Ok(Ok(output)) => {
                tracing::warn!(status = %output.status, format = sniffed.extension, "the media probe failed; duration unknown");
                None
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "waiting for the media probe failed; duration unknown");
                None
            }
            Err(_) => {
                tracing::warn!(format = sniffed.extension, "the media probe timed out; duration unknown");
                None
            }
        }
    }
}

/// The child's answer: one line, seconds as a decimal number, or `unknown`.
fn parse_answer(stdout: &[u8]) -> Option<f64> {
    std::str::from_utf8(stdout).ok()?.trim().parse::<f64>().ok()
}

/// Lowest average bitrate, in bits per second, that a real file of this format has; a duration
/// that would need less is a lie of the header. Each is about half the codec's own floor, so real
/// recordings (silence included) pass: MP3 never goes below 8 kbit/s, PCM/ADPCM WAV below a few
/// kbit/s; Opus in discontinuous transmission, FLAC of silence and the containers can go very low.
fn min_bits_per_second(sniffed: &Sniffed) -> f64 {
    match *sniffed {
        s if s == sniff::MP3 => 4_000.0,
        s if s == sniff::WAV => 1_000.0,
        _ => 64.0,
    }
}

/// Highest average bitrate of the plain audio formats (well above 8 channels of 32-bit 192 kHz
/// PCM); video containers have no useful ceiling.
const MAX_AUDIO_BITS_PER_SECOND: f64 = 100_000_000.0;

/// Turns a parser's claim into what is stored.
fn judge(claimed: Option<f64>, size: u64, sniffed: &Sniffed) -> Measured {
    let Some(seconds) = claimed.filter(|s| s.is_finite() && *s >= 0.0) else { return Measured::default() };
    let bits = size as f64 * 8.0;
    let too_long = seconds > 0.0 && bits / seconds < min_bits_per_second(sniffed);
    let too_short = DECODER_FORMATS.contains(sniffed) && seconds > 0.0 && bits / seconds > MAX_AUDIO_BITS_PER_SECOND;
    match duration::whole_seconds(Some(seconds)) {
        Some(whole) if !too_long && !too_short => Measured { seconds: Some(whole), implausible: false },
        _ => Measured { seconds: None, implausible: true },
    }
}

/// The child side (`corpus media-probe --format .mp3 --memory-bytes N FILE`): caps its own
/// address space, runs the demuxer and prints the seconds (or `unknown`). Refuses to run when the
/// cap cannot be set.
pub fn run_child(path: &Path, format: &str, memory_bytes: u64) -> ExitCode {
    if let Err(e) = rlimit::setrlimit(rlimit::Resource::AS, memory_bytes, memory_bytes) {
        eprintln!("error: cannot cap the address space: {e}");
        return ExitCode::FAILURE;
    }
    let Some(sniffed) = DECODER_FORMATS.iter().find(|s| s.extension == format) else {
        eprintln!("error: `{format}` is not a format the media probe times");
        return ExitCode::from(2);
    };
    match duration::decoder_seconds(path, sniffed) {
        Some(seconds) => println!("{seconds}"),
        None => println!("unknown"),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_a_duration_the_bytes_cannot_hold_is_unknown_and_flagged() {
        // The file: 400 bytes of M4A claiming 2,000,000,000 seconds.
        let lie = judge(Some(2e9), 400, &sniff::M4A);
        assert_eq!(lie, Measured { seconds: None, implausible: true });
        // A 14 KB, 32 kbit/s MP3 of 3.55 s is fine; claiming an hour is not.
        assert_eq!(judge(Some(3.55), 14_438, &sniff::MP3), Measured { seconds: Some(3), implausible: false });
        assert!(judge(Some(3600.0), 14_438, &sniff::MP3).implausible);
        // One second of audio in a gigabyte is not a real MP3 either; a video may be that dense.
        assert!(judge(Some(1.0), 1 << 30, &sniff::MP3).implausible);
        assert!(!judge(Some(1.0), 1 << 30, &sniff::MP4).implausible);
        // Unknown stays unknown, unflagged; so does a zero-length clip.
        assert_eq!(judge(None, 400, &sniff::M4A), Measured::default());
        assert_eq!(judge(Some(0.4), 400, &sniff::OPUS), Measured { seconds: Some(0), implausible: false });
        assert_eq!(judge(Some(f64::NAN), 400, &sniff::OPUS), Measured::default());
    }

    #[test]
    fn media_probe_answers_are_parsed_strictly() {
        assert_eq!(parse_answer(b"3.552653\n"), Some(3.552653));
        assert_eq!(parse_answer(b"unknown\n"), None);
        assert_eq!(parse_answer(b"\xff"), None);
    }
}
