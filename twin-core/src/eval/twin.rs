//! The twin evaluation (`rdt eval`): how good is the active twin? One report, JSON and
//! markdown, of:
//! - masked-event reconstruction accuracy (held-out patients, measured at training)
//!   next to a most-frequent-code baseline;
//! - with the virtual cohort's ground truth (`ground_truth.ldjson`): each patient cut
//!   `days` after starting methotrexate, the share of its `k` nearest neighbours that
//!   share its hidden subtype, for the fused twin, for the twin with each modality left
//!   out in turn (the ablation), and for two baselines (bag of codes, latest-visit
//!   snapshot);
//! - the disease-state model's forecasts on held-out patients ([`super::state`]) and
//!   the predictive heads, twin vs snapshot ([`super::heads`]);
//! - the in silico cohort against actual outcomes ([`super::cohort`], as `rdt cohort
//!   --evaluate`), once the index holds twins of this model.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use audit_log::ModelRegistry;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use journey::event::{Event, PatientId};
use journey::store::JourneyStore;
use serde_json::json;

use super::cohort::{evaluate_with_index, CohortEvalOptions};
use super::{bag_of_codes, chance_agreement, heads, latest_visit, neighbour_agreement, neighbour_shares, state, EvalError, EvalReport};
use super::split::Part;
use crate::cohort::query::end_of_day;
use crate::encode::fusion::FusedModality;
use crate::twin::history_block::join;
use crate::encode::note::{note_vectors, NoteVectors};
use crate::index::build::load_journeys_with;
use crate::index::{IndexConfig, NeighbourIndex};
use crate::progress::Progress;
use crate::state::StateModelConfig;
use crate::twin::{load_active, PatientInputs};

/// What the twin evaluation reads and how it cuts.
#[derive(Debug, Clone)]
pub struct TwinEvalOptions {
    /// The virtual cohort's ground truth (`ground_truth.ldjson` from `rdt synth`).
    pub truth: PathBuf,
    /// Neighbours per patient.
    pub k: usize,
    /// Cut each patient this many days after their methotrexate start.
    pub days: i64,
    /// Use note vectors (when the twin was trained with them).
    pub notes: bool,
    /// Also score the in silico cohort (`eval::cohort`, what `rdt cohort --evaluate`
    /// reports on its own) when the index holds this twin's points.
    pub cohort: bool,
    /// Which part's patients are the new ones of the subtype agreement and the
    /// classifier's ceiling: the tuning part while choosing anything, the test part
    /// only for the report ([`Part`]). The train part is never scored.
    pub scored: Part,
}

/// Each patient's hidden subtype and methotrexate start, from the truth file
/// (patients never started on methotrexate are left out).
pub fn read_truth(path: &Path) -> Result<HashMap<String, (String, NaiveDate)>, EvalError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EvalError::Truth { path: path.to_owned(), message: format!("reading it: {e}") })?;
    let mut truth = HashMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| EvalError::Truth { path: path.to_owned(), message: format!("line {}: {e}", n + 1) })?;
        let (Some(id), Some(subtype)) = (v["patient_id"].as_str(), v["subtype"].as_str()) else {
            continue;
        };
        if let Some(start) = v["mtx_start"].as_str().and_then(|d| d.parse::<NaiveDate>().ok()) {
            truth.insert(id.to_owned(), (subtype.to_owned(), start));
        }
    }
    Ok(truth)
}

