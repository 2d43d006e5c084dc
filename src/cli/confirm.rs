//! Confirmation for destructive commands: `--yes`, or `YES` typed on a terminal.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;

/// Succeeds when the caller passed `--yes` or typed `YES`; otherwise explains and fails.
pub fn confirm(yes: bool, what: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("{what} destroys data: pass --yes to confirm (no terminal to ask on)");
    }
    print!("WARNING: {what} destroys data. Type 'YES' to confirm: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim_end_matches(['\r', '\n']) != "YES" {
        bail!("operation cancelled");
    }
    Ok(())
}
