//! `rdt audit verify|show|export|sign`: the audit trail, for auditors.
//!
//! Exit codes: 0 the log verifies (or the entry's proof checks); 1 it does not, or
//! the entry does not exist; 2 the log could not be read at all.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use audit_log::export_fhir::{self, ExportFormat};
use audit_log::{AuditLog, EntryBody, NewEntry, Principal, Role, Seq, TrustedKeys};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::context::Context;

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
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// Also trust tree heads signed by this ed25519 public key (hex); repeatable.
    /// The install's own key (`<data-dir>/keys/audit-ed25519.pub`) is always trusted.
    #[arg(long = "trusted-key", value_name = "HEX")]
    trusted_keys: Vec<String>,

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
    }
}

/// The log of this install, with its signing key (created on first use).
pub async fn open_signing(ctx: &Context) -> anyhow::Result<AuditLog> {
    AuditLog::open_for_data_dir(&ctx.database.url(), &ctx.data_dir)
        .await
        .with_context(|| format!("opening the audit log in {}", ctx.database))
}

async fn open_reading(ctx: &Context) -> anyhow::Result<AuditLog> {
    AuditLog::open(&ctx.database.url()).await.with_context(|| format!("opening the audit log in {}", ctx.database))
}

async fn verify(ctx: &Context, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut trusted = TrustedKeys::of_data_dir(&ctx.data_dir)?;
    for key in &args.trusted_keys {
        trusted.add_hex(key)?;
    }
    let log = open_reading(ctx).await?;
    let report = log.verify(&trusted).await?;
    log.close().await;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &json!({
            "ok": report.is_ok(),
            "first_bad_entry": report.first_bad_entry(),
            "report": report,
        }))?;
        writeln!(out)?;
    } else if report.is_ok() {
        writeln!(
            out,
            "ok: {} entries, root {}, {} signed tree heads checked",
            report.size, report.root, report.heads_checked
        )?;
        if report.unsigned_tail > 0 {
            writeln!(
                out,
                "note: the last {} entries are not yet under a signed tree head (`rdt audit sign` signs one now)",
                report.unsigned_tail
            )?;
        }
        if trusted.is_empty() && report.heads_checked > 0 {
            writeln!(out, "note: no trusted key found under {}", ctx.data_dir.display())?;
        }
    } else {
        writeln!(out, "FAILED: {} problem(s) in {} entries", report.problem_count, report.size)?;
        if let Some(seq) = report.first_bad_entry() {
            writeln!(out, "first bad entry: {seq}")?;
        }
        for p in &report.problems {
            writeln!(out, "  {:?}: {}", p.kind, p.message)?;
        }
        if report.problem_count > report.problems.len() {
            writeln!(out, "  ... and {} more", report.problem_count - report.problems.len())?;
        }
    }
    Ok(if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn show(ctx: &Context, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let log = open_reading(ctx).await?;
    let seq = Seq(args.seq);
    let Some(stored) = log.entry(seq).await? else {
        log.close().await;
        eprintln!("error: the audit log has no entry {seq}");
        return Ok(ExitCode::from(1));
    };
    let head = log.latest_head().await?;
    let size = log.size().await?;
    // Against the latest signed head when it covers the entry; otherwise the whole
    // log (unsigned, and said so).
    let (tree_size, signed) = match (args.tree_size, &head) {
        (Some(n), _) => (n, head.as_ref().filter(|h| h.head.size == n)),
        (None, Some(h)) if h.head.size > seq.0 => (h.head.size, Some(h)),
        _ => (size, None),
    };
    let tree = log.tree(tree_size).await?;
    log.close().await;
    let proof = tree.inclusion_proof(seq.0, tree_size)?;
    let leaf = stored.computed_leaf_hash();
    let root = tree.root(tree_size);
    let leaf_matches = stored.leaf_hash == leaf.0;
    let proof_ok = proof.verify(&leaf, &root);
    let head_ok = signed.is_none_or(|h| h.head.root == root && h.signature_valid());
    let ok = leaf_matches && proof_ok && head_ok;
    let entry: serde_json::Value = serde_json::from_str(&stored.text).context("the stored entry is not JSON")?;

    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &json!({
            "entry": entry,
            "leaf_hash": leaf,
            "stored_leaf_hash_matches": leaf_matches,
            "inclusion_proof": proof,
            "root": root,
            "signed_tree_head": signed,
            "verified": ok,
        }))?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", serde_json::to_string_pretty(&entry)?)?;
        writeln!(out, "leaf hash   {leaf}{}", if leaf_matches { "" } else { "  (DIFFERS from the stored leaf hash)" })?;
        match signed {
            Some(h) => writeln!(out, "tree head   size {} root {} signed {} by {}", h.head.size, h.head.root, audit_log::time_format::format(&h.head.time), h.public_key)?,
            None => writeln!(out, "tree        size {tree_size} root {root} (not a signed head)")?,
        }
        writeln!(out, "inclusion proof ({} hashes, deepest first):", proof.path.len())?;
        for h in &proof.path {
            writeln!(out, "  {h}")?;
        }
        writeln!(out, "{}", if ok { "proof: verified" } else { "proof: FAILED" })?;
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn export(ctx: &Context, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let log = open_signing(ctx).await?;
    let size = log.size().await?;
    let to = args.to.unwrap_or(size).min(size);
    let format = match args.format {
        Format::Json => ExportFormat::Json,
        Format::Ndjson => ExportFormat::Ndjson,
    };
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = BufWriter::new(sink);
    let mut bundle = Vec::new();
    let mut count = 0u64;
    let mut from = args.from;
    while from < to {
        let page = log.range(from, to.min(from + 10_000)).await?;
        from = to.min(from + 10_000);
        for stored in page {
            for resource in export_fhir::resources_for(&stored)? {
                match format {
                    ExportFormat::Ndjson => {
                        serde_json::to_writer(&mut sink, &resource)?;
                        writeln!(sink)?;
                    }
                    ExportFormat::Json => bundle.push(resource),
                }
            }
            count += 1;
        }
    }
    if format == ExportFormat::Json {
        serde_json::to_writer_pretty(&mut sink, &export_fhir::bundle(bundle))?;
        writeln!(sink)?;
    }
    sink.flush()?;
    drop(sink);
    // Data leaving the system is itself a step of the trail.
    let user = args.user.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let detail = format!("{count} entries (#{}..#{}) as {:?}", args.from, to, args.format);
    log.append(NewEntry::new(
        Principal::new(user, Role::Auditor),
        EntryBody::Access { action: "audit_export".into(), detail: Some(detail) },
    ))
    .await?;
    log.close().await;
    eprintln!("exported {count} entries");
    Ok(ExitCode::SUCCESS)
}

async fn sign(ctx: &Context, args: SignArgs) -> anyhow::Result<ExitCode> {
    let log = open_signing(ctx).await?;
    let sth = log.sign_head().await?;
    log.close().await;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &sth)?;
        writeln!(out)?;
    } else {
        writeln!(out, "signed tree head: size {} root {} key {}", sth.head.size, sth.head.root, sth.public_key)?;
    }
    Ok(ExitCode::SUCCESS)
}
