//! The `featscope` command: parses the arguments and hands them to [`cmd`], which runs the
//! command; here only what every command shares: SIGPIPE, usage errors and the error line.

mod cmd;

use clap::Parser;
use featscope::cli::Cli;
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
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("featscope: error: {}", featscope::text::error_line(&e));
            if featscope::is_usage_error(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
