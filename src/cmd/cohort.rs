//! `rdt cohort`: the in silico cohort of one patient at a date, or of many (`--batch`).
//!
//! The patient's twin at `--at` (default: their last event) with the active twin, its
//! `--k` nearest historical snapshots of other patients in the neighbour index (built
//! by `rdt embed`), and per outcome the neighbours' n, rate or mean and 95% interval,
//! the whole population's figure and the snapshot baseline. Neighbours show as
//! pseudonyms (keyed by `<data-dir>/keys/cohort-pseudonym.key`); their real ids go only
//! into the audit entry each query appends (as `--as`, role clinician).
//!
//! `--batch FILE|-` reads lines `patient_id[,YYYY-MM-DD]` and writes one JSON line
//! each: `{"patient", "at", "report"}` or `{"patient", "at", "error"}`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use audit_log::{AuditLog, CohortRecord, EntryBody, ModelRegistry, NewEntry, Principal, Role, ToolCall};
use chrono::NaiveDate;
use clap::Args;
use serde_json::json;
use twin_core::cohort::{query_cohort, CohortReport, Estimate, Population, PseudonymKey, QueryOptions};
use twin_core::index::build::{load_journeys, snapshots};
use twin_core::index::{IndexConfig, NeighbourIndex, SnapshotKind, SnapshotPlan};
use twin_core::twin::TwinModel;
use journey::{Event, PatientId};

use crate::cmd::audit::open_signing;
use crate::cmd::train::{bar, load_active, note_vectors, recent_notes};
use crate::context::Context;

/// Bound on the report kept in an audit entry (the digest covers all of it).
const AUDIT_RESULT_BYTES: usize = 16 * 1024;

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

/// Everything a query needs, loaded once.
struct Session {
    model: TwinModel,
    index: NeighbourIndex,
    population: Population,
    key: PseudonymKey,
    journeys: HashMap<PatientId, Vec<Event>>,
    log: AuditLog,
    principal: Principal,
    options: QueryOptions,
}

