//! `rdt import PATH...`: FHIR R4 files or directories into the journey store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use audit_log::{EntryBody, NewEntry, Principal, Role, Seq};
use clap::Args;
use journey::fhir::{ImportReport, Importer, NoProgress};

use crate::bars::ImportBar;
use crate::context::{user_name, Context};

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
/// audit log as `user` (an admin act): one `import` entry naming each file's sha256.
/// Shared by `rdt import` and `rdt demo`.
pub async fn import_and_record(
    ctx: &Context,
    paths: &[PathBuf],
    user: Option<String>,
    progress: bool,
) -> anyhow::Result<(ImportReport, Seq)> {
    let store = ctx.store().await?;
    let mut importer = Importer::new(store.clone()).await?;
    let report = if progress {
        let bar = ImportBar::new();
        let report = importer.import_paths(paths, &bar).await?;
        bar.finish();
        report
    } else {
        importer.import_paths(paths, &NoProgress).await?
    };
    store.close().await;
    let entry = NewEntry::new(Principal::new(user_name(user), Role::Admin), EntryBody::Import {
        import: report.audit_record(),
    });
    let seq = ctx.audit_log().await?.append(entry).await.context("cannot record the import in the audit log")?;
    Ok((report, seq))
}

/// The run's summary on stdout, its failed files on stderr.
pub fn print_summary(report: &ImportReport, ctx: &Context) {
    print!("{}", report.summary(&ctx.database));
    let failed: Vec<_> = report.failed().collect();
    if !failed.is_empty() {
        eprintln!("{} file(s) failed and imported nothing:", failed.len());
        for e in failed {
            eprintln!("  {e}");
        }
    }
}
