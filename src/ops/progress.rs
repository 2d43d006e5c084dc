//! Progress of long operations, drawn on the terminal (stderr) and nowhere else: hidden when
//! stderr is not a terminal or `CI` is set, so logs and pipes stay clean.

use std::{io::IsTerminal, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Makes progress bars, visible or not.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    visible: bool,
}

impl Progress {
    /// Visible when stderr is a terminal and the `CI` variable is unset.
    pub fn for_terminal() -> Self {
        Self { visible: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() }
    }

    /// Never drawn (tests, library callers).
    pub fn hidden() -> Self {
        Self { visible: false }
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() }
    }

    /// A bar over `total` bytes.
    pub fn bytes(&self, what: &str, total: u64) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(total), self.target());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>10} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        bar
    }

    /// A spinner for a step of unknown length; its message can be updated.
    pub fn spinner(&self, what: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(150));
        bar
    }
}
