//! The reporter of the command line: notes on stderr behind `featscope: `, written files on
//! stdout one per line (what scripts read), a progress bar on stderr when it is a terminal, and
//! `--print`'s pictures on stdout. Everything shown is cleaned first: names and messages come
//! from files.

use super::print::Printer;
use featscope::report::{Reporter, Work};
use featscope::text::sanitize;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

#[derive(Default)]
pub struct Terminal {
    /// The bar while work with a known length runs; lines then go above it.
    bar: Mutex<Option<ProgressBar>>,
    /// Decided on the first picture: asking the terminal costs a round trip.
    printer: OnceLock<Printer>,
}

impl Terminal {
    fn bar(&self) -> Option<ProgressBar> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A line on stderr, or on stdout for `to_stdout`; above the bar while there is one (which
    /// draws on stderr, so a script reading stdout gets the list when there is no bar).
    fn line(&self, text: String, to_stdout: bool) {
        match self.bar() {
            Some(bar) => bar.println(text),
            None if to_stdout => println!("{text}"),
            None => eprintln!("{text}"),
        }
    }
}

impl Reporter for Terminal {
    fn note(&self, line: &str) {
        self.line(format!("featscope: {}", sanitize(line)), false);
    }

    fn skipped(&self, reason: &str) {
        self.line(format!("featscope: skipped {}", sanitize(reason)), false);
    }

    fn failed(&self, reason: &str) {
        self.line(format!("featscope: error: {}", sanitize(reason)), false);
    }

    fn wrote(&self, path: &Path) {
        self.line(sanitize(&path.display().to_string()), true);
    }

    fn start(&self, work: Work, total: u64, done: u64) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let template = match work {
            Work::Images => "{bar:30} {pos}/{len} {wide_msg}",
            Work::Scan => "{bar:30} {pos}/{len} images · {per_sec} · ETA {eta} {wide_msg}",
        };
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(done);
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn doing(&self, what: &str) {
        match self.bar() {
            Some(bar) => bar.set_message(sanitize(what)),
            // Without a bar, a line that the next one overwrites, on a terminal only.
            None if std::io::stderr().is_terminal() => {
                if what.is_empty() {
                    eprint!("\r\x1b[K");
                } else {
                    eprint!("\rfeatscope: {}", sanitize(what));
                }
            }
            None => {}
        }
    }

    fn advance(&self) {
        if let Some(bar) = self.bar() {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    fn picture(&self, title: &str, img: &image::RgbImage) {
        println!("{}", sanitize(title));
        let printer = self.printer.get_or_init(Printer::for_stdout);
        if let Err(e) = printer.print(img) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("featscope: cannot print {}: {e}", sanitize(title));
            }
        }
    }
}
