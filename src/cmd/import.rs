//! `rdt import PATH...`: FHIR R4 files or directories into the journey store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use audit_log::{AuditLog, Digest, EntryBody, ImportRecord, ImportedFile, NewEntry, Principal, Role, Seq};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use journey::fhir::{FileOutcome, ImportProgress, ImportReport, Importer, NoProgress};

use crate::context::Context;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// FHIR R4 files (Bundle JSON, Bulk Data NDJSON) or directories to search for them.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Print the report as JSON (for scripts) instead of a summary.
    #[arg(long)]
    json: bool,

    /// Who runs the import, for the audit trail (default: the login name).
    #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
    user: Option<String>,
}

pub async fn run(ctx: &Context, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let (report, seq) = import_and_record(ctx, &args.paths, args.user.clone(), !args.json).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report, ctx);
        println!("  audit entry: {seq}");
    }
    // 1: the run completed but some file was refused (and left nothing behind).
    Ok(if report.has_failures() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Imports `paths` (with a progress bar when asked) and records the import in the
/// audit log. Shared by `rdt import` and `rdt demo`.
pub async fn import_and_record(
    ctx: &Context,
    paths: &[PathBuf],
    user: Option<String>,
    progress: bool,
) -> anyhow::Result<(ImportReport, Seq)> {
    let store = ctx.store().await?;
    let mut importer = Importer::new(store.clone()).await?;
    let report = if progress {
        let bar = Bar::new();
        let report = importer.import_paths(paths, &bar).await?;
        bar.finish();
        report
    } else {
        importer.import_paths(paths, &NoProgress).await?
    };
    store.close().await;
    let seq = record_in_audit_log(ctx, user, &report).await?;
    Ok((report, seq))
}

/// Appends one `import` entry: who, and per file its sha256, events and error, so the
/// trail says exactly which bytes became which journeys.
async fn record_in_audit_log(ctx: &Context, user: Option<String>, report: &ImportReport) -> anyhow::Result<Seq> {
    let user = user
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    let files = report
        .files
        .iter()
        .map(|f| ImportedFile {
            path: f.path.display().to_string(),
            sha256: Digest::of_file(&f.path).ok(),
            events: f.events,
            error: f.error.as_ref().map(ToString::to_string),
        })
        .collect();
    let record = ImportRecord { files, patients: report.patients, events: report.events };
    let log = AuditLog::open_for_data_dir(&ctx.database.url(), &ctx.data_dir)
        .await
        .context("cannot open the audit log to record the import")?;
    let entry = NewEntry::new(Principal::new(user, Role::Admin), EntryBody::Import { import: record });
    Ok(log.append(entry).await.context("cannot record the import in the audit log")?)
}

pub fn print_summary(report: &ImportReport, ctx: &Context) {
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
