//! `featscope scan` and `featscope scan merge`: the result's path on stdout; exit 1 when
//! nothing was scanned, or with `--strict` when anything was skipped.

use featscope::cli::ScanArgs;
use featscope::report::Reporter;
use featscope::scan;
use std::process::ExitCode;

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    super::writing_files()?;
    let report = super::Terminal::default();
    if let Some(merge) = &args.command {
        let outcome = scan::merge(&merge.merge_job(), &report)?;
        if outcome.montages_left_out {
            report.note(
                "the shards have montages; give --model and --data to draw the merged scan's",
            );
        }
        report.wrote(&outcome.result_path);
        return Ok(ExitCode::SUCCESS);
    }
    let Some(job) = args.job() else {
        anyhow::bail!("scan needs a model and a folder of images");
    };
    let outcome = scan::run(&job, &report)?;
    report.wrote(&outcome.result_path);
    Ok(super::failed_if(
        outcome.scanned == 0 || (job.strict && outcome.skipped > 0),
    ))
}
