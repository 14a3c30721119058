//! A progress bar for long inputs: drawn on stderr only when it is a
//! terminal, and only once the work has taken more than a second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of one long task.
pub struct Progress {
    start: Instant,
    total: Option<u64>,
    what: &'static str,
    bytes: bool,
    bar: Option<ProgressBar>,
    enabled: bool,
}

impl Progress {
    /// A task of `total` units, if known: bytes when `bytes`, else items.
    pub fn new(what: &'static str, total: Option<u64>, bytes: bool) -> Progress {
        Progress {
            start: Instant::now(),
            total,
            what,
            bytes,
            bar: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    /// Reports the units done so far.
    pub fn set(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() {
            if self.start.elapsed() < Duration::from_secs(1) {
                return;
            }
            let (done, total) = if self.bytes {
                ("{binary_bytes}", "{binary_total_bytes}")
            } else {
                ("{human_pos}", "{human_len}")
            };
            let template = match self.total {
                Some(_) => {
                    format!("{{msg}} [{{bar:30}}] {{percent:>3}}% {done}/{total} eta {{eta}}")
                }
                None => format!("{{msg}} {{spinner}} {done}"),
            };
            let style = ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar =
                ProgressBar::with_draw_target(self.total, ProgressDrawTarget::stderr_with_hz(4))
                    .with_style(style);
            bar.set_message(self.what);
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
