//! Subtype agreement of neighbours in spaces of the aggregated history
//! (`cohort::history`), beside the install's active twin: what the record's own readings
//! give a neighbourhood, before a change to the twin is tried (docs/benchmarks/
//! predictive.md, "The clinical-history block"). Each patient is cut 90 days after
//! starting methotrexate, as `rdt eval --truth` cuts.
//!
//! ```sh
//! # agreement per column group (standardised over the cut patients), and any spaces
//! # named by column-name prefixes:
//! SPACES="das28_,rheumatoid,anti-ccp;crp_,esr_" \
//!   cargo run --release -p twin-core --example history_spaces -- D/journey.sqlite c/ground_truth.ldjson
//! # or one CSV row per patient (id, split part, subtype, outcomes at the cut, the
//! # history at the cut and FUTURE days after it, the twin) for analysis elsewhere:
//! DUMP=out.csv FUTURE=365 cargo run ... (same arguments)
//! ```
use std::collections::HashMap;
use chrono::{Duration, TimeZone, Utc};
use journey::store::{Database, JourneyStore};
use twin_core::cohort::history::{history_feature_names, history_features};
use twin_core::cohort::ClinicalRecord;
use twin_core::eval::{chance_agreement, neighbour_agreement};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (db, truth_path) = (&args[1], &args[2]);
    let truth = twin_core::eval::twin::read_truth(std::path::Path::new(truth_path))?;
    let store = JourneyStore::open(&Database::Sqlite(db.into())).await?;
    let names = history_feature_names();
    let data_dir = std::path::Path::new(db).parent().expect("a data dir").to_path_buf();
    let log = audit_log::AuditLog::open_for_data_dir(&format!("sqlite://{db}"), &data_dir).await?;
    let registry = audit_log::ModelRegistry::new(log);
    let model = twin_core::twin::load_active(&data_dir, &registry).await?;
    let mut inputs = Vec::new();
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    let mut dump: Vec<String> = Vec::new();
    for p in store.patients().await? {
        let Some((subtype, start)) = truth.get(p.patient.id.as_str()) else { continue };
        let Some(j) = store.journey(&p.patient.id).await? else { continue };
        let mut events = j.events;
        events.sort_by_key(|e| e.time);
        let cut = Utc.from_utc_datetime(&(*start + Duration::days(90)).and_hms_opt(23, 59, 59).expect("a time"));
        let record = ClinicalRecord::read(&events);
        inputs.push(model.manifest.spec.inputs(&events, Some(cut), &|_| None));
        rows.push(history_features(&record, &events, cut));
        labels.push(subtype.clone());
        let o = record.outcomes_at(cut.date_naive());
        let part = twin_core::eval::split::Part::of(&p.patient.id).as_str();
        let outs: Vec<String> = twin_core::cohort::Outcome::ALL.iter().map(|x| o.get(*x).map_or("nan".into(), |v| v.to_string())).collect();
        let future_days: i64 = std::env::var("FUTURE").ok().and_then(|v| v.parse().ok()).unwrap_or(365);
        let future = history_features(&record, &events, cut + Duration::days(future_days));
        dump.push(format!("{},{},{},{},{},{}", p.patient.id.as_str(), part, subtype, outs.join(","), rows.last().unwrap().iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","), future.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")));
    }
    let twins = model.embed(&inputs, None)?;
    for (line, t) in dump.iter_mut().zip(&twins) {
        line.push_str(&format!(",{}", t.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")));
    }
    if let Ok(path) = std::env::var("DUMP") {
        let head = format!("id,part,subtype,{},{}", twin_core::cohort::Outcome::ALL.iter().map(|o| o.key()).collect::<Vec<_>>().join(","), names.join(","));
        std::fs::write(path, format!("{head}\n{}\n", dump.join("\n")))?;
        return Ok(());
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for l in &labels { *counts.entry(l).or_default() += 1; }
    println!("{} patients {:?} chance {:.1}%", labels.len(), counts, 100.0 * chance_agreement(&labels));
    let width = names.len();
    let mut stats = vec![(0.0, 1.0); width];
    for c in 0..width {
        let v: Vec<f64> = rows.iter().map(|r| r[c]).filter(|x: &f64| x.is_finite()).collect();
        if v.len() > 1 {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
            stats[c] = (m, if sd > 1e-9 { sd } else { 1.0 });
        }
    }
    let z: Vec<Vec<f32>> = rows.iter().map(|r| r.iter().zip(&stats).map(|(x, (m, s))| if x.is_finite() { ((x - m) / s) as f32 } else { 0.0 }).collect()).collect();
    let space = |keep: &dyn Fn(&str) -> bool| -> f64 {
        let cols: Vec<usize> = (0..width).filter(|&c| keep(&names[c])).collect();
        let v: Vec<Vec<f32>> = z.iter().map(|r| cols.iter().map(|&c| r[c]).collect()).collect();
        100.0 * neighbour_agreement(&v, &labels, 10)
    };
    println!("all history standardised {:.1}%", space(&|_| true));
    let groups: Vec<(&str, Box<dyn Fn(&str) -> bool>)> = vec![
        ("das28 series", Box::new(|n: &str| n.starts_with("das28_") || n.starts_with("tjc28_") || n.starts_with("sjc28_") || n.starts_with("patient_global_"))),
        ("crp/esr series", Box::new(|n: &str| n.starts_with("crp_") || n.starts_with("esr_"))),
        ("patient", Box::new(|n: &str| ["age_years", "female", "disease_years", "record_years"].contains(&n))),
        ("treatment", Box::new(|n: &str| n.starts_with("on_") || n.starts_with("ever_") || n == "methotrexate_days" || n == "dmards_tried")),
        ("concept latest", Box::new(|n: &str| n.ends_with("_latest") && !n.starts_with("das28") && !n.starts_with("crp") && !n.starts_with("esr"))),
        ("concept count", Box::new(|n: &str| n.ends_with("_count") && names_is_concept(n))),
    ];
    for (g, f) in &groups {
        println!("only {g:16} {:.1}%   without {:.1}%", space(f.as_ref()), space(&|n| !f(n)));
    }
    if let Ok(spec) = std::env::var("SPACES") {
        for set in spec.split(';') {
            let keys: Vec<&str> = set.split(',').collect();
            println!("space [{set}] {:.1}%", space(&|n| keys.iter().any(|k| n.starts_with(k))));
        }
    }
    Ok(())
}
fn names_is_concept(n: &str) -> bool { !["das28_count","tjc28_count","sjc28_count","patient_global_count","crp_count","esr_count"].contains(&n) }
