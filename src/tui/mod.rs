//! The interactive view (being built).

use crate::cli::ViewArgs;
use std::process::ExitCode;

pub fn run(_args: ViewArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the interactive view is not built yet; use `featscope snapshot`")
}

/// Prints what the terminal supports, for `featscope doctor`.
pub fn terminal_report(_query: bool) {}
