//! `rdt cohort`: the in silico cohort of one patient at a date, or of many (`--batch`),
//! through the `similar_patients` tool over the install's cohort handles
//! (`tools::cohort::CohortHandles`: active twin, neighbour index, population,
//! pseudonym key), so the role and scope checks and the audit entry (the neighbours'
//! real ids in its `CohortRecord`) are the tool's. Neighbours show as pseudonyms.
//!
//! `--batch FILE|-` reads lines `patient_id[,YYYY-MM-DD]` and writes one JSON line
//! each: `{"patient", "at", "report"}` or `{"patient", "at", "error"}`.
//! `--evaluate` scores held-out patients' cohorts against their actual outcomes
//! (`twin_core::eval::cohort`).

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use audit_log::{AuditLog, Principal, Role};
use chrono::NaiveDate;
use clap::Args;
use journey::PatientId;
use serde_json::json;
use tools::cohort::CohortHandles;
use tools::similar_patients::SimilarPatients;
use tools::{invoke_tool, Caller, Scope, ToolContext};
use twin_core::cohort::{CohortReport, QueryOptions};
use twin_core::encode::NoteVectorSource;
use twin_core::eval::cohort::{run_cohort_evaluation, CohortEvalOptions};

use crate::bars::Bars;
use crate::cmd::eval::print_report;
use crate::context::{user_name, Context};

#[derive(Debug, Args)]
pub struct CohortArgs {
    /// The patient to build the cohort for.
    #[arg(long, value_name = "ID", required_unless_present_any = ["batch", "evaluate"], conflicts_with_all = ["batch", "evaluate"])]
    patient: Option<String>,
    /// The index date (default: the patient's last event).
    #[arg(long, value_name = "YYYY-MM-DD")]
    at: Option<NaiveDate>,
    /// Lines `patient_id[,YYYY-MM-DD]` from a file, or `-` for stdin; one JSON line out each.
    #[arg(long, value_name = "FILE|-")]
    batch: Option<String>,
    /// Evaluate instead: held-out patients' cohorts against their actual outcomes, with
    /// the snapshot baseline and the population figure (report in `<data-dir>/reports/`).
    #[arg(long, conflicts_with = "batch")]
    evaluate: bool,
    /// With --evaluate: percent of patients held out (by a hash of the id).
    #[arg(long, default_value_t = 20)]
    held_out_percent: u8,
    /// With --evaluate: cut each held-out patient this many days after starting methotrexate.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// With --evaluate: at most this many cases.
    #[arg(long)]
    max_cases: Option<usize>,
    /// Neighbours.
    #[arg(long, default_value_t = 20)]
    k: usize,
    /// Below this many neighbours with data an outcome has no figure.
    #[arg(long, default_value_t = twin_core::cohort::DEFAULT_MIN_N)]
    min_n: usize,
    /// Days of record a neighbour snapshot needs after it.
    #[arg(long, default_value_t = 180)]
    min_follow_up_days: u32,
    /// Use note vectors (needs `rdt setup`; use it when the twin was trained with them).
    #[arg(long)]
    notes: bool,
    /// Who asks, for the audit trail (default: the login name), as a clinician.
    #[arg(long = "as", value_name = "USER")]
    user: Option<String>,
    #[arg(long)]
    json: bool,
}

/// The tools over the install's cohort, and who asks.
struct Session {
    tools: ToolContext,
    log: AuditLog,
    principal: Principal,
    k: usize,
}

pub async fn run(ctx: &Context, args: CohortArgs) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let registry = ctx.registry().await?;
    if args.evaluate {
        let options = CohortEvalOptions {
            k: args.k,
            min_n: args.min_n,
            min_follow_up_days: args.min_follow_up_days,
            days_after_mtx: args.days,
            held_out_percent: args.held_out_percent,
            max_cases: args.max_cases,
        };
        let report =
            run_cohort_evaluation(&store, &ctx.data_dir, &registry, &ctx.index(), &options, &Bars::default()).await?;
        return print_report(ctx, &report, "cohort-eval", args.json);
    }
    let mut handles = CohortHandles::load(&store, &ctx.data_dir, &ctx.index(), &registry).await?;
    handles.options = QueryOptions { k: args.k, min_n: args.min_n, min_follow_up_days: args.min_follow_up_days };
    if args.notes {
        handles = handles.with_notes(NoteVectorSource::load(&ctx.data_dir, &registry).await?);
    }
    let session = Session {
        tools: ToolContext::new(store).with_cohort(Arc::new(handles)),
        log: registry.log().clone(),
        principal: Principal::new(user_name(args.user), Role::Clinician),
        k: args.k,
    };

    let Some(batch) = &args.batch else {
        let patient = args.patient.as_deref().unwrap_or_default();
        let report = query(&session, patient, args.at).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", report.table(patient));
        }
        return Ok(ExitCode::SUCCESS);
    };
    let input: Box<dyn BufRead> = if batch == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(batch).with_context(|| format!("opening {batch}"))?))
    };
    let mut out = std::io::stdout().lock();
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("{batch}:{}", n + 1))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (patient, at) = match line.split_once(',') {
            Some((p, d)) => {
                let date = d
                    .trim()
                    .parse::<NaiveDate>()
                    .with_context(|| format!("{batch}:{}: `{}` is not a date (YYYY-MM-DD)", n + 1, d.trim()))?;
                (p.trim(), Some(date))
            }
            None => (line, None),
        };
        let answer = match query(&session, patient, at).await {
            Ok(report) => json!({"patient": patient, "at": at, "report": report}),
            Err(e) => json!({"patient": patient, "at": at, "error": format!("{e:#}")}),
        };
        writeln!(out, "{answer}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One query through the `similar_patients` tool, scoped to that patient; the tool
/// records it.
async fn query(s: &Session, patient: &str, at: Option<NaiveDate>) -> anyhow::Result<CohortReport> {
    let id = PatientId::new(patient.to_owned()).context("the patient id is empty")?;
    let scope = Scope::patients([id]);
    let caller = Caller { principal: &s.principal, scope: &scope, session: None };
    let arguments = json!({"patient": patient, "at": at, "k": s.k});
    let (out, _) = invoke_tool(SimilarPatients, &s.tools, &s.log, caller, &arguments).await?;
    out.value.report.context("the similar_patients tool returned no report")
}
