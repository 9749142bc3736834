//! Progress bars on the terminal for the crates' long jobs: [`Bars`] for
//! `twin_core::progress` (one bar per stage), [`ImportBar`] for the FHIR import's
//! bytes. On stderr, hidden when stderr is not a terminal, so logs and CI output stay
//! clean.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use journey::fhir::{FileOutcome, ImportProgress};
use twin_core::progress::Progress;

/// The bar of the current stage.
#[derive(Default)]
pub struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.current.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            f(bar);
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &'static str, len: u64) {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        bar.set_style(
            // The template is a literal: it parses.
            ProgressStyle::with_template("{msg:20} [{elapsed_precise}] {wide_bar} {pos}/{len} (eta {eta})").unwrap(),
        );
        bar.set_message(name);
        if let Some(old) = self.current.lock().unwrap_or_else(|e| e.into_inner()).replace(bar) {
            old.finish_and_clear();
        }
    }

    fn set_len(&self, len: u64) {
        self.with(|b| b.set_length(len));
    }

    fn advance(&self, n: u64) {
        self.with(|b| b.inc(n));
    }

    fn done(&self) {
        if let Some(bar) = self.current.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// An indicatif bar over the bytes of all input files; hidden when stderr is not a
/// terminal, so logs and CI output stay clean.
pub struct ImportBar {
    bar: ProgressBar,
    files_total: AtomicUsize,
    files_done: AtomicUsize,
}

impl ImportBar {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
            )
            // The template is a literal checked by the tests that run this command.
            .expect("valid progress template"),
        );
        ImportBar { bar, files_total: AtomicUsize::new(0), files_done: AtomicUsize::new(0) }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl ImportProgress for ImportBar {
    fn begin(&self, files: usize, bytes: u64) {
        self.bar.set_length(bytes);
        self.files_total.store(files, Ordering::Relaxed);
        self.bar.set_message(format!("0/{files} files"));
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn file_done(&self, outcome: &FileOutcome) {
        let done = self.files_done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.files_total.load(Ordering::Relaxed);
        self.bar.set_message(format!("{done}/{total} files"));
        // On a terminal, say at once which file failed; the summary lists all of them.
        if let (Some(e), false) = (&outcome.error, self.bar.is_hidden()) {
            self.bar.suspend(|| eprintln!("failed: {e}"));
        }
    }
}

/// A bar over the bytes of one GGUF being assembled; hidden when stderr is not a
/// terminal (or with `--json`), so logs and CI output stay clean.
pub fn gguf_bar(size_bytes: u64, hidden: bool) -> ProgressBar {
    let target = if hidden { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let bar = ProgressBar::with_draw_target(Some(size_bytes), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
        )
        // A literal template, exercised by the tests that run `rdt setup`.
        .expect("valid progress template"),
    );
    bar
}