/// Evaluates the active twin of the install (`data_dir`, `registry`) on the journeys
/// of `store` and the truth file; the cohort section reads the index `index`.
pub async fn run_twin_evaluation(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    index: &IndexConfig,
    options: &TwinEvalOptions,
    progress: &dyn Progress,
) -> Result<EvalReport, EvalError> {
    let started = Instant::now();
    let model = load_active(data_dir, registry).await?;
    let truth = read_truth(&options.truth)?;
    let journeys = load_journeys_with(store, None, progress).await?;
    let cohort: Vec<&(PatientId, Vec<Event>)> =
        journeys.iter().filter(|(id, _)| truth.contains_key(id.as_str())).collect();
    if cohort.len() <= options.k {
        return Err(EvalError::TooFewPatients(cohort.len()));
    }
    let cut_of = |id: &PatientId| -> DateTime<Utc> { end_of_day(truth[id.as_str()].1 + Duration::days(options.days)) };
    let notes = if options.notes {
        // Every note: the subtype cut reads those at `cut_of`, the heads' snapshots
        // theirs at other dates.
        let texts = cohort.iter().flat_map(|(_, e)| crate::twin::features::notes_through(e, None)).collect();
        note_vectors(data_dir, registry, texts, progress).await?.weighted_by(model.manifest.spec.note_weights.clone())
    } else {
        NoteVectors::new()
    };
    let note_vector = |t: &str| notes.vector(t);

    let spec = &model.manifest.spec;
    let mut labels = Vec::with_capacity(cohort.len());
    let mut inputs = Vec::with_capacity(cohort.len());
    let mut bags = Vec::with_capacity(cohort.len());
    let mut snapshots = Vec::with_capacity(cohort.len());
    for (id, events) in &cohort {
        let cut = cut_of(id);
        let input = spec.inputs(events, Some(cut), &note_vector);
        let window = &events[..events.partition_point(|e| e.time <= cut)];
        bags.push(bag_of_codes(&spec.vocab, &input.tokens));
        snapshots.push(latest_visit(&spec.vocab, window));
        inputs.push(input);
        labels.push(truth[id.as_str()].0.clone());
    }
    let present = |f: &dyn Fn(&PatientInputs) -> bool| inputs.iter().filter(|i| f(i)).count();
    let coverage = json!({
        "patients": inputs.len(),
        "with_notes": present(&|i| i.notes.is_some()),
        "with_imaging": present(&|i| i.imaging.is_some()),
        "with_omics": present(&|i| i.omics.is_some()),
    });

    let k = options.k;
    let twins = model.embed(&inputs, None)?;
    let fused = neighbour_agreement(&twins, &labels, k);
    let at_cut = AtTheCut::read(&cohort, &cut_of, &twins, &labels, k);
    let prognosis = prognosis_agreement(data_dir, registry, &model, &at_cut).await;
    let linear_prognosis = linear_prognosis_agreement(&at_cut);
    let trees_prognosis = trees_prognosis_agreement(&at_cut);
    let mut ablation = Vec::new();
    for m in FusedModality::ALL {
        let score = neighbour_agreement(&model.embed(&inputs, Some(m))?, &labels, k);
        ablation.push((m.as_str(), score));
    }
    // The twin's parts alone, when it carries more than the fused vector.
    let parts = (spec.history.is_some() || spec.prognosis.is_some() || spec.strata.is_some()).then(|| {
        let fused_end = model.manifest.fusion.twin_size;
        let block_end = fused_end + spec.history.as_ref().map_or(0, |h| h.width());
        let slice = |from: usize, to: usize| -> Vec<Vec<f32>> { twins.iter().map(|t| t[from..to].to_vec()).collect() };
        let alone = |from: usize, to: usize| (to > from).then(|| neighbour_agreement(&slice(from, to), &labels, k));
        let strata_width = spec.strata.as_ref().map_or(0, |s| s.width());
        let full = twins.first().map_or(block_end, Vec::len);
        let end = full - strata_width;
        // Look-alike (fused vector and block) and expected course weighed equally.
        let halves = (end > block_end).then(|| {
            let rows: Vec<Vec<f32>> = twins.iter().map(|t| join(&[&t[..block_end], &t[block_end..end]])).collect();
            neighbour_agreement(&rows, &labels, k)
        });
        json!({
            "fused_vector_alone": alone(0, fused_end),
            "history_block_alone": alone(fused_end, block_end),
            "prognosis_part_alone": alone(block_end, end),
            "prognosis_reading": spec.prognosis.as_ref().map(|p| p.reading()),
            "strata": spec.strata.as_ref().map(|s| s.names()),
            "without_strata": (strata_width > 0).then(|| neighbour_agreement(&slice(0, end), &labels, k)),
            "look_alike_and_prognosis_halves": halves,
        })
    });
    let bag = neighbour_agreement(&bags, &labels, k);
    let snapshot = neighbour_agreement(&snapshots, &labels, k);
    let chance = chance_agreement(&labels);
    let new_patients = NewPatients::of(&cohort, options.scored);
    let twin_new_shares = new_patients.shares(&twins, &labels, k);
    let ceiling = subtype_ceiling(&at_cut, &new_patients, &twin_new_shares, options.scored)?;
    // What each stratum adds, read as the product finds neighbours: the twin without
    // that stratum's own part (each is a part at unit length, last in the twin).
    let without_each_stratum = spec.strata.as_ref().map(|strata| {
        let mut from = twins.first().map_or(0, Vec::len).saturating_sub(strata.width());
        strata
            .strata
            .iter()
            .map(|stratum| {
                let to = from + stratum.width();
                let rows: Vec<Vec<f32>> = twins.iter().map(|t| [&t[..from], &t[to..]].concat()).collect();
                from = to;
                (stratum.as_str().to_owned(), new_patients.agreement(&rows, &labels, k))
            })
            .collect::<serde_json::Map<_, _>>()
    });
    let among_historical = json!({
        "part": options.scored.as_str(),
        "patients": new_patients.queries.len(),
        "historical": new_patients.pool.len(),
        "twin": mean_with_interval(&twin_new_shares),
        "twin_without_each_stratum": without_each_stratum,
        "latest_visit_snapshot": new_patients.agreement(&snapshots, &labels, k),
        "bag_of_codes": new_patients.agreement(&bags, &labels, k),
    });
    let reconstruction = model.manifest.training.get("reconstruction").cloned().unwrap_or(json!(null));

    // The state model and the predictive heads: fitted on the train part of the
    // frozen split, scored on its tuning part (the test part is for reports only).
    let readings = |part: Part| -> Vec<_> {
        cohort
            .iter()
            .filter(|(id, _)| Part::of(id) == part)
            .map(|(id, events)| (id.clone(), crate::state::readings(events)))
            .collect()
    };
    let (train, test) = (readings(Part::Train), readings(Part::Tuning));
    let state = state::evaluate_state_model(&train, &test, StateModelConfig { resamples: 0, ..Default::default() });
    let truth_journeys: Vec<(PatientId, Vec<Event>)> = cohort.iter().map(|&j| j.clone()).collect();
    let head_snapshots = heads::snapshots(&truth_journeys);
    let events_of: HashMap<&str, &Vec<Event>> = cohort.iter().map(|(id, e)| (id.as_str(), e)).collect();
    let head_inputs: Vec<_> = head_snapshots
        .iter()
        .map(|s| spec.inputs(events_of[s.patient.as_str()], Some(s.cut), &note_vector))
        .collect();
    let heads = heads::evaluate_heads(&head_snapshots, &model.embed(&head_inputs, None)?)?;

    // The in silico cohort reads its neighbours from the index, which `rdt embed` builds.
    let index = NeighbourIndex::open(index).await?;
    let cohort_eval = if options.cohort && !index.is_empty().await? && index.twin_version() == Some(model.version) {
        let options = CohortEvalOptions { k, days_after_mtx: options.days, ..CohortEvalOptions::default() };
        Some(evaluate_with_index(&model, &index, &journeys, &options, progress).await?)
    } else {
        None
    };

    let report = json!({
        "twin_version": model.version.to_hex(),
        "truth": options.truth.display().to_string(),
        "k": k,
        "cut_days_after_mtx_start": options.days,
        "coverage": coverage,
        "reconstruction": reconstruction,
        "subtype_agreement": {
            "fused_twin": fused,
            "leave_one_modality_out": ablation.iter().map(|(m, s)| (m.to_string(), json!(s))).collect::<serde_json::Map<_, _>>(),
            "bag_of_codes": bag,
            "latest_visit_snapshot": snapshot,
            "chance": chance,
            "ceiling": ceiling,
            "new_patients_among_historical": among_historical,
            "twin_head_prognosis": prognosis,
            "linear_prognosis": linear_prognosis,
            "trees_prognosis": trees_prognosis,
            "twin_parts": parts,
        },
        "state_model": state,
        "predictive_heads": heads,
        "cohort": cohort_eval.as_ref().map(|r| r.json.clone()),
        "seconds": started.elapsed().as_secs_f64(),
    });
    let cohort_md = match &cohort_eval {
        Some(r) => format!("\n{}", r.markdown),
        None if !options.cohort => "\n## In silico cohort against actual outcomes\n\nNot evaluated here \
                 (`--no-cohort`): `rdt cohort --evaluate` reports it.\n"
            .to_owned(),
        None => "\n## In silico cohort against actual outcomes\n\nNot evaluated: the neighbour index holds no twins of \
                 this model; run `rdt embed` first.\n"
            .to_owned(),
    };
    let markdown =
        agreement_markdown(&report, &ablation) + "\n" + &state::markdown(&state) + &heads::markdown(&heads) + &cohort_md;
    let figures = cohort_eval.map(|r| r.figures).unwrap_or_default();
    Ok(EvalReport { json: report, markdown, figures })
}

