//! `featscope compare`: the view of A, B and A − B, or with `--out` the files and one line on
//! how far the runs differ; exit 1 past `--fail-above` or below `--fail-below-sqnr`.

use featscope::cli::CompareArgs;
use featscope::compare::{CompareJob, CompareOutcome};
use std::process::ExitCode;

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    match args.job() {
        Some(job) => {
            super::writing_files()?;
            let outcome = featscope::compare::run(&job, &super::Terminal::default())?;
            Ok(compare_exit(&outcome, &job))
        }
        None => featscope::tui::run_compare(
            args.view_options(),
            args.inputs(),
            args.layers.clone(),
            (args.threshold, args.sqnr_threshold),
        ),
    }
}

/// One line on stderr for the layers over `--fail-above`, and the exit code.
fn compare_exit(outcome: &CompareOutcome, job: &CompareJob) -> ExitCode {
    let report = &outcome.report;
    if let Some(worst) = report.worst() {
        eprintln!(
            "featscope: {} layers compared; largest max|A−B|/max|A| {:.3e} at {}{}",
            report.layers.len(),
            worst.rel,
            worst.name,
            match &report.first_above {
                Some(first) => format!("; first above {:e}: {first}", report.threshold),
                None => String::new(),
            }
        );
    }
    if let Some(worst) = report.worst_sqnr().filter(|_| report.worst_local.is_some()) {
        let db = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} dB"));
        let local = report
            .layers
            .iter()
            .find(|l| Some(&l.name) == report.worst_local.as_ref());
        eprintln!(
            "featscope: {} of {} feature maps paired; lowest SQNR {} at {}; the layer that loses \
             most by itself: {} (local SQNR {})",
            report.pairing.paired_feature_maps,
            report.pairing.a_feature_maps,
            db(worst.sqnr_db),
            worst.name,
            local.map_or_else(|| "-".into(), |l| l.name.to_string()),
            db(local.and_then(|l| l.local_sqnr_db)),
        );
    }
    let mut code = ExitCode::SUCCESS;
    if let (Some(first), Some(limit)) = (outcome.failing.first(), job.fail_above) {
        eprintln!(
            "featscope: error: {} of {} layers differ by more than {limit:e} (the first: {first})",
            outcome.failing.len(),
            report.layers.len()
        );
        code = ExitCode::from(1);
    }
    if let (Some(first), Some(limit)) = (outcome.below_sqnr.first(), job.fail_below_sqnr) {
        eprintln!(
            "featscope: error: {} of {} layers have an SQNR below {limit} dB (the first: {first})",
            outcome.below_sqnr.len(),
            report.layers.len()
        );
        code = ExitCode::from(1);
    }
    code
}
