//! Writing results to stdout. A closed pipe (`vouch key list | head -1`)
//! ends the output quietly instead of panicking.

use std::io::{ErrorKind, Write};

use super::CliError;

/// Writes `text` to stdout and flushes it.
pub fn print(text: &str) -> Result<(), CliError> {
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