/// The reconstruction and subtype-agreement sections.
fn agreement_markdown(report: &serde_json::Value, ablation: &[(&str, f64)]) -> String {
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
    let parts = &a["twin_parts"];
    if !parts.is_null() {
        let _ = writeln!(md, "| the twin's fused vector alone | {} |", pct(&parts["fused_vector_alone"]));
        let _ = writeln!(md, "| the twin's clinical-history block alone | {} |", pct(&parts["history_block_alone"]));
        let reading = parts["prognosis_reading"].as_str().map_or(String::new(), |r| format!(" ({r})"));
        let _ = writeln!(md, "| the twin's prognosis part{reading} alone | {} |", pct(&parts["prognosis_part_alone"]));
        if let Some(strata) = parts["strata"].as_array() {
            let names: Vec<&str> = strata.iter().filter_map(|s| s.as_str()).collect();
            let _ = writeln!(md, "| twin without its strata ({}) | {} |", names.join(", "), pct(&parts["without_strata"]));
        }
    }
    let (p, l, t) = (&a["twin_head_prognosis"], &a["linear_prognosis"], &a["trees_prognosis"]);
    for (rows, alone, beside) in [
        (p, "the twin head's prognosis alone", "twin with the twin head's prognosis"),
        (l, "a linear prognosis off the twin (train part) alone", "twin with a linear prognosis off the twin"),
        (t, "boosted trees' prognosis at the cut (train part) alone", "twin with the boosted trees' prognosis at the cut"),
    ] {
        if !rows.is_null() {
            let _ = writeln!(md, "| {alone} | {} |", pct(&rows["prognosis"]));
            let _ = writeln!(md, "| {beside} | {} |", pct(&rows["twin_and_prognosis"]));
        }
    }
    let _ = writeln!(md, "| baseline: bag of codes | {} |", pct(&a["bag_of_codes"]));
    let _ = writeln!(md, "| baseline: latest-visit snapshot | {} |", pct(&a["latest_visit_snapshot"]));
    let _ = writeln!(md, "| chance (same label at random) | {} |", pct(&a["chance"]));
    // The same rows among the tuning part alone, where no prognosis was fitted on anyone.
    let slices: Vec<(&str, &serde_json::Value)> = [("the twin head's", p), ("a linear", l), ("the boosted trees'", t)]
        .into_iter()
        .filter(|(_, v)| !v["tuning_part"].is_null())
        .map(|(name, v)| (name, &v["tuning_part"]))
        .collect();
    if let Some((_, first)) = slices.first() {
        let _ = write!(
            md,
            "\nAmong the tuning part's {} patients alone (no prognosis was fitted on them): the twin {}",
            first["patients"],
            pct(&first["twin"])
        );
        for (name, slice) in &slices {
            let _ = write!(md, "; beside {name} prognosis {}", pct(&slice["twin_and_prognosis"]));
        }
        let _ = writeln!(md, ".");
    }
    let ceiling = &a["ceiling"];
    let _ = writeln!(
        md,
        "\nWhat the record allows: boosted trees on the aggregated history, trained on the train part's {} patients, \
         name the subtype of {} of the {} part's {} patients. Among those patients alone, the {} nearest \
         neighbours by that classifier's predicted subtype probabilities share the subtype {} of the time (the \
         ceiling for neighbours); by the fused twin, {}.",
        ceiling["train"],
        pct(&ceiling["accuracy"]),
        ceiling["part"].as_str().unwrap_or("tuning"),
        ceiling["scored"],
        report["k"],
        pct(&ceiling["neighbours_by_classifier_probabilities"]),
        pct(&ceiling["fused_twin_same_patients"])
    );
    // As the product finds neighbours: new patients among the historical ones.
    let new = &a["new_patients_among_historical"];
    let with_ci = |v: &serde_json::Value| match v["ci"].as_array() {
        Some(ci) => format!("{} ({}-{})", pct(&v["value"]), pct(&ci[0]), pct(&ci[1])),
        None => pct(&v["value"]),
    };
    // A paired difference of shares with its interval.
    let paired = |v: &serde_json::Value| match v["ci"].as_array() {
        Some(ci) => {
            let at = |x: &serde_json::Value| x.as_f64().unwrap_or(f64::NAN);
            format!("{:.3} ({:.3} to {:.3})", at(&v["value"]), at(&ci[0]), at(&ci[1]))
        }
        None => "-".into(),
    };
    if !new["twin"].is_null() {
        let _ = writeln!(
            md,
            "\nAs the product finds neighbours, each of the {} part's {} new patients among the train part's {} \
             historical ones: the twin's neighbours share the subtype {}; the latest-visit snapshot's {}, the bag of \
             codes' {} (95% bootstrap intervals over the new patients). The classifier's accuracy on them: {}; less \
             the twin's agreement on the same patients: {} points of share (the bar: within 0.05).",
            new["part"].as_str().unwrap_or("tuning"),
            new["patients"],
            new["historical"],
            with_ci(&new["twin"]),
            with_ci(&new["latest_visit_snapshot"]),
            with_ci(&new["bag_of_codes"]),
            pct(&ceiling["accuracy"]),
            paired(&ceiling["accuracy_less_twin_new_patients"])
        );
        if !ceiling["posterior_agreement"].is_null() {
            let _ = writeln!(
                md,
                "\nThe neighbour ceiling the record allows (neighbours whose records say what the patient's says share \
                 its subtype with probability sum p^2; read as the classifier's 1 - Brier score on the same patients, a \
                 lower bound on it): {}; less the twin's agreement, paired per patient: {}.",
                with_ci(&ceiling["posterior_agreement"]),
                paired(&ceiling["posterior_agreement_less_twin_new_patients"])
            );
        }
        let recalibrated = &ceiling["recalibrated"];
        if !recalibrated.is_null() {
            let _ = writeln!(
                md,
                "\nThe classifier recalibrated (its trees in two folds of the train part, stacked by a logistic \
                 regression per subtype on their out-of-fold scores; the bar is read here): accuracy {}, less the twin's \
                 agreement {}; the neighbour ceiling {}, less the twin's agreement {} (the bar: within 0.05).",
                pct(&recalibrated["accuracy"]),
                paired(&recalibrated["accuracy_less_twin_new_patients"]),
                with_ci(&recalibrated["posterior_agreement"]),
                paired(&recalibrated["posterior_agreement_less_twin_new_patients"])
            );
        }
        let ceiling_new = &ceiling["neighbours_by_classifier_probabilities_new_patients"];
        if !ceiling_new.is_null() {
            let _ = writeln!(
                md,
                "\nThe ceiling for neighbours read the same way (each new patient among the historical ones by the \
                 classifier's predicted subtype probabilities, the historical patients' cross-fitted in two folds): {}; \
                 less the twin's agreement, paired per patient: {}.",
                with_ci(ceiling_new),
                paired(&ceiling["neighbour_ceiling_less_twin_new_patients"])
            );
        }
        if let Some(each) = new["twin_without_each_stratum"].as_object() {
            let rows: Vec<String> =
                each.iter().map(|(name, v)| format!("without {} {}", name.replace('_', " "), with_ci(v))).collect();
            let _ = writeln!(md, "\nThe twin's new-patient agreement with each stratum left out: {}.", rows.join("; "));
        }
    }
    md
}

