//! `rdt train`, `rdt embed` and `rdt eval` end to end on a tiny virtual cohort: a
//! tiny model trains in seconds, its checkpoint is pinned and activated, every
//! patient gets a twin, the report holds the fused twin, the ablation and both
//! baselines; a tampered checkpoint is refused. Fixed seeds, temporary directories,
//! no notes (MiniLM is covered by twin-core's tests).

mod common;

use common::Rdt;

#[test]
fn train_embed_eval_on_a_tiny_cohort() {
    let rdt = Rdt::new();
    let export = tempfile::tempdir().unwrap();
    let dir = export.path().to_str().unwrap();
    let out = rdt.run(&["synth", "--patients", "60", "--seed", "11", "--out", dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = rdt.run(&["import", dir]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (trained, code) = rdt.run_json(&[
        "train", "--pretrain-epochs", "1", "--fusion-epochs", "1", "--hidden", "16", "--max-events", "32", "--prognosis-part",
        "--stratum", "serostatus", "--stratum", "response_so_far", "--json",
    ]);
    assert_eq!(code, 0, "{trained}");
    assert_eq!(trained["patients"], 60);
    // The prognosis part's trees, fitted on the train part's decision points.
    assert!(trained["prognosis_rows"].as_u64().is_some_and(|n| n > 0), "{trained}");
    // Matched inside the clinical strata asked for (the serostatus alone by default).
    assert_eq!(trained["strata"], serde_json::json!(["serostatus", "response_so_far"]), "{trained}");
    let checkpoint = std::path::PathBuf::from(trained["dir"].as_str().unwrap());
    for file in ["event_encoder.safetensors", "fusion.safetensors", "twin.json", "loss.csv", "loss.svg"] {
        assert!(checkpoint.join(file).is_file(), "{file} missing");
    }
    let version = trained["version"].as_str().unwrap();
    let list = String::from_utf8(rdt.run(&["models", "list"]).stdout).unwrap();
    assert!(list.contains(version) && list.contains("active"), "{list}");

    let twins = rdt.data_dir().join("twins.jsonl");
    let out = rdt.run(&["embed", "--out", twins.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&twins)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 60);
    // The fused vector (16 wide here), the clinical-history block and the prognosis
    // part (one per outcome), each of unit length, then the strata, each its own part
    // (serostatus: +1, -1, or 0 when never measured; the response so far to the
    // running DMARD: two ordinal coordinates at unit length, or both 0).
    let block_end = 16 + twin_core::cohort::history::HISTORY_WIDTH;
    let prognosis_end = block_end + twin_core::cohort::Outcome::ALL.len();
    let width = prognosis_end + 3;
    assert!(lines.iter().all(|l| l["twin_version"] == version && l["vector"].as_array().unwrap().len() == width));
    for l in &lines {
        let v: Vec<f64> = l["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        let norm = |p: &[f64]| p.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm(&v[..16]) - 1.0).abs() < 1e-4, "fused part of {}", l["patient"]);
        assert!((norm(&v[16..block_end]) - 1.0).abs() < 1e-4, "history block of {}", l["patient"]);
        assert!((norm(&v[block_end..prognosis_end]) - 1.0).abs() < 1e-4, "prognosis part of {}", l["patient"]);
        assert!([-1.0, 0.0, 1.0].contains(&v[prognosis_end]), "serostatus of {}: {}", l["patient"], v[prognosis_end]);
        let response = &v[prognosis_end + 1..];
        assert!(response == [0.0, 0.0] || (norm(response) - 1.0).abs() < 1e-4, "response so far of {}", l["patient"]);
    }
    // The patients' latest twins (long after their methotrexate start): some read a
    // response so far.
    assert!(lines.iter().any(|l| l["vector"][prognosis_end + 1].as_f64() != Some(0.0)), "a response so far is read");
    let seropositive = lines.iter().filter(|l| l["vector"][prognosis_end].as_f64() == Some(1.0)).count();
    let seronegative = lines.iter().filter(|l| l["vector"][prognosis_end].as_f64() == Some(-1.0)).count();
    assert!(seropositive > 0 && seronegative > 0, "both strata in the cohort: {seropositive} / {seronegative}");

    let truth = export.path().join("ground_truth.ldjson");
    let (report, code) = rdt.run_json(&["eval", "--truth", truth.to_str().unwrap(), "--k", "5", "--json"]);
    assert_eq!(code, 0, "{report}");
    let agreement = &report["subtype_agreement"];
    for key in ["fused_twin", "bag_of_codes", "latest_visit_snapshot", "chance"] {
        let v = agreement[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    for part in
        ["fused_vector_alone", "history_block_alone", "prognosis_part_alone", "look_alike_and_prognosis_halves", "without_strata"]
    {
        let v = agreement["twin_parts"][part].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{part} = {v}");
    }
    assert_eq!(agreement["twin_parts"]["strata"], serde_json::json!(["serostatus", "response_so_far"]));
    for m in ["events", "notes", "imaging", "omics", "latest_values"] {
        assert!(agreement["leave_one_modality_out"][m].is_f64(), "ablation without {m}");
    }
    // Beside a linear prognosis read off the twin, fitted on the train part.
    for part in ["prognosis", "twin_and_prognosis"] {
        let v = agreement["linear_prognosis"][part].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&v), "linear prognosis {part} = {v}: {}", agreement["linear_prognosis"]);
    }
    // As the product finds neighbours: new (tuning-part) patients among historical
    // (train-part) ones, each figure with its bootstrap interval and n; the gap to the
    // classifier of the ceiling on the same patients, signed, with its interval.
    let new = &agreement["new_patients_among_historical"];
    assert!(new["patients"].as_u64().unwrap() > 0 && new["historical"].as_u64().unwrap() > 0, "{new}");
    for key in ["twin", "latest_visit_snapshot", "bag_of_codes"] {
        let (v, ci) = (new[key]["value"].as_f64().unwrap(), &new[key]["ci"]);
        let (low, high) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        assert!(0.0 <= low && low <= v && v <= high && high <= 1.0, "{key}: {new}");
        assert_eq!(new[key]["n"], new["patients"], "{key}: {new}");
    }
    // What each stratum adds among new patients, in range.
    for stratum in ["serostatus", "response_so_far"] {
        let v = new["twin_without_each_stratum"][stratum]["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{stratum}: {new}");
    }
    // The neighbour ceiling read as the product reads neighbours, and the twin's
    // distance to it, paired per patient.
    let ceiling_new = agreement["ceiling"]["neighbours_by_classifier_probabilities_new_patients"]["value"].as_f64();
    assert!(ceiling_new.is_some_and(|v| (0.0..=1.0).contains(&v)), "{}", agreement["ceiling"]);
    let less = agreement["ceiling"]["neighbour_ceiling_less_twin_new_patients"]["value"].as_f64();
    assert!(less.is_some_and(|v| (-1.0..=1.0).contains(&v)), "{}", agreement["ceiling"]);
    let gap = &agreement["ceiling"]["accuracy_less_twin_new_patients"];
    let (v, low, high) = (gap["value"].as_f64().unwrap(), gap["ci"][0].as_f64().unwrap(), gap["ci"][1].as_f64().unwrap());
    assert!(-1.0 <= low && low <= v && v <= high && high <= 1.0, "{gap}");
    // The neighbour ceiling the record allows (the classifier's 1 - Brier): a share in
    // 0-1 with its interval, and the twin's paired distance to it.
    let posterior = &agreement["ceiling"]["posterior_agreement"];
    let (v, low, high) = (posterior["value"].as_f64().unwrap(), posterior["ci"][0].as_f64().unwrap(), posterior["ci"][1].as_f64().unwrap());
    assert!(-1.0 <= low && low <= v && v <= high && high <= 1.0, "{posterior}");
    assert_eq!(posterior["n"], new["patients"], "{posterior}");
    let less = agreement["ceiling"]["posterior_agreement_less_twin_new_patients"]["value"].as_f64();
    assert!(less.is_some_and(|d| (-2.0..=1.0).contains(&d)), "{}", agreement["ceiling"]);
    let md = std::fs::read_to_string(rdt.data_dir().join("reports/twin-eval.md")).unwrap();
    assert!(md.contains("As the product finds neighbours"), "{md}");
    assert!(md.contains("The neighbour ceiling the record allows"), "{md}");
    // ... and read from the recalibrated classifier, where the bar is read.
    let recalibrated = &agreement["ceiling"]["recalibrated"];
    let accuracy = recalibrated["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy), "{recalibrated}");
    for key in ["posterior_agreement", "posterior_agreement_less_twin_new_patients", "accuracy_less_twin_new_patients"] {
        let (v, low, high) = (recalibrated[key]["value"].as_f64().unwrap(), recalibrated[key]["ci"][0].as_f64().unwrap(), recalibrated[key]["ci"][1].as_f64().unwrap());
        assert!(-2.0 <= low && low <= v && v <= high && high <= 1.0, "{key}: {recalibrated}");
    }
    assert!(md.contains("The classifier recalibrated"), "{md}");
    assert!(md.contains("with each stratum left out: without serostatus"), "{md}");
    // The cohort section scores the GRU beside the other baselines, in range.
    let metrics = report["cohort"]["metrics"].as_array().expect("the cohort section");
    for row in metrics {
        let gru = row["scores"].as_array().unwrap().iter().find(|s| s["predictor"] == "recurrent").expect("a GRU score");
        if let Some(v) = gru["value"].as_f64() {
            let top = if row["metric"] == "auroc" { 1.0 } else { 10.0 };
            assert!((0.0..=top).contains(&v), "{row}");
        }
    }
    // ... and the twin head, in range, with its ablation by modality.
    for row in metrics {
        let head = row["scores"].as_array().unwrap().iter().find(|s| s["predictor"] == "twin_head").expect("a head score");
        if let Some(v) = head["value"].as_f64() {
            let top = if row["metric"] == "auroc" { 1.0 } else { 10.0 };
            assert!((0.0..=top).contains(&v), "{row}");
        }
    }
    // The twin cohort's rates are pooled with a prior measured on the train part's own
    // neighbourhoods: each usual rate inside 0-1 with a positive weight, named in the report.
    let prior = &report["cohort"]["neighbourhood_prior"];
    let priors = prior["outcomes"].as_array().expect("the neighbourhood prior");
    assert!(!priors.is_empty(), "at least one yes/no outcome pooled: {prior}");
    for p in priors {
        let (rate, weight) = (p["rate"].as_f64().unwrap(), p["weight"].as_f64().unwrap());
        assert!(0.0 < rate && rate < 1.0 && weight > 0.0 && p["neighbourhoods"].as_u64().unwrap() >= 30, "{p}");
    }
    // ... and apart at decision points (DMARD start + 90 days), which every case, cut 90
    // days into methotrexate, reads.
    let at_decisions = prior["at_decisions"].as_array().expect("the decision points' prior");
    assert!(!at_decisions.is_empty(), "decision points measured: {prior}");
    for p in at_decisions {
        let (rate, weight) = (p["rate"].as_f64().unwrap(), p["weight"].as_f64().unwrap());
        assert!(0.0 < rate && rate < 1.0 && weight > 0.0 && p["neighbourhoods"].as_u64().unwrap() >= 30, "{p}");
    }
    // Each prior's pooled figure scored on the sampled points' own outcomes.
    for p in priors.iter().chain(at_decisions) {
        let n = p["calibration_n"].as_u64().unwrap();
        assert!(n <= p["neighbourhoods"].as_u64().unwrap(), "{p}");
        assert!(p["calibration_slope"].is_null() || p["calibration_slope"].as_f64().unwrap().is_finite(), "{p}");
    }
    let ablation = report["cohort"]["head_ablation"].as_array().expect("the head's ablation");
    assert_eq!(ablation.len(), 5, "one row per modality");
    let md = std::fs::read_to_string(rdt.data_dir().join("reports/twin-eval.md")).unwrap();
    assert!(md.contains("| GRU |") && md.contains("twin head"), "{md}");
    assert!(md.contains("pooled with the usual rate of this twin's neighbourhoods"), "{md}");
    assert!(md.contains("| decision points |") && md.contains("calibration slope there"), "{md}");

    // Tamper with the event encoder: every command that loads the twin refuses it.
    let weights = checkpoint.join("event_encoder.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&weights, bytes).unwrap();
    let out = rdt.run(&["embed", "--out", twins.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("event_encoder.safetensors") && stderr.contains("refusing"), "{stderr}");

    // The temporal split: a twin trained on journeys as they stood at the cut, the
    // evaluation fitting on the same and scoring only later cases.
    let (retrained, code) = rdt.run_json(&[
        "train", "--pretrain-epochs", "1", "--fusion-epochs", "1", "--hidden", "16", "--max-events", "32", "--until",
        "temporal-cut", "--json",
    ]);
    assert_eq!(code, 0, "{retrained}");
    let out = rdt.run(&["embed", "--out", twins.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (temporal, code) = rdt.run_json(&["cohort", "--evaluate", "--temporal", "--json"]);
    assert_eq!(code, 0, "{temporal}");
    let cut: chrono::NaiveDate = temporal["temporal_cut"].as_str().expect("the cut date").parse().unwrap();
    let checkpoint_manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(retrained["dir"].as_str().unwrap()).join("twin.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(checkpoint_manifest["training"]["until"], cut.to_string(), "the twin stopped reading at the same cut");
}
