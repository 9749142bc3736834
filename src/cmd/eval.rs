//! `rdt eval`: how good is the active twin? Writes a report (markdown + JSON) under
//! `<data-dir>/reports/`:
//! - masked-event reconstruction accuracy (held-out patients, measured at training)
//!   next to a most-frequent-code baseline;
//! - with the virtual cohort's ground truth (`--truth ground_truth.ldjson`): each
//!   patient cut at `--days` (90) after starting methotrexate, the share of its
//!   `--k` (10) nearest neighbours that share its hidden subtype, for the fused twin,
//!   for the twin with each modality left out in turn (the ablation), and for two
//!   baselines (bag of codes, latest-visit snapshot);
//! - the disease-state model's forecasts on held-out patients against the empirical
//!   rate and persistence, and the predictive heads (twin vs snapshot), AUROC and
//!   calibration (`twin_core::eval::{state, heads}`);
//! - the in silico cohort against actual outcomes (`twin_core::eval::cohort`, the same
//!   evaluation as `rdt cohort --evaluate`): held-out patients' cohort estimates next
//!   to the snapshot baseline and the population, once `rdt embed` has built the index.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use audit_log::ModelRegistry;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use clap::{Args, Subcommand};
use serde_json::json;
use twin_core::encode::fusion::FusedModality;
use twin_core::eval::cohort::CohortEvalOptions;
use twin_core::eval::{bag_of_codes, chance_agreement, latest_visit, neighbour_agreement};
use twin_core::eval::{heads as eval_heads, state as eval_state};
use twin_core::index::{IndexConfig, NeighbourIndex};
use twin_core::state::StateModelConfig;
use journey::PatientId;

use crate::cmd::audit::open_signing;
use crate::cmd::train::{load_active, load_cohort, note_vectors, recent_notes};
use crate::context::Context;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    what: Option<EvalWhat>,
    /// The virtual cohort's ground truth (`ground_truth.ldjson` from `rdt synth`).
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Neighbours per patient.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Cut each patient this many days after their methotrexate start.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// Use note vectors (needs `rdt setup`; use it when the twin was trained with them).
    #[arg(long)]
    notes: bool,
    #[arg(long)]
    json: bool,
}

/// What else `rdt eval` can evaluate than the twin.
#[derive(Debug, Subcommand)]
pub enum EvalWhat {
    /// Score the assistant on its question set (share correct, ungrounded, correct refusals).
    Assistant(crate::cmd::eval_assistant::EvalAssistantArgs),
}