/// The subtype cohort at its cut, read once for every agreement that needs more than
/// the twins: each patient's clinical record and cut beside its twin and hidden label.
struct AtTheCut<'a> {
    cohort: &'a [&'a (PatientId, Vec<Event>)],
    records: Vec<crate::cohort::ClinicalRecord>,
    cuts: Vec<DateTime<Utc>>,
    twins: &'a [Vec<f32>],
    labels: &'a [String],
    k: usize,
}

impl<'a> AtTheCut<'a> {
    fn read(
        cohort: &'a [&'a (PatientId, Vec<Event>)],
        cut_of: &dyn Fn(&PatientId) -> DateTime<Utc>,
        twins: &'a [Vec<f32>],
        labels: &'a [String],
        k: usize,
    ) -> Self {
        let records = cohort.iter().map(|(_, events)| crate::cohort::ClinicalRecord::read(events)).collect();
        let cuts = cohort.iter().map(|(id, _)| cut_of(id)).collect();
        AtTheCut { cohort, records, cuts, twins, labels, k }
    }
}

/// Subtype agreement in the space of what the install's twin head expects for each
/// patient (every outcome's prediction at the cut, logits for yes/no, standardised
/// across the cohort), alone and beside the twin (each part scaled to unit length):
/// whether neighbours expected to fare alike share the hidden subtype more often than
/// neighbours whose twins look alike. `null` when no active head reads this twin.
async fn prognosis_agreement(
    data_dir: &Path,
    registry: &ModelRegistry,
    model: &crate::twin::TwinModel,
    at: &AtTheCut<'_>,
) -> serde_json::Value {
    use crate::cohort::Outcome;
    use crate::heads::TwinHead;
    let Ok(head) = TwinHead::load_active(&TwinHead::install_path(data_dir), registry, model.version).await else {
        return json!(null);
    };
    let raw: Vec<Vec<Option<f64>>> = (0..at.cohort.len())
        .map(|i| {
            let inputs = head.inputs(&at.records[i], &at.cohort[i].1, at.cuts[i], at.twins[i].clone());
            Outcome::ALL
                .iter()
                .map(|o| {
                    let v = head.predict(*o, &inputs)?;
                    Some(if o.is_rate() { crate::heads::logit(v) } else { v })
                })
                .collect()
        })
        .collect();
    prognosis_beside_twin(&raw, at)
}

