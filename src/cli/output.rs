//! Writing results to stdout. A closed pipe (`vouch key list | head -1`)
//! ends the output quietly instead of panicking.

use std::io::{ErrorKind, Write};

use super::CliError;

/// Set when a command's stdout is replaced by another shape (the
/// `docker trust` plugin prints Docker's lines, not vouch's): what vouch
/// would have printed is kept here instead, for the caller to read.
static CAPTURED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// From now on [`print`] writes nothing to stdout; [`take_captured`]
/// returns what it was given.
pub fn quiet() {
    if let Ok(mut c) = CAPTURED.lock() {
        c.get_or_insert_with(String::new);
    }
}

/// What [`print`] was given since the last call (while [`quiet`]).
pub fn take_captured() -> String {
    CAPTURED
        .lock()
        .ok()
        .and_then(|mut c| c.as_mut().map(std::mem::take))
        .unwrap_or_default()
}

/// Writes `text` to stdout (unless [`quiet`]) and flushes it.
pub fn print(text: &str) -> Result<(), CliError> {
    if let Ok(mut c) = CAPTURED.lock()
        && let Some(kept) = c.as_mut()
    {
        kept.push_str(text);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::failed(
            format!("writing to standard output: {e}"),
            "check where the output goes",
        )),
    }
}