pub async fn run(ctx: &Context, args: EvalArgs) -> anyhow::Result<ExitCode> {
    if let Some(EvalWhat::Assistant(assistant)) = args.what {
        return crate::cmd::eval_assistant::run(ctx, assistant).await;
    }
    let Some(truth_path) = args.truth.clone() else {
        anyhow::bail!("rdt eval needs --truth ground_truth.ldjson (from `rdt synth`), or `rdt eval assistant`");
    };
    let started = Instant::now();
    let registry = ModelRegistry::new(open_signing(ctx).await?);
    let model = load_active(ctx, &registry).await?;
    let truth_text =
        std::fs::read_to_string(&truth_path).with_context(|| format!("reading {}", truth_path.display()))?;
    let mut truth: HashMap<String, (String, NaiveDate)> = HashMap::new();
    for (n, line) in truth_text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}:{}", truth_path.display(), n + 1))?;
        let (Some(id), Some(subtype)) = (v["patient_id"].as_str(), v["subtype"].as_str()) else {
            continue;
        };
        if let Some(start) = v["mtx_start"].as_str().and_then(|d| d.parse::<NaiveDate>().ok()) {
            truth.insert(id.to_owned(), (subtype.to_owned(), start));
        }
    }
    let store = ctx.store().await?;
    let cohort: Vec<_> =
        load_cohort(&store, None).await?.into_iter().filter(|(id, _)| truth.contains_key(id)).collect();
    anyhow::ensure!(
        cohort.len() > args.k,
        "only {} patients of the store have a methotrexate start in the truth file",
        cohort.len()
    );
    let cut_of = |id: &str| {
        let (_, start) = &truth[id];
        Utc.from_utc_datetime(&(*start + Duration::days(args.days)).and_hms_opt(23, 59, 59).expect("valid time"))
    };
    let notes = if args.notes {
        let texts = cohort.iter().flat_map(|(id, e)| recent_notes(e, Some(cut_of(id)))).collect();
        note_vectors(ctx, &registry, texts).await?
    } else {
        Default::default()
    };

    let spec = &model.manifest.spec;
    let mut labels = Vec::with_capacity(cohort.len());
    let mut inputs = Vec::with_capacity(cohort.len());
    let mut bags = Vec::with_capacity(cohort.len());
    let mut snapshots = Vec::with_capacity(cohort.len());
    for (id, events) in &cohort {
        let (subtype, _) = &truth[id];
        let cut = cut_of(id);
        let input = spec.inputs(events, Some(cut), &|t| notes.get(t).cloned());
        let window = &events[..events.partition_point(|e| e.time <= cut)];
        bags.push(bag_of_codes(&spec.vocab, &input.tokens));
        snapshots.push(latest_visit(&spec.vocab, window));
        inputs.push(input);
        labels.push(subtype.clone());
    }
    let present = |f: &dyn Fn(&twin_core::twin::PatientInputs) -> bool| inputs.iter().filter(|i| f(i)).count();
    let coverage = json!({
        "patients": inputs.len(),
        "with_notes": present(&|i| i.notes.is_some()),
        "with_imaging": present(&|i| i.imaging.is_some()),
        "with_omics": present(&|i| i.omics.is_some()),
    });

    let k = args.k;
    let fused = neighbour_agreement(&model.embed(&inputs, None)?, &labels, k);
    let mut ablation = Vec::new();
    for m in FusedModality::ALL {
        let score = neighbour_agreement(&model.embed(&inputs, Some(m))?, &labels, k);
        ablation.push((m.as_str(), score));
    }
    let bag = neighbour_agreement(&bags, &labels, k);
    let snapshot = neighbour_agreement(&snapshots, &labels, k);
    let chance = chance_agreement(&labels);
    let reconstruction = model.manifest.training.get("reconstruction").cloned().unwrap_or(json!(null));

    // The state model and the predictive heads (twin-core/src/eval/{state,heads}.rs).
    let (train, test): (Vec<_>, Vec<_>) = cohort
        .iter()
        .filter_map(|(id, events)| Some((PatientId::new(id.clone())?, twin_core::state::readings(events))))
        .partition(|(id, _)| !twin_core::eval::cohort::is_held_out(id, twin_core::heads::HELD_OUT_PERCENT));
    let state =
        eval_state::evaluate_state_model(&train, &test, StateModelConfig { resamples: 0, ..Default::default() });
    let snapshots = eval_heads::snapshots(&cohort);
    let events_of: HashMap<&str, &Vec<journey::Event>> = cohort.iter().map(|(id, e)| (id.as_str(), e)).collect();
    let head_inputs: Vec<_> = snapshots
        .iter()
        .map(|s| spec.inputs(events_of[s.patient.as_str()], Some(s.cut), &|t| notes.get(t).cloned()))
        .collect();
    let heads = eval_heads::evaluate_heads(&snapshots, &model.embed(&head_inputs, None)?)?;
    store.close().await;

    // The in silico cohort reads its neighbours from the index, which `rdt embed` builds.
    let index = NeighbourIndex::open(&IndexConfig::from_env(&ctx.data_dir)).await?;
    let indexed = !index.is_empty().await? && index.twin_version() == Some(model.version);
    drop(index);
    let cohort_eval = if indexed {
        let options = CohortEvalOptions { k: args.k, days_after_mtx: args.days, ..CohortEvalOptions::default() };
        Some(crate::cmd::cohort::evaluate(ctx, &model, &options).await?)
    } else {
        None
    };

    let report = json!({
        "twin_version": model.version.to_hex(),
        "truth": truth_path.display().to_string(),
        "k": k,
        "cut_days_after_mtx_start": args.days,
        "coverage": coverage,
        "reconstruction": reconstruction,
        "subtype_agreement": {
            "fused_twin": fused,
            "leave_one_modality_out": ablation.iter().map(|(m, s)| (m.to_string(), json!(s))).collect::<serde_json::Map<_, _>>(),
            "bag_of_codes": bag,
            "latest_visit_snapshot": snapshot,
            "chance": chance,
        },
        "state_model": state,
        "predictive_heads": heads,
        "cohort": cohort_eval.as_ref().map(|(json, _)| json.clone()),
        "seconds": started.elapsed().as_secs_f64(),
    });
    let cohort_md = match &cohort_eval {
        Some((_, md)) => format!("\n{md}"),
        None => {
            "\n## In silico cohort against actual outcomes\n\nNot evaluated: the neighbour index holds no twins of \
                 this model; run `rdt embed` first.\n"
                .to_owned()
        }
    };
    let md = markdown(&report, &ablation)
        + "\n"
        + &eval_state::markdown(&state)
        + &eval_heads::markdown(&heads)
        + &cohort_md;
    let dir = ctx.data_dir.join("reports");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("twin-eval.json"), serde_json::to_string_pretty(&report)?)?;
    std::fs::write(dir.join("twin-eval.md"), &md)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{md}");
        eprintln!("report: {}", dir.join("twin-eval.md").display());
    }
    Ok(ExitCode::SUCCESS)
}

fn markdown(report: &serde_json::Value, ablation: &[(&str, f64)]) -> String {
    let pct = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |x| format!("{:.1}%", 100.0 * x));
    let a = &report["subtype_agreement"];
    let r = &report["reconstruction"];
    let c = &report["coverage"];
    let mut md = String::new();
    let _ = writeln!(md, "# Twin evaluation\n");
    let _ = writeln!(md, "Twin `{}`.\n", report["twin_version"].as_str().unwrap_or(""));
    let _ = writeln!(md, "## Masked-event reconstruction (held-out patients)\n");
    let _ = writeln!(md, "| | accuracy |\n|---|---|");
    let _ = writeln!(md, "| event encoder | {} |", pct(&r["model"]));
    let _ = writeln!(md, "| most frequent code | {} |", pct(&r["most_frequent_code"]));
    let _ = writeln!(md, "\n{} masked events.\n", r["masked_events"]);
    let _ = writeln!(
        md,
        "## Subtype agreement of the {} nearest neighbours\n\nPatients cut {} days after starting methotrexate: {} \
         ({} with notes, {} with imaging, {} with omics).\n",
        report["k"],
        report["cut_days_after_mtx_start"],
        c["patients"],
        c["with_notes"],
        c["with_imaging"],
        c["with_omics"]
    );
    let _ = writeln!(md, "| representation | agreement |\n|---|---|");
    let _ = writeln!(md, "| fused twin | {} |", pct(&a["fused_twin"]));
    for (m, s) in ablation {
        let _ = writeln!(md, "| twin without {} | {:.1}% |", m.replace('_', " "), 100.0 * s);
    }
    let _ = writeln!(md, "| baseline: bag of codes | {} |", pct(&a["bag_of_codes"]));
    let _ = writeln!(md, "| baseline: latest-visit snapshot | {} |", pct(&a["latest_visit_snapshot"]));
    let _ = writeln!(md, "| chance (same label at random) | {} |", pct(&a["chance"]));
    md
}