/// Agreement in the space of a prognosis (one row of predictions per patient, every
/// outcome's; logits for yes/no), alone and beside the twin (each part at unit
/// length). Each coordinate is standardised over the cohort; a missing prediction sits
/// at the mean.
fn prognosis_beside_twin(raw: &[Vec<Option<f64>>], at: &AtTheCut<'_>) -> serde_json::Value {
    let (twins, labels, k) = (at.twins, at.labels, at.k);
    let width = raw.first().map_or(0, Vec::len);
    let mut stats = vec![(0.0f64, 1.0f64); width];
    for (c, stat) in stats.iter_mut().enumerate() {
        let values: Vec<f64> = raw.iter().filter_map(|r| r[c]).collect();
        if values.len() > 1 {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
            *stat = (mean, if sd > 1e-9 { sd } else { 1.0 });
        }
    }
    let prognosis: Vec<Vec<f32>> = raw
        .iter()
        .map(|r| r.iter().zip(&stats).map(|(v, (mean, sd))| v.map_or(0.0, |v| ((v - mean) / sd) as f32)).collect())
        .collect();
    let both: Vec<Vec<f32>> = twins.iter().zip(&prognosis).map(|(t, p)| join(&[t, p])).collect();
    // Among the tuning part alone, where no prognosis was fitted on the patient scored.
    let tuning: Vec<usize> =
        (0..labels.len()).filter(|&i| crate::eval::split::Part::of(&at.cohort[i].0) == crate::eval::split::Part::Tuning).collect();
    let slice = |rows: &[Vec<f32>]| -> f64 {
        let r: Vec<Vec<f32>> = tuning.iter().map(|&i| rows[i].clone()).collect();
        let l: Vec<String> = tuning.iter().map(|&i| labels[i].clone()).collect();
        neighbour_agreement(&r, &l, k)
    };
    json!({
        "prognosis": neighbour_agreement(&prognosis, labels, k),
        "twin_and_prognosis": neighbour_agreement(&both, labels, k),
        "tuning_part": {
            "patients": tuning.len(),
            "twin": slice(twins),
            "prognosis": slice(&prognosis),
            "twin_and_prognosis": slice(&both),
        },
    })
}

/// Fewer train-part patients with an outcome known at their cut leave it out of the
/// linear prognosis (a ridge fit on fewer says little).
const MIN_PROGNOSIS_ROWS: usize = 20;