pub async fn run(ctx: &Context, args: CohortArgs) -> anyhow::Result<ExitCode> {
    let registry = ModelRegistry::new(open_signing(ctx).await?);
    let model = load_active(ctx, &registry).await?;
    if args.evaluate {
        let options = twin_core::eval::cohort::CohortEvalOptions {
            k: args.k,
            min_n: args.min_n,
            min_follow_up_days: args.min_follow_up_days,
            days_after_mtx: args.days,
            held_out_percent: args.held_out_percent,
            max_cases: args.max_cases,
        };
        let started = std::time::Instant::now();
        let (mut report, md) = evaluate(ctx, &model, &options).await?;
        report["twin_version"] = json!(model.version.to_hex());
        report["seconds"] = json!(started.elapsed().as_secs_f64());
        let dir = ctx.data_dir.join("reports");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("cohort-eval.json"), serde_json::to_string_pretty(&report)?)?;
        std::fs::write(dir.join("cohort-eval.md"), &md)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{md}");
            eprintln!("report: {}", dir.join("cohort-eval.md").display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let index = NeighbourIndex::open(&IndexConfig::from_env(&ctx.data_dir)).await?;
    let store = ctx.store().await?;
    let reading = bar(0, "reading journeys");
    let journeys = load_journeys(&store, None, |n| {
        reading.set_length(n as u64);
        reading.inc(1);
    })
    .await?;
    reading.finish_and_clear();
    store.close().await;
    let plan = SnapshotPlan::default();
    let historical = |events: &[Event]| {
        snapshots(events, &plan)
            .into_iter()
            .filter(|s| s.kind == SnapshotKind::Historical)
            .map(|s| s.index_time)
            .collect()
    };
    let population = Population::build(journeys.iter().map(|(p, e)| (p, e.as_slice())), &historical);
    let key = PseudonymKey::load_or_create(&ctx.data_dir.join("keys").join("cohort-pseudonym.key"))
        .context("cannot read or create the pseudonym key")?;
    let log = AuditLog::open_for_data_dir(&ctx.database.url(), &ctx.data_dir)
        .await
        .context("cannot open the audit log to record the cohort query")?;
    let user = args.user.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let options = QueryOptions { k: args.k, min_n: args.min_n, min_follow_up_days: args.min_follow_up_days };
    let session = Session {
        model,
        index,
        population,
        key,
        journeys: journeys.into_iter().collect(),
        log,
        principal: Principal::new(user, Role::Clinician),
        options,
    };

    let Some(batch) = &args.batch else {
        let patient = args.patient.as_deref().unwrap_or_default();
        let report = query(ctx, &registry, &session, patient, args.at, args.notes).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", table(patient, &report));
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
        let answer = match query(ctx, &registry, &session, patient, at, args.notes).await {
            Ok(report) => json!({"patient": patient, "at": at, "report": report}),
            Err(e) => json!({"patient": patient, "at": at, "error": format!("{e:#}")}),
        };
        writeln!(out, "{answer}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One query, and its audit entry.
async fn query(
    ctx: &Context,
    registry: &ModelRegistry,
    s: &Session,
    patient: &str,
    at: Option<NaiveDate>,
    notes: bool,
) -> anyhow::Result<CohortReport> {
    let Some(id) = PatientId::new(patient.to_owned()) else { bail!("the patient id is empty") };
    let Some(events) = s.journeys.get(&id) else { bail!("no patient `{patient}` in the store") };
    let vectors = if notes {
        let until = at.map(twin_core::cohort::query::end_of_day);
        note_vectors(ctx, registry, recent_notes(events, until)).await?
    } else {
        HashMap::new()
    };
    let report = query_cohort(
        &s.model,
        &s.index,
        &s.population,
        &s.key,
        &id,
        events,
        at,
        &s.options,
        &|t| vectors.get(t).cloned(),
        &|_| false,
    )
    .await?;
    let arguments = json!({"patient": patient, "at": at, "k": s.options.k, "min_n": s.options.min_n});
    let cohort = CohortRecord {
        neighbours: report
            .audit
            .neighbour_ids
            .iter()
            .zip(&report.audit.distances)
            .map(|(p, d)| audit_log::Neighbour { id: p.as_str().to_owned(), distance: f64::from(*d) })
            .collect(),
        index_version: format!("{} (twin {})", s.index.describe(), s.model.version.to_hex()),
        encoder_version: s.model.version,
    };
    let tool = ToolCall::bounded("cohort", arguments, serde_json::to_value(&report)?, AUDIT_RESULT_BYTES);
    let entry =
        NewEntry::new(s.principal.clone(), EntryBody::ToolCall { tool, cohort: Some(cohort) }).patients([patient]);
    s.log.append(entry).await.context("cannot record the cohort query in the audit log")?;
    Ok(report)
}

/// The report as a readable table.
fn table(patient: &str, report: &CohortReport) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "In silico cohort of {patient} at {}: {} nearest historical patients\n",
        report.index_date, report.k
    );
    let figure = |e: &Estimate| match e {
        Estimate::Rate { rate, .. } => format!("{:.0}%", 100.0 * rate),
        Estimate::Mean { mean, .. } => format!("{mean:.2}"),
        Estimate::NotEnoughComparablePatients { .. } => "not enough comparable patients".to_owned(),
    };
    let interval = |e: &Estimate| match e {
        Estimate::Rate { ci, .. } => format!("{:.0}-{:.0}%", 100.0 * ci.low, 100.0 * ci.high),
        Estimate::Mean { ci, .. } => format!("{:.2}-{:.2}", ci.low, ci.high),
        Estimate::NotEnoughComparablePatients { .. } => "-".to_owned(),
    };
    let _ = writeln!(
        t,
        "{:<48} {:>4}  {:<30} {:<12} {:<12} snapshot baseline",
        "outcome", "n", "estimate", "95% CI", "population"
    );
    for row in &report.outcomes {
        let baseline = row.snapshot_baseline.map_or("-".to_owned(), |v| {
            if row.outcome.is_rate() {
                format!("{:.0}%", 100.0 * v)
            } else {
                format!("{v:.2}")
            }
        });
        let _ = writeln!(
            t,
            "{:<48} {:>4}  {:<30} {:<12} {:<12} {}",
            row.label,
            row.neighbours.n(),
            figure(&row.neighbours),
            interval(&row.neighbours),
            figure(&row.population),
            baseline
        );
    }
    let _ = writeln!(t, "\nneighbours (pseudonym, cosine distance):");
    for n in &report.neighbours {
        let _ = writeln!(t, "  {}  {:.4}", n.pseudonym.as_str(), n.distance);
    }
    t
}

/// The cohort evaluation (`rdt cohort --evaluate`): held-out patients against their
/// actual outcomes. Returns the JSON and the markdown section.
pub async fn evaluate(
    ctx: &Context,
    model: &TwinModel,
    options: &twin_core::eval::cohort::CohortEvalOptions,
) -> anyhow::Result<(serde_json::Value, String)> {
    let index = NeighbourIndex::open(&IndexConfig::from_env(&ctx.data_dir)).await?;
    let store = ctx.store().await?;
    let journeys = load_journeys(&store, None, |_| {}).await?;
    store.close().await;
    let plan = SnapshotPlan::default();
    let historical = |events: &[Event]| {
        snapshots(events, &plan)
            .into_iter()
            .filter(|s| s.kind == SnapshotKind::Historical)
            .map(|s| s.index_time)
            .collect()
    };
    let progress = bar(0, "cohort eval");
    let result =
        twin_core::eval::cohort::evaluate_cohort(model, &index, &journeys, &historical, options, &|_| None, |i, n| {
            progress.set_length(n as u64);
            progress.set_position(i as u64);
        })
        .await?;
    progress.finish_and_clear();
    Ok((serde_json::to_value(&result)?, twin_core::eval::cohort::markdown(&result)))
}
