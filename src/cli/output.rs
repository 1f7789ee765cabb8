//! Writing results to stdout. A closed pipe (`vouch key list | head -1`)
//! ends the output quietly instead of panicking.

use std::io::{ErrorKind, Write};

use super::CliError;

/// Set when a command's stdout is replaced by another shape (the
/// `docker trust` plugin prints Docker's lines, not vouch's).
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// From now on [`print`] writes nothing: the caller prints its own output.
pub fn quiet() {
    QUIET.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Writes `text` to stdout (unless [`quiet`]) and flushes it.
pub fn print(text: &str) -> Result<(), CliError> {
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
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