/// The same question without the head: a linear prognosis read off the twin itself
/// (a ridge logistic or linear regression per outcome on the twin vector, fitted on
/// the train part's patients at their cut, from the record's own outcomes), alone and
/// beside the twin. Whether a prognosis the twin could carry (fitted with it, versioned
/// with it) brings look-alike patients of one subtype together as the head's does,
/// without tying the index to the head.
fn linear_prognosis_agreement(at: &AtTheCut<'_>) -> serde_json::Value {
    use crate::cohort::regression::LinearModel;
    use crate::cohort::Outcome;
    use crate::eval::split::Part;
    let outcomes: Vec<_> = at.records.iter().zip(&at.cuts).map(|(r, cut)| r.outcomes_at(cut.date_naive())).collect();
    let x: Vec<Vec<f64>> = at.twins.iter().map(|t| t.iter().map(|&v| f64::from(v)).collect()).collect();
    let train: Vec<usize> = (0..at.cohort.len()).filter(|&i| Part::of(&at.cohort[i].0) == Part::Train).collect();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for outcome in Outcome::ALL {
        let rows: Vec<(usize, f64)> = train.iter().filter_map(|&i| outcomes[i].get(outcome).map(|y| (i, y))).collect();
        if rows.len() < MIN_PROGNOSIS_ROWS {
            continue;
        }
        let xs: Vec<Vec<f64>> = rows.iter().map(|&(i, _)| x[i].clone()).collect();
        let model = if outcome.is_rate() {
            let y: Vec<bool> = rows.iter().map(|&(_, y)| y >= 0.5).collect();
            LinearModel::fit_logistic(&xs, &y, 0.01)
        } else {
            let y: Vec<f64> = rows.iter().map(|&(_, y)| y).collect();
            LinearModel::fit_linear(&xs, &y, 0.01)
        };
        let Some(model) = model else { continue };
        columns.push(
            x.iter()
                .map(|r| {
                    let v = model.predict(r);
                    if outcome.is_rate() {
                        crate::heads::logit(v)
                    } else {
                        v
                    }
                })
                .collect(),
        );
    }
    if columns.is_empty() {
        return json!(null);
    }
    let raw: Vec<Vec<Option<f64>>> = (0..at.twins.len()).map(|i| columns.iter().map(|c| Some(c[i])).collect()).collect();
    prognosis_beside_twin(&raw, at)
}

/// A prognosis by boosted trees on the aggregated history at the cut (one per outcome,
/// fitted on the train part's patients from the record's own outcomes), alone and
/// beside the twin: the non-linear reading of the record the twin could carry itself.
fn trees_prognosis_agreement(at: &AtTheCut<'_>) -> serde_json::Value {
    use crate::cohort::boosting::{BoostedBaseline, ValueForecast};
    use crate::cohort::Outcome;
    use crate::eval::split::Part;
    let outcomes: Vec<_> = at.records.iter().zip(&at.cuts).map(|(r, cut)| r.outcomes_at(cut.date_naive())).collect();
    let x: Vec<Vec<f64>> = (0..at.cohort.len())
        .map(|i| crate::cohort::history::history_features(&at.records[i], &at.cohort[i].1, at.cuts[i]))
        .collect();
    let train: Vec<usize> = (0..at.cohort.len()).filter(|&i| Part::of(&at.cohort[i].0) == Part::Train).collect();
    let Ok(model) = BoostedBaseline::fit(train.iter().map(|&i| (x[i].as_slice(), &outcomes[i])), ValueForecast::Mean) else {
        return json!(null);
    };
    let raw: Vec<Vec<Option<f64>>> = x
        .iter()
        .map(|r| {
            Outcome::ALL
                .iter()
                .map(|o| model.predict(*o, r).map(|v| if o.is_rate() { crate::heads::logit(v) } else { v }))
                .collect()
        })
        .collect();
    prognosis_beside_twin(&raw, at)
}

/// Subtype agreement read as the product finds neighbours: each new patient (the
/// tuning or the test part: no part of the twin, its head or its prognosis was fitted
/// on them)
/// among the historical ones (the train part, as the cohort evaluation's index holds
/// them), with a 95% bootstrap interval over the new patients. Agreement over every
/// patient mixes in the train part, whose outcomes the twin was fitted on; agreement
/// among the tuning part alone finds neighbours in a pool a seventh of the index's.
struct NewPatients {
    queries: Vec<usize>,
    pool: Vec<usize>,
}

/// Resamples of a bootstrap interval over patients, and its seed.
const AGREEMENT_RESAMPLES: usize = 1_000;
const AGREEMENT_SEED: u64 = 19;

impl NewPatients {
    fn of(cohort: &[&(PatientId, Vec<Event>)], scored: Part) -> Self {
        let of_part = |part: Part| cohort.iter().enumerate().filter(|(_, (id, _))| Part::of(id) == part).map(|(i, _)| i).collect();
        NewPatients { queries: of_part(scored), pool: of_part(Part::Train) }
    }

    /// Each new patient's share of its `k` nearest historical patients in `vectors`
    /// that share its label, in the order of the scored part.
    fn shares(&self, vectors: &[Vec<f32>], labels: &[String], k: usize) -> Vec<f64> {
        neighbour_shares(vectors, labels, k, &self.queries, &self.pool)
    }

    fn agreement(&self, vectors: &[Vec<f32>], labels: &[String], k: usize) -> serde_json::Value {
        mean_with_interval(&self.shares(vectors, labels, k))
    }
}

