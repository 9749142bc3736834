//! `rdt import PATH...`: FHIR R4 files or directories into the journey store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use twin_core::fhir::{FileOutcome, ImportProgress, ImportReport, Importer, NoProgress};

use crate::context::Context;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// FHIR R4 files (Bundle JSON, Bulk Data NDJSON) or directories to search for them.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Print the report as JSON (for scripts) instead of a summary.
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let mut importer = Importer::new(store.clone()).await?;
    let report = if args.json {
        importer.import_paths(&args.paths, &NoProgress).await?
    } else {
        let bar = Bar::new();
        let report = importer.import_paths(&args.paths, &bar).await?;
        bar.finish();
        report
    };
    store.close().await;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report, ctx);
    }
    // 1: the run completed but some file was refused (and left nothing behind).
    Ok(if report.has_failures() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn print_summary(report: &ImportReport, ctx: &Context) {
    let ok = report.files.iter().filter(|f| f.succeeded()).count();
    println!("Imported {ok} of {} files into {}", report.files.len(), ctx.database);
    println!("  patients: {}", report.patients);
    println!("  resources: {}", report.resources_total());
    for (resource_type, n) in &report.resources {
        println!("    {resource_type:<24} {n:>9}");
    }
    println!("  events: {}", report.events);
    for (modality, n) in &report.events_by_modality {
        println!("    {:<24} {n:>9}", modality.as_str());
    }
    if !report.skipped.is_empty() {
        println!("  skipped (no events):");
        for s in &report.skipped {
            println!("    {:<24} {:>9}  {}", s.resource_type, s.count, s.description);
        }
    }
    let failed: Vec<_> = report.failed().collect();
    if !failed.is_empty() {
        eprintln!("{} file(s) failed and imported nothing:", failed.len());
        for e in failed {
            eprintln!("  {e}");
        }
    }
}

/// An indicatif bar over the bytes of all input files; hidden when stderr is not a
/// terminal, so logs and CI output stay clean.
struct Bar {
    bar: ProgressBar,
    files_total: AtomicUsize,
    files_done: AtomicUsize,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
            )
            // The template is a literal checked by the tests that run this command.
            .expect("valid progress template"),
        );
        Bar { bar, files_total: AtomicUsize::new(0), files_done: AtomicUsize::new(0) }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl ImportProgress for Bar {
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
