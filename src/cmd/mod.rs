//! The commands: each file takes its parsed arguments, opens what the command needs, hands the
//! work to the library with the terminal's [`Terminal`] reporter, and turns the outcome into an
//! exit code. The library computes and reports; only this layer (and `main.rs`) prints.

mod compare;
mod doctor;
mod layers;
mod print;
mod scan;
mod snapshot;
mod terminal;

use featscope::cli::{Cli, Command};
use std::process::ExitCode;
pub use terminal::Terminal;

/// Runs the command `cli` names (the view when it names none).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Snapshot(args)) => snapshot::run(args),
        Some(Command::Compare(args)) => compare::run(args),
        Some(Command::Scan(args)) => scan::run(args),
        Some(Command::Layers(args)) => layers::run(
            &args.model,
            args.image.as_deref(),
            args.json,
            &args.run.config(),
        ),
        Some(Command::Doctor(args)) => {
            doctor::run(args.ort_lib.as_deref(), !args.no_terminal_query)
        }
        None => featscope::tui::run(cli.view.options()),
    }
}

/// The opening every command that writes files shares: temporary files are removed if the
/// command is interrupted (SIGINT, SIGTERM), so an output folder holds only whole files.
fn writing_files() -> anyhow::Result<()> {
    featscope::outdir::clean_up_on_signals()
}

/// Exit 1, or 0 when all went well.
fn failed_if(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