/// A mean over patients with its 95% bootstrap interval (`null` without patients).
fn mean_with_interval(values: &[f64]) -> serde_json::Value {
    if values.is_empty() {
        return json!(null);
    }
    let mean = |idx: &[usize]| Some(idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len() as f64);
    let all: Vec<usize> = (0..values.len()).collect();
    let ci = crate::heads::bootstrap_interval(values.len(), AGREEMENT_RESAMPLES, AGREEMENT_SEED, mean);
    json!({"value": mean(&all), "ci": ci.map(|(low, high)| [low, high]), "n": values.len()})
}

/// One patient's term of the neighbour ceiling: `2 p[class] - sum_k p_k^2` for predicted
/// class probabilities `p` and the patient's true `class`. Its mean over patients is
/// 1 - the multiclass Brier score of `p`, a lower bound on the share of neighbours that
/// would share the subtype if they said exactly what the record says (the posterior's
/// `sum_k p_k^2`, whose mean is 1 - the posterior's Brier score, the smallest there is).
fn posterior_agreement_term(p: &[f64], class: usize) -> f64 {
    2.0 * p[class] - p.iter().map(|v| v * v).sum::<f64>()
}

/// A classifier's reading of the scored patients (`read`: each patient's predicted
/// subtype probabilities and true subtype) against the twin's agreement of each
/// (`twin_new_shares`, same order): its accuracy and the neighbour ceiling (the mean of
/// [`posterior_agreement_term`]), each less the twin's agreement paired per patient
/// with its bootstrap interval (the bar is a gap within 5 points).
fn against_twin(read: &[(Vec<f64>, usize)], twin_new_shares: &[f64]) -> serde_json::Value {
    let named = |p: &[f64], class: usize| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(c, _)| c) == Some(class);
    let right: Vec<f64> = read.iter().map(|(p, class)| f64::from(u8::from(named(p, *class)))).collect();
    let terms: Vec<f64> = read.iter().map(|(p, class)| posterior_agreement_term(p, *class)).collect();
    json!({
        "accuracy": right.iter().sum::<f64>() / right.len().max(1) as f64,
        "accuracy_less_twin_new_patients": less_twin(&right, twin_new_shares),
        "posterior_agreement": mean_with_interval(&terms),
        "posterior_agreement_less_twin_new_patients": less_twin(&terms, twin_new_shares),
    })
}

/// A per-patient reading less the twin's agreement of the same patient (`twin_new_shares`,
/// same order): the paired gap's mean with its bootstrap interval.
fn less_twin(values: &[f64], twin_new_shares: &[f64]) -> serde_json::Value {
    mean_with_interval(&values.iter().zip(twin_new_shares).map(|(c, t)| c - t).collect::<Vec<_>>())
}

