//! `rdt import PATH...`: FHIR R4 files or directories into the journey store.

use std::path::PathBuf;
use std::process::ExitCode;

use audit_log::{Principal, Role, Seq};
use clap::Args;
use journey::fhir::{import_recorded, ImportProgress, ImportReport, NoProgress};
use journey::SourceName;
use twin_core::index::catch_up::catch_up_install;

use crate::bars::ImportBar;
use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// FHIR R4 files (Bundle JSON, Bulk Data NDJSON) or directories to search for them.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The system the files come from (1 to 32 of a-z, 0-9, '-', '_', '.'). Ids are
    /// read within their source: re-importing from the same source replaces, another
    /// source's resource with the same id is another resource, and another source's
    /// patient is never overwritten.
    #[arg(long, value_name = "NAME", default_value = SourceName::DEFAULT)]
    source: SourceName,
    /// Print the report as JSON (for scripts) instead of a summary.
    #[arg(long)]
    json: bool,
    /// Who runs the import, for the audit trail (default: the login name).
    #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
    user: Option<String>,
}

pub async fn run(ctx: &Context, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let (report, seq) = import_and_record(ctx, args.source.clone(), &args.paths, args.user.clone(), !args.json).await?;
    hold_before_twins_if_asked();
    // The imported patients' twins, from the store's change feed (no retraining).
    let (store, registry) = (ctx.store().await?, ctx.registry().await?);
    let twins = catch_up_install(&store, &ctx.data_dir, &registry, &ctx.index(), |_| {}).await;
    // What the terminology reads of the store now: unmapped codes, and what a
    // missing concept blocks, named after every import.
    let coverage = store.coverage().await;
    store.close().await;
    let (twins, coverage) = (twins?, coverage?);
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["terminology"] = serde_json::to_value(&coverage)?;
        value["twins"] = serde_json::to_value(&twins)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_summary(&report, ctx);
        println!("  audit entry: {seq}");
        println!("  {}", twins.text());
        print!("{}", coverage.render());
    }
    // 1: the run completed but some file failed (and left nothing behind) or some
    // resource was refused (a patient of another source or of no import).
    Ok(if report.has_failures() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Imports `paths` of `source` (with a progress bar when asked) and records the import
/// in the audit log as `user` (an admin act): one `import` entry naming the source and
/// each file's sha256. Shared by `rdt import` and `rdt demo`.
pub async fn import_and_record(
    ctx: &Context,
    source: SourceName,
    paths: &[PathBuf],
    user: Option<String>,
    progress: bool,
) -> anyhow::Result<(ImportReport, Seq)> {
    let (store, log) = (ctx.store().await?, ctx.audit_log().await?);
    let by = Principal::new(user_name(user), Role::Admin);
    let bar = progress.then(ImportBar::new);
    let progress = bar.as_ref().map_or(&NoProgress as &dyn ImportProgress, |b| b as &dyn ImportProgress);
    let imported = import_recorded(&store, &log, source, paths, by, progress).await;
    bar.iter().for_each(ImportBar::finish);
    store.close().await;
    Ok(imported?)
}

/// For the crash test (`tests/living_twin.rs`): with `RDT_TEST_HOLD_BEFORE_TWINS=1`
/// the import, committed, says so on stderr and waits for stdin to close before its
/// twins catch up, so a test can kill the process at exactly that point.
fn hold_before_twins_if_asked() {
    if std::env::var_os("RDT_TEST_HOLD_BEFORE_TWINS").is_some_and(|v| v == "1") {
        eprintln!("rdt: import committed; holding before the twins catch up (RDT_TEST_HOLD_BEFORE_TWINS)");
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    }
}

/// The run's summary on stdout, its failed files and refused resources on stderr.
pub fn print_summary(report: &ImportReport, ctx: &Context) {
    print!("{}", report.summary(&ctx.database));
    eprint!("{}", report.failures());
}
