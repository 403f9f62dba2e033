//! What a command tells the person running it while it works: notes, skipped inputs, written
//! files and progress. The library never prints; it hands these to a [`Reporter`], which the
//! command line implements for the terminal and tests and library users leave [`Silent`].
//!
//! Text handed over may come from files (names, engine messages): a reporter that shows it
//! cleans it first.

use std::path::Path;

/// How long work goes, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Images of a batch, one after the other.
    Images,
    /// Images of a scan, with a rate and the time left.
    Scan,
}

pub trait Reporter: Sync {
    /// A line about the run (which engine, a resumed scan, a value that is not finite).
    fn note(&self, line: &str);
    /// An input the command goes on without, and why.
    fn skipped(&self, reason: &str);
    /// An input that failed; the command goes on and fails at the end.
    fn failed(&self, reason: &str);
    /// A file written, for the list a script reads.
    fn wrote(&self, path: &Path);
    /// Work of `total` steps starts, `done` of them already done.
    fn start(&self, work: Work, total: u64, done: u64);
    /// What the current step is doing (the image, the masked inputs of an evidence map).
    fn doing(&self, what: &str);
    /// One step more is done.
    fn advance(&self);
    /// The work is over: a progress bar goes.
    fn finish(&self);
    /// A picture to show as it is made (`snapshot --print`), under its title.
    fn picture(&self, title: &str, img: &image::RgbImage);
}

/// Tells nobody: for tests and programs that read the results themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn note(&self, _: &str) {}
    fn skipped(&self, _: &str) {}
    fn failed(&self, _: &str) {}
    fn wrote(&self, _: &Path) {}
    fn start(&self, _: Work, _: u64, _: u64) {}
    fn doing(&self, _: &str) {}
    fn advance(&self) {}
    fn finish(&self) {}
    fn picture(&self, _: &str, _: &image::RgbImage) {}
}