/// How much of the hidden subtype the record up to the cut allows any model to read:
/// a boosted classifier on the aggregated history ([`crate::cohort::history`]), fitted
/// on the train part of the frozen split and scored on `part` (the tuning part while
/// choosing, the test part for the report). The twin's subtype agreement is read
/// against it.
///
/// Beside it, the ceiling for *neighbours*: among the scored part's patients alone,
/// the agreement of the `k` nearest in the space of that classifier's predicted
/// subtype probabilities (a representation built from the subtype itself), next to
/// the fused twin's agreement among the same patients. A neighbour shares a label
/// less often than a classifier names it, so agreement is read against this too.
///
/// `twin_new_shares` are the twin's agreement of each of `part`'s patients among the
/// train part's ([`NewPatients`]), read against the classifier on the same patients,
/// and against the neighbour ceiling read as the product reads neighbours: each new
/// patient among the historical ones by the classifier's probabilities (the historical
/// patients' cross-fitted, so none is read by a classifier fitted on its own label).
fn subtype_ceiling(
    at: &AtTheCut<'_>,
    new_patients: &NewPatients,
    twin_new_shares: &[f64],
    part: Part,
) -> Result<serde_json::Value, EvalError> {
    let (labels, twins, k) = (at.labels, at.twins, at.k);
    use crate::cohort::boosting::{BoostedClassifier, StackedClassifier};
    let mut classes: Vec<&String> = labels.iter().collect();
    classes.sort();
    classes.dedup();
    let (mut train_x, mut train_y, mut scored) = (Vec::new(), Vec::new(), Vec::new());
    let (mut train_at, mut scored_at) = (Vec::new(), Vec::new());
    let mut tuning_twins = Vec::new();
    for (i, (label, twin)) in labels.iter().zip(twins).enumerate() {
        let (id, events) = at.cohort[i];
        let x = crate::cohort::history::history_features(&at.records[i], events, at.cuts[i]);
        let class = classes.iter().position(|c| *c == label).expect("a label of the cohort");
        match Part::of(id) {
            Part::Train => {
                train_x.push(x);
                train_y.push(class);
                train_at.push(i);
            }
            p if p == part => {
                scored.push((x, class));
                scored_at.push(i);
                tuning_twins.push(twin.clone());
            }
            _ => {}
        }
    }
    if train_x.is_empty() || scored.is_empty() {
        return Ok(json!({"train": train_x.len(), "scored": scored.len(), "accuracy": null}));
    }
    let model = BoostedClassifier::fit(&train_x, &train_y, classes.len())
        .map_err(|e| EvalError::Cohort(crate::cohort::CohortError::Baseline(e.to_string())))?;
    let tuning_labels: Vec<String> = scored.iter().map(|(_, class)| classes[*class].clone()).collect();
    // The one-vs-rest classifier's own reading, as the report gave it before the
    // recalibration (kept beside it).
    let raw: Option<Vec<(Vec<f64>, usize)>> =
        scored.iter().map(|(x, class)| Some((model.probabilities(x).filter(|p| p.len() == classes.len())?, *class))).collect();
    let usable = raw.is_some();
    let probabilities: Vec<Vec<f32>> =
        raw.iter().flatten().map(|(p, _)| p.iter().map(|v| *v as f32).collect()).collect();
    let raw = raw.map(|read| against_twin(&read, twin_new_shares));
    // The ceiling for neighbours as the product reads them: each new patient among the
    // historical ones in the space of the classifier's probabilities, the historical
    // patients' read by a classifier that never saw them (the train part in two folds
    // by the split's hash, each fold's classifier fitted on the other).
    let fold = |i: usize| crate::eval::split::bucket(&at.cohort[i].0) as usize % 2;
    let mut by_probabilities: Vec<Vec<f32>> = vec![Vec::new(); labels.len()];
    for (&i, p) in scored_at.iter().zip(&probabilities) {
        by_probabilities[i] = p.clone();
    }
    // The same trees in two folds, each fold's fitted on the other, stacked by a
    // logistic regression per subtype on their out-of-fold scores: the recalibrated
    // classifier both ceilings are read from below (and its folds read the train part
    // for the neighbour ceiling, none by a classifier fitted on its own label).
    let train_folds: Vec<usize> = train_at.iter().map(|&i| fold(i)).collect();
    let stacked = StackedClassifier::fit(&train_x, &train_y, classes.len(), &train_folds, 2).ok();
    let mut cross_fitted = usable && stacked.is_some();
    if let Some(stacked) = &stacked {
        for ((&i, x), &f) in train_at.iter().zip(&train_x).zip(&train_folds) {
            let p: Vec<f32> = stacked.fold_probabilities(f, x).unwrap_or_default().into_iter().map(|p| p as f32).collect();
            cross_fitted &= p.len() == classes.len();
            by_probabilities[i] = p;
        }
    }
    let recalibrated = stacked.as_ref().and_then(|stacked| {
        let read: Option<Vec<(Vec<f64>, usize)>> =
            scored.iter().map(|(x, class)| Some((stacked.probabilities(x)?, *class))).collect();
        Some(against_twin(&read?, twin_new_shares))
    });
    let neighbours_among_historical = cross_fitted.then(|| new_patients.agreement(&by_probabilities, labels, k));
    let twin_less_neighbour_ceiling =
        cross_fitted.then(|| less_twin(&new_patients.shares(&by_probabilities, labels, k), twin_new_shares));
    let raw_reading = |key: &str| raw.as_ref().map_or(json!(null), |r| r[key].clone());
    Ok(json!({
        "part": part.as_str(),
        "train": train_x.len(),
        "scored": scored.len(),
        "accuracy": raw_reading("accuracy"),
        "neighbours_by_classifier_probabilities": usable.then(|| neighbour_agreement(&probabilities, &tuning_labels, k)),
        "fused_twin_same_patients": neighbour_agreement(&tuning_twins, &tuning_labels, k),
        "accuracy_less_twin_new_patients": raw_reading("accuracy_less_twin_new_patients"),
        "neighbours_by_classifier_probabilities_new_patients": neighbours_among_historical,
        "neighbour_ceiling_less_twin_new_patients": twin_less_neighbour_ceiling,
        "posterior_agreement": raw_reading("posterior_agreement"),
        "posterior_agreement_less_twin_new_patients": raw_reading("posterior_agreement_less_twin_new_patients"),
        "recalibrated": recalibrated,
    }))
}

#[cfg(test)]
mod tests {
    use super::posterior_agreement_term;

    /// A sure and right classifier allows neighbours that always agree; a sure and
    /// wrong one bounds nothing (-1); an undecided one over four classes allows a
    /// quarter, what four equally likely subtypes give neighbours by chance.
    #[test]
    fn the_neighbour_ceiling_term_reads_what_the_probabilities_allow() {
        assert_eq!(posterior_agreement_term(&[1.0, 0.0, 0.0], 0), 1.0);
        assert_eq!(posterior_agreement_term(&[1.0, 0.0, 0.0], 1), -1.0);
        assert!((posterior_agreement_term(&[0.25; 4], 2) - 0.25).abs() < 1e-12);
    }

    /// Averaged over patients whose subtypes follow the probabilities, the term is
    /// the posterior's sum p^2, the share of neighbours that would agree: here a
    /// 0.7 / 0.3 posterior, drawn 7 to 3, gives 0.49 + 0.09.
    #[test]
    fn the_term_averages_to_the_posterior_agreement() {
        let p = [0.7, 0.3];
        let mean = (0..10).map(|i| posterior_agreement_term(&p, usize::from(i >= 7))).sum::<f64>() / 10.0;
        assert!((mean - 0.58).abs() < 1e-12, "{mean}");
    }
}
