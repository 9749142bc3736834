//! Trains a twin on a store's cohort and reports the 10-neighbour subtype agreement
//! (as `rdt eval --truth` does) without saving or registering anything: for comparing
//! training settings quickly. Settings come from the environment:
//!
//! ```sh
//! PRE=3 FUS=10 HIDDEN=64 LATEST=1 CROPS=3 CROPMIN=0.3 TEMP=0.1 DROP=0.3 \
//!   cargo run --release -p twin-core --example subtype_agreement -- d/journey.sqlite c/ground_truth.ldjson
//! ```

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use twin_core::encode::fusion::FusedModality;
use twin_core::eval::{bag_of_codes, chance_agreement, latest_visit, neighbour_agreement};
use journey::store::{Database, JourneyStore};
use twin_core::twin::model::embed_with;
use twin_core::twin::{train_twin, TrainOptions};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, truth_path] = args.as_slice() else {
        return Err("usage: subtype_agreement <journey.sqlite> <ground_truth.ldjson>".into());
    };
    let truth = twin_core::eval::twin::read_truth(std::path::Path::new(truth_path))?;
    let started = Instant::now();
    let store = JourneyStore::open(&Database::Sqlite(db.into())).await?;
    let mut cohort = Vec::new();
    for p in store.patients().await? {
        if let Some(j) = store.journey(&p.patient.id).await? {
            let mut events = j.events;
            events.sort_by_key(|e| e.time);
            cohort.push((p.patient.id.as_str().to_owned(), events));
        }
    }
    eprintln!("read {} journeys in {:.0} s", cohort.len(), started.elapsed().as_secs_f64());

    let mut options = TrainOptions {
        hidden_size: env("HIDDEN", 64),
        latest_values: env("LATEST", 1) == 1,
        crops: env("CROPS", 3),
        ..Default::default()
    };
    options.pretrain.epochs = env("PRE", 3);
    options.fusion.epochs = env("FUS", 10);
    options.fusion.temperature = env("TEMP", 0.1);
    options.fusion.drop_prob = env("DROP", 0.3);
    options.fusion.outcome_weight = env("OUTCOME", 0.0);
    let journeys: Vec<&[journey::Event]> = cohort.iter().map(|(_, e)| e.as_slice()).collect();
    let t = Instant::now();
    let trained = train_twin(&journeys, &options, &|_| None, |_, _| {})?;
    let train_secs = t.elapsed().as_secs_f64();

    let spec = &trained.manifest.spec;
    let (mut labels, mut inputs, mut bags, mut snapshots) = (vec![], vec![], vec![], vec![]);
    for (id, events) in &cohort {
        let Some((subtype, start)) = truth.get(id) else { continue };
        let cut = Utc.from_utc_datetime(&(*start + Duration::days(90)).and_hms_opt(23, 59, 59).expect("a time"));
        let input = spec.inputs(events, Some(cut), &|_| None);
        bags.push(bag_of_codes(&spec.vocab, &input.tokens));
        snapshots.push(latest_visit(&spec.vocab, &events[..events.partition_point(|e| e.time <= cut)]));
        inputs.push(input);
        labels.push(subtype.clone());
    }
    let agreement = |leave_out| -> Result<f64, candle_core::Error> {
        let twins = embed_with(spec, &trained.encoder, &trained.fusion, &inputs, leave_out)?;
        Ok(100.0 * neighbour_agreement(&twins, &labels, 10))
    };
    println!(
        "settings: {}",
        serde_json::json!({"latest": options.latest_values, "hidden": options.hidden_size,
            "pre": options.pretrain.epochs, "fus": options.fusion.epochs, "crops": options.crops, "outcome_weight": options.fusion.outcome_weight,
            "temp": options.fusion.temperature, "drop": options.fusion.drop_prob})
    );
    println!("train {train_secs:.0} s, reconstruction {:.1}%", 100.0 * trained.reconstruction.model);
    println!("fused twin        {:.1}%", agreement(None)?);
    for m in FusedModality::ALL {
        println!("without {:14} {:.1}%", m.as_str(), agreement(Some(m))?);
    }
    println!("bag of codes      {:.1}%", 100.0 * neighbour_agreement(&bags, &labels, 10));
    println!("snapshot          {:.1}%", 100.0 * neighbour_agreement(&snapshots, &labels, 10));
    println!("chance            {:.1}%  ({} patients)", 100.0 * chance_agreement(&labels), labels.len());
    Ok(())
}
