//! Progress for long operations, on a terminal only: one line on stderr,
//! rewritten in place at most ten times a second and cleared at the end.
//! Redirected output (logs, CI, pipes) never sees it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Redraws at most this often.
const EVERY: Duration = Duration::from_millis(100);

/// A counter shown as `LABEL DONE/TOTAL`.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: usize,
    last: Option<Instant>,
    shown: bool,
    enabled: bool,
}

impl Progress {
    /// Shown only when stderr is a terminal and there are at least
    /// `at_least` steps (short operations need none).
    pub fn new(label: impl Into<String>, total: usize, at_least: usize) -> Progress {
        Progress {
            label: label.into(),
            total,
            last: None,
            shown: false,
            enabled: total >= at_least && std::io::stderr().is_terminal(),
        }
    }

    /// `done` of the steps are done.
    pub fn set(&mut self, done: usize) {
        if !self.enabled
            || self
                .last
                .is_some_and(|t| t.elapsed() < EVERY && done < self.total)
        {
            return;
        }
        self.last = Some(Instant::now());
        self.shown = true;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{} {done}/{}", self.label, self.total);
        let _ = err.flush();
    }

    /// A line of its own (for steps that may prompt in between).
    pub fn step(&mut self, done: usize, what: &str) {
        if self.enabled {
            self.clear();
            eprintln!("{} {}/{}: {what}", self.label, done + 1, self.total);
        }
    }

    /// Removes the line.
    pub fn clear(&mut self) {
        if std::mem::take(&mut self.shown) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}
