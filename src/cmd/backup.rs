//! `rdt backup [--verify DIR]`: a consistent copy of this install (store and audit log
//! by `VACUUM INTO`, users, keys, index, models) into `<data-dir>/backups/` with a
//! manifest of sha256s; `--verify` checks a backup folder against its manifest.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::context::Context;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Check this backup folder against its manifest instead of taking a backup.
    #[arg(long, value_name = "DIR")]
    verify: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: BackupArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.verify {
        let problems = web::backup::verify(&dir)?;
        if args.json {
            println!("{}", serde_json::json!({"ok": problems.is_empty(), "problems": problems}));
        } else if problems.is_empty() {
            println!("ok: every file of {} matches its manifest", dir.display());
        } else {
            for p in &problems {
                println!("FAILED: {p}");
            }
        }
        return Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let manifest = web::backup::create(&ctx.data_dir, &ctx.database).await?;
    if args.json {
        println!("{}", serde_json::json!({"dir": manifest.dir, "manifest": manifest}));
    } else {
        let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
        println!("Backup written to {} ({} files, {bytes} bytes; manifest.json lists their sha256)", manifest.dir.display(), manifest.files.len());
    }
    Ok(ExitCode::SUCCESS)
}
