//! `rdt audit verify|show|export|sign`: the audit trail, for auditors.
//!
//! Exit codes: 0 the log verifies (or the entry's proof checks); 1 it does not, or
//! the entry does not exist; 2 the log could not be read at all.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use audit_log::export_fhir::{self, ExportFormat};
use audit_log::{AuditLog, Principal, Role, Seq, TrustedKeys};
use clap::{Args, Subcommand, ValueEnum};

use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the whole log; check every entry, every signed tree head and the
    /// consistency between heads. Names the first bad entry.
    Verify(VerifyArgs),
    /// Show one entry with its inclusion proof against the latest signed tree head.
    Show(ShowArgs),
    /// Export the trail as FHIR R4 AuditEvent + Provenance resources.
    Export(ExportArgs),
    /// Sign a tree head over the whole log now.
    Sign(SignArgs),
    /// Sign a head now and print it as one JSON line for an auditor to keep outside
    /// the install (`rdt audit export-head >> heads.jsonl`; later `rdt audit verify
    /// --witness heads.jsonl`).
    ExportHead,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Also trust tree heads signed by this ed25519 public key (hex); repeatable.
    /// The install's own key (`<data-dir>/keys/audit-ed25519.pub`) is trusted unless
    /// `RDT_AUDIT_TRUSTED_KEYS` names a file of pinned keys kept outside the data
    /// directory: then only those.
    #[arg(long = "trusted-key", value_name = "HEX")]
    trusted_keys: Vec<String>,
    /// Check against the heads in this file (one JSON head per line, as `rdt audit
    /// export-head` prints them) instead of the install's own witness file
    /// (`<data-dir>/audit-heads.jsonl`).
    #[arg(long, value_name = "FILE")]
    witness: Option<std::path::PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The entry's sequence number.
    seq: u64,
    /// Prove inclusion in the tree of this many entries instead of the latest signed head.
    #[arg(long, value_name = "N")]
    tree_size: Option<u64>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One FHIR Bundle (type collection).
    Json,
    /// One resource per line (FHIR Bulk Data).
    Ndjson,
}

#[derive(Debug, Args)]
struct ExportArgs {
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// First entry to export.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    from: u64,
    /// Export entries before this one only.
    #[arg(long, value_name = "SEQ")]
    to: Option<u64>,
    /// Who exports (recorded in the trail).
    #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
    user: Option<String>,
}

#[derive(Debug, Args)]
struct SignArgs {
    #[arg(long)]
    json: bool,
}

pub async fn run(ctx: &Context, args: AuditArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AuditCommand::Verify(a) => verify(ctx, a).await,
        AuditCommand::Show(a) => show(ctx, a).await,
        AuditCommand::Export(a) => export(ctx, a).await,
        AuditCommand::Sign(a) => sign(ctx, a).await,
        AuditCommand::ExportHead => {
            let log = ctx.audit_log().await?;
            let sth = log.sign_head().await?;
            log.close().await;
            println!("{}", serde_json::to_string(&sth)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn open_reading(ctx: &Context) -> anyhow::Result<AuditLog> {
    AuditLog::open(&ctx.database.url()).await.with_context(|| format!("opening the audit log in {}", ctx.database))
}

async fn verify(ctx: &Context, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut trusted = TrustedKeys::of_install(&ctx.data_dir)?;
    for key in &args.trusted_keys {
        trusted.add_hex(key)?;
    }
    let witness = args.witness.clone().unwrap_or_else(|| ctx.data_dir.join(audit_log::WITNESS_FILE));
    let log = open_reading(ctx).await?.with_witness(audit_log::HeadWitness::at(witness));
    let report = log.verify(&trusted).await?;
    log.close().await;
    if args.json {
        println!("{:#}", report.json());
    } else {
        print!("{}", report.text());
        if report.is_ok() && trusted.is_empty() && report.heads_checked > 0 {
            println!("note: no trusted key found under {}", ctx.data_dir.display());
        }
    }
    Ok(if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn show(ctx: &Context, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let log = open_reading(ctx).await?;
    let seq = Seq(args.seq);
    let proved = log.entry_proof(seq, args.tree_size).await?;
    log.close().await;
    let Some(p) = proved else {
        eprintln!("error: the audit log has no entry {seq}");
        return Ok(ExitCode::from(1));
    };
    let trusted = TrustedKeys::of_install(&ctx.data_dir)?;
    let ok = p.verified(&trusted);
    if args.json {
        println!("{:#}", p.json(&trusted)?);
    } else {
        print!("{}", p.text(&trusted)?);
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn export(ctx: &Context, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let log = ctx.audit_log().await?;
    let format = match args.format {
        Format::Json => ExportFormat::Json,
        Format::Ndjson => ExportFormat::Ndjson,
    };
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let by = Principal::new(user_name(args.user), Role::Auditor);
    let count = export_fhir::export(&log, by, format, args.from, args.to, &mut BufWriter::new(sink)).await?;
    log.close().await;
    eprintln!("exported {count} entries");
    Ok(ExitCode::SUCCESS)
}

async fn sign(ctx: &Context, args: SignArgs) -> anyhow::Result<ExitCode> {
    let log = ctx.audit_log().await?;
    let sth = log.sign_head().await?;
    log.close().await;
    super::print(args.json, &sth, || format!("{}\n", sth.text()))?;
    Ok(ExitCode::SUCCESS)
}
