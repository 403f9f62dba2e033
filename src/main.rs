//! The `featscope` command: parses the arguments and hands each command to the library.

use clap::Parser;
use featscope::cli::{Cli, Command, SnapshotArgs};
use featscope::snapshot::{self, NoMatch, SnapshotOptions};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Like other Unix filters: `featscope layers m.onnx | head` ends quietly when head is done,
    // instead of panicking on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("featscope: error: {}", featscope::text::error_line(&e));
            // A --layer that matches nothing is a usage error.
            if e.downcast_ref::<NoMatch>().is_some()
                || e.downcast_ref::<snapshot::UsageError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Snapshot(args)) => {
            let outcome = snapshot::run_batch(&batch(args))?;
            Ok(if outcome.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Some(Command::Compare(args)) => match args.job() {
            Some(job) => {
                let outcome = featscope::compare::run(&job)?;
                Ok(compare_exit(&outcome, &job))
            }
            None => featscope::tui::run_compare(
                args.view_options(),
                args.inputs(),
                args.layers.clone(),
                (args.threshold, args.sqnr_threshold),
            ),
        },
        Some(Command::Scan(args)) => scan(args),
        Some(Command::Layers(args)) => {
            let run = args.run.config();
            featscope::record::print_layers(&args.model, args.image.as_deref(), args.json, &run)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Doctor(args)) => {
            featscope::doctor::run(args.ort_lib.as_deref(), !args.no_terminal_query)?;
            Ok(ExitCode::SUCCESS)
        }
        None => featscope::tui::run(cli.view.options()),
    }
}

/// One line on stderr for the layers over `--fail-above`, and the exit code.
fn compare_exit(
    outcome: &featscope::compare::CompareOutcome,
    job: &featscope::compare::CompareJob,
) -> ExitCode {
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

fn batch(args: SnapshotArgs) -> snapshot::Batch {
    snapshot::Batch {
        options: SnapshotOptions {
            colormap: args.colormap.into(),
            normalization: args.normalization.into(),
            scale: args.scale,
            tile_labels: args.tile_labels,
            overlay: args.overlay,
            npy: args.npy,
            print: args.print,
            filters: args.filters,
            cam: args.evidence_request(),
            montage: args.montage,
            fail_on_nonfinite: args.fail_on_nonfinite,
        },
        run: args.run.config(),
        model: args.model,
        images: args.images,
        layers: args.layers,
        out: args.out,
    }
}

fn scan(args: featscope::cli::ScanArgs) -> anyhow::Result<ExitCode> {
    use featscope::cli::ScanCommand;
    use featscope::scan;
    if let Some(ScanCommand::Merge { dirs, out }) = &args.command {
        let path = scan::merge(dirs, out)?;
        println!("{}", featscope::text::sanitize(&path.display().to_string()));
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(model), Some(data)) = (args.model.clone(), args.data.clone()) else {
        anyhow::bail!("scan needs a model and a folder of images");
    };
    let job = scan::ScanJob {
        model,
        data,
        out: args.out.clone(),
        layers: args.layers.clone(),
        batch: args.batch,
        top: args.top,
        shard: args.shard,
        resume: args.resume,
        strict: args.strict,
        montages: !args.layers.is_empty(),
        run: args.run.config(),
    };
    let outcome = scan::run(&job)?;
    println!(
        "{}",
        featscope::text::sanitize(&outcome.result_path.display().to_string())
    );
    Ok(
        if outcome.scanned == 0 || (job.strict && outcome.skipped > 0) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}
