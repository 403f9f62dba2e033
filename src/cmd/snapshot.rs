//! `featscope snapshot`: pictures, arrays and summary.json for each image; exit 1 when any
//! image failed.

use featscope::cli::SnapshotArgs;
use std::process::ExitCode;

pub fn run(args: SnapshotArgs) -> anyhow::Result<ExitCode> {
    super::writing_files()?;
    let outcome = featscope::snapshot::run_batch(&args.batch(), &super::Terminal::default())?;
    Ok(super::failed_if(outcome.failed > 0))
}
