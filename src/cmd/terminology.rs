//! `rdt terminology import FILE | list | coverage | concepts` and `rdt doctor`.

use std::path::PathBuf;
use std::process::ExitCode;

use audit_log::{Principal, Role};
use clap::{Args, Subcommand};
use journey::terminology::{import_recorded, Concept};

use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct TerminologyArgs {
    #[command(subcommand)]
    command: TerminologyCommand,
}

#[derive(Debug, Subcommand)]
enum TerminologyCommand {
    /// Import a FHIR R4 ConceptMap (the hospital's codes -> RDT's concepts in
    /// urn:rdt:code); it applies to all history at once, without re-import.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Who imports it, for the audit trail (default: the login name).
        #[arg(long = "as", env = "RDT_USER", value_name = "USER")]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The imported ConceptMaps: url, version, sha256, who and when, mappings.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Per concept, patients and values found; the codes that map to nothing (exit 1
    /// when a concept the cohorts need is found for no patient).
    Coverage {
        #[arg(long)]
        json: bool,
    },
    /// RDT's concepts: id, standard codes, canonical unit, modality.
    Concepts {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Context, args: TerminologyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TerminologyCommand::Import { file, user, json } => {
            let (store, log) = (ctx.store().await?, ctx.audit_log().await?);
            let by = Principal::new(user_name(user), Role::Admin);
            let imported = import_recorded(&store, &log, &file, None, by).await;
            let (record, seq) = match imported {
                Ok(done) => done,
                Err(e) => {
                    store.close().await;
                    return Err(e.into());
                }
            };
            let coverage = store.coverage().await?;
            store.close().await;
            super::print(json, &serde_json::json!({"map": record, "audit_entry": seq, "coverage": coverage}), || {
                format!(
                    "Imported ConceptMap {} ({} mappings, sha256 {})\n  audit entry: {seq}\n{}",
                    record.url,
                    record.entries,
                    record.sha256,
                    coverage.render()
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        TerminologyCommand::List { json } => {
            let store = ctx.store().await?;
            let maps = store.concept_maps().await?;
            store.close().await;
            super::print(json, &maps, || {
                if maps.is_empty() {
                    return "No ConceptMap imported: codes are read by RDT's own and standard codes only.\n".into();
                }
                maps.iter()
                    .map(|m| {
                        format!(
                            "{}  version {}  {} mappings  sha256 {}\n  from {} by {} at {}\n",
                            m.url,
                            m.version.as_deref().unwrap_or("-"),
                            m.entries,
                            m.sha256,
                            m.file,
                            m.imported_by,
                            m.imported_at.format("%Y-%m-%d %H:%M:%S UTC")
                        )
                    })
                    .collect()
            })?;
            Ok(ExitCode::SUCCESS)
        }
        TerminologyCommand::Coverage { json } => {
            let store = ctx.store().await?;
            let coverage = store.coverage().await?;
            store.close().await;
            super::print(json, &coverage, || coverage.render())?;
            Ok(if coverage.blocking_problems().next().is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        TerminologyCommand::Concepts { json } => {
            let rows: Vec<serde_json::Value> = Concept::ALL
                .iter()
                .map(|c| {
                    let d = c.def();
                    serde_json::json!({
                        "id": d.id, "display": d.display, "unit": d.unit, "modality": d.modality,
                        "standard": d.standard.iter().map(|(s, k)| format!("{s}|{k}")).collect::<Vec<_>>(),
                    })
                })
                .collect();
            super::print(json, &rows, || {
                Concept::ALL
                    .iter()
                    .map(|c| {
                        let d = c.def();
                        let standard: Vec<String> = d.standard.iter().map(|(_, k)| format!("LOINC {k}")).collect();
                        format!(
                            "{:<24} {:<36} {:<12} {:<16} {}\n",
                            d.id,
                            d.display,
                            d.unit,
                            d.modality.as_str(),
                            if standard.is_empty() { "-".into() } else { standard.join(", ") }
                        )
                    })
                    .collect()
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[arg(long)]
    json: bool,
}

/// Exit 1 when a check failed.
pub async fn doctor(ctx: &Context, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let (store, log) = (ctx.store().await?, ctx.audit_log().await?);
    let report = assistant::doctor::doctor(&ctx.data_dir, &store, log, &ctx.index()).await;
    store.close().await;
    super::print(args.json, &report, || report.text())?;
    Ok(if report.failed() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
