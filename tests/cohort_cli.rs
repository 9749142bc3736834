//! `rdt cohort` end to end on a small virtual cohort: synth -> import -> train (tiny)
//! -> embed (index) -> `rdt cohort --json`. The report has every outcome with n within
//! k, pseudonymous neighbours only; the audit entry of the query holds the real
//! neighbour ids with the same distances; a minimum n above k refuses every figure.

mod common;

use common::Rdt;
use serde_json::Value;

fn ok(rdt: &Rdt, args: &[&str]) {
    let out = rdt.run(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn cohort_report_on_a_small_virtual_cohort() {
    let rdt = Rdt::new();
    let export = tempfile::tempdir().unwrap();
    let dir = export.path().to_str().unwrap();
    ok(&rdt, &["synth", "--patients", "200", "--seed", "5", "--out", dir]);
    ok(&rdt, &["import", dir]);
    ok(&rdt, &["train", "--pretrain-epochs", "1", "--fusion-epochs", "1", "--hidden", "16", "--max-events", "32"]);
    // The rebuild also fits the twin head on the train part's snapshots and pins it.
    let embedded = rdt.run(&["embed"]);
    assert!(embedded.status.success(), "{}", String::from_utf8_lossy(&embedded.stderr));
    let said = String::from_utf8_lossy(&embedded.stdout);
    assert!(said.contains("twin head") && said.contains("pinned and active"), "{said}");
    // ... and the counterfactual head of treatment options on the train part's decisions.
    assert!(said.contains("option head") && said.contains("train-part decisions, pinned and active"), "{said}");
    // ... and measures how much its neighbourhoods' rates spread: the prior the
    // cohort's counts are pooled with.
    assert!(said.contains("cohort flare_6m: pooled toward"), "{said}");
    // ... pinned and active in the registry, as the heads are.
    assert!(said.contains("neighbourhood prior ") && said.contains(" pinned and active\n"), "{said}");
    // ... over the index's snapshots, and apart over decision points (DMARD start + 90
    // days), where a question at one is pooled.
    assert!(said.contains("cohort flare_6m at decision points: pooled toward"), "{said}");
    // Each prior's pooled figure is scored against the sampled points' own outcomes:
    // shown with its calibration slope, or not shown and why.
    assert!(
        said.lines().filter(|l| l.starts_with("cohort ")).all(|l| l.contains("calibration slope") || l.contains("not shown: ")),
        "{said}"
    );

    // A rheumatoid arthritis patient with a methotrexate start, cut 90 days after it.
    let truth = std::fs::read_to_string(export.path().join("ground_truth.ldjson")).unwrap();
    let (patient, mtx_start) = truth
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find_map(|t| Some((t["patient_id"].as_str()?.to_owned(), t["mtx_start"].as_str()?.to_owned())))
        .expect("a patient on methotrexate");
    let at = (mtx_start.parse::<chrono::NaiveDate>().unwrap() + chrono::Days::new(90)).to_string();
    let ids: Vec<String> = truth
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["patient_id"].as_str().unwrap().to_owned())
        .collect();

    let out = rdt.run(&[
        "cohort",
        "--patient",
        &patient,
        "--at",
        &at,
        "--k",
        "10",
        "--min-n",
        "3",
        "--json",
        "--as",
        "dr-test",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["index_date"], at.as_str());
    assert!(report.get("twin_head_unavailable").is_none(), "the install's head loads: {report}");
    assert!(report.get("pooling_unavailable").is_none(), "the install's neighbourhood prior loads: {report}");
    let neighbours = report["neighbours"].as_array().unwrap();
    assert_eq!(neighbours.len(), 10);
    assert_eq!(report["k"], 10);
    let distances: Vec<f64> = neighbours.iter().map(|n| n["distance"].as_f64().unwrap()).collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "nearest first: {distances:?}");
    // Pseudonymity: no patient id of the cohort appears anywhere in the report.
    for id in &ids {
        assert!(!text.contains(id.as_str()), "{id} appears in the report");
    }
    let outcomes = report["outcomes"].as_array().unwrap();
    let keys: Vec<&str> = outcomes.iter().map(|o| o["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "mtx_response_6m",
            "tnfi_response_6m",
            "flare_6m",
            "das28_day_150",
            "das28_day_270",
            "das28_day_360",
            "switch_12m"
        ]
    );
    for o in outcomes {
        let n = o["neighbours"]["n"].as_u64().unwrap();
        assert!(n <= 10, "{o}");
        match o["neighbours"]["kind"].as_str().unwrap() {
            "not_enough_comparable_patients" => assert!(n < 3 && o["neighbours"].get("rate").is_none(), "{o}"),
            "rate" => {
                let (rate, events) =
                    (o["neighbours"]["rate"].as_f64().unwrap(), o["neighbours"]["events"].as_u64().unwrap());
                assert!(n >= 3 && (rate - events as f64 / n as f64).abs() < 1e-12, "{o}");
                let ci = &o["neighbours"]["ci"];
                assert!(ci["low"].as_f64().unwrap() <= rate && rate <= ci["high"].as_f64().unwrap(), "{o}");
            }
            "mean" => assert!(n >= 3, "{o}"),
            // Flare and switch: a cumulative incidence over everyone followed for any
            // part of the window, inside 0-1 with its interval around it.
            "kaplan_meier" => {
                let rate = o["neighbours"]["rate"].as_f64().unwrap();
                let events = o["neighbours"]["events"].as_u64().unwrap();
                let ci = &o["neighbours"]["ci"];
                assert!(n >= 3 && events <= n && (0.0..=1.0).contains(&rate), "{o}");
                assert!(ci["low"].as_f64().unwrap() <= rate && rate <= ci["high"].as_f64().unwrap(), "{o}");
                assert!(["flare_6m", "switch_12m"].contains(&o["outcome"].as_str().unwrap()), "{o}");
            }
            other => panic!("unexpected kind {other}"),
        }
        assert!(o["population"]["n"].as_u64().unwrap() >= n, "the population holds at least the neighbours: {o}");
        // A pooled rate reads a yes/no count with enough patients for this patient:
        // inside 0-1, its interval around it, beside the count it was read from.
        if let Some(pooled) = o.get("pooled") {
            let kind = o["neighbours"]["kind"].as_str().unwrap();
            assert!(["rate", "kaplan_meier"].contains(&kind), "{o}");
            let (value, low, high) = (
                pooled["value"].as_f64().unwrap(),
                pooled["ci"]["low"].as_f64().unwrap(),
                pooled["ci"]["high"].as_f64().unwrap(),
            );
            assert!(0.0 <= low && low <= value && value <= high && high <= 1.0, "{o}");
            assert!(pooled["prior_weight"].as_f64().unwrap() > 0.0, "{o}");
        }
        // A twin head figure is inside its measure's range, with an interval from
        // at least 50 held-out calibration patients.
        if let Some(head) = o.get("twin_head") {
            let (value, low, high) = (
                head["value"].as_f64().unwrap(),
                head["interval"]["low"].as_f64().unwrap(),
                head["interval"]["high"].as_f64().unwrap(),
            );
            let top = if o["outcome"].as_str().unwrap().starts_with("das28") { 10.0 } else { 1.0 };
            assert!(0.0 <= low && low <= high && high <= top && (0.0..=top).contains(&value), "{o}");
            assert!(head["n"].as_u64().unwrap() >= 1, "{o}");
        }
    }

    let flare = outcomes.iter().find(|o| o["outcome"] == "flare_6m").unwrap();
    assert!(
        flare["neighbours"]["kind"] != "kaplan_meier" || flare.get("pooled").is_some() || flare.get("pooled_withheld").is_some(),
        "a flare figure is pooled with the install's prior, or says why not: {flare}"
    );
    // Asked 90 days into methotrexate, a decision point: pooled with the decision
    // points' prior, which embed measured (above).
    if let Some(pooled) = flare.get("pooled") {
        assert_eq!(pooled["prior_moment"], "decision", "{flare}");
    }

    // The audit entry of the query: real ids, the same distances, as dr-test.
    let mut entry = None;
    for seq in 0.. {
        let out = rdt.run(&["audit", "show", &seq.to_string(), "--json"]);
        if !out.status.success() {
            break;
        }
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
        if shown["entry"].to_string().contains("\"cohort\"") && shown["entry"].to_string().contains("neighbours") {
            entry = Some(shown["entry"].clone());
        }
    }
    let entry = entry.expect("an audit entry for the cohort query");
    let entry_text = entry.to_string();
    assert!(entry_text.contains("dr-test") && entry_text.contains(&patient), "{entry_text}");
    let audited = find(&entry, "neighbours").expect("cohort neighbours in the entry");
    let audited = audited.as_array().unwrap();
    assert_eq!(audited.len(), 10);
    for (a, d) in audited.iter().zip(&distances) {
        assert!(ids.contains(&a["id"].as_str().unwrap().to_owned()), "a real id: {a}");
        assert!((a["distance"].as_f64().unwrap() - d).abs() < 1e-6);
    }

    // The treatment options at the same decision (`rdt options`): every option, in
    // order; below the minimum n no figure at all; every figure inside its measure's
    // range; no patient id; the audit entry names each option's neighbours.
    let out = rdt.run(&["options", "--patient", &patient, "--at", &at, "--json", "--as", "dr-test"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let options: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(options["decision_date"], at.as_str());
    assert_eq!(options["patient"], patient.as_str());
    for id in ids.iter().filter(|id| **id != patient) {
        assert!(!text.contains(id.as_str()), "{id} appears in the options");
    }
    let keys: Vec<&str> = options["options"].as_array().unwrap().iter().map(|o| o["option"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "continue",
            "methotrexate",
            "csdmard_combination",
            "tnf_inhibitor",
            "il6_inhibitor",
            "jak_inhibitor",
            "rituximab",
            "abatacept"
        ]
    );
    let min_n = options["min_n"].as_u64().unwrap();
    let (mut refused, mut enough, mut head_figures) = (0, 0, 0);
    for o in options["options"].as_array().unwrap() {
        let patients = o["patients"].as_u64().unwrap();
        assert_eq!(o["enough_patients"].as_bool().unwrap(), patients >= min_n, "{o}");
        let widening = o["widening"].as_array().unwrap();
        assert_eq!(widening.last().unwrap()["patients"], patients, "{o}");
        for r in o["outcomes"].as_array().unwrap() {
            for figure in [&r["similar_patients"], &r["weighted"]] {
                match figure["kind"].as_str().unwrap() {
                    "not_enough_comparable_patients" => assert!(figure.get("percent").is_none() && figure.get("mean").is_none()),
                    "rate" | "weighted_rate" => {
                        let (p, lo, hi) = (&figure["percent"], &figure["low_percent"], &figure["high_percent"]);
                        let (p, lo, hi) = (p.as_u64().unwrap(), lo.as_u64().unwrap(), hi.as_u64().unwrap());
                        assert!(lo <= p && p <= hi && hi <= 100, "{r}");
                        assert!(figure["n"].as_u64().unwrap() >= min_n, "{r}");
                    }
                    "mean" | "weighted_mean" => {
                        let (m, lo, hi) = (figure["mean"].as_f64().unwrap(), figure["low"].as_f64().unwrap(), figure["high"].as_f64().unwrap());
                        assert!(0.0 <= lo && lo <= m && m <= hi && hi <= 10.0, "{r}");
                    }
                    other => panic!("unexpected kind {other}: {r}"),
                }
                if patients < min_n {
                    assert_eq!(figure["kind"], "not_enough_comparable_patients", "{o}");
                }
            }
        }
        // The counterfactual head (shown first): only where enough similar patients
        // took the option; each figure inside its measure's range with an interval
        // from held-out patients, or why there is none.
        let head = o["counterfactual_head"].as_array().unwrap();
        if patients < min_n {
            assert!(head.is_empty(), "no head figure for an option too few took: {o}");
        } else {
            assert_eq!(head.len(), 2, "{o}");
        }
        for h in head {
            match h.get("figure") {
                Some(f) if f["kind"] == "value" => {
                    let (v, lo, hi) = (f["das28"].as_f64().unwrap(), f["low"].as_f64().unwrap(), f["high"].as_f64().unwrap());
                    assert!(0.0 <= lo && lo <= hi && hi <= 10.0 && (0.0..=10.0).contains(&v), "{h}");
                    assert!(h["interval_from"].as_str().unwrap().contains("held-out"), "{h}");
                    head_figures += 1;
                }
                Some(f) => {
                    let (p, lo, hi) = (f["percent"].as_u64().unwrap(), f["low_percent"].as_u64().unwrap(), f["high_percent"].as_u64().unwrap());
                    assert!(p <= 100 && lo <= hi && hi <= 100 && f["n"].as_u64().unwrap() >= 1, "{h}");
                    head_figures += 1;
                }
                None => assert!(!h["withheld"].as_str().unwrap().is_empty(), "{h}"),
            }
        }
        enough += usize::from(patients >= min_n);
        refused += usize::from(patients < min_n);
    }
    assert_eq!(options["head_version"].as_str().map(str::len), Some(64), "the pinned head's version: {text}");
    if enough > 0 {
        assert!(head_figures >= 1, "the head shows a figure for an option with enough patients: {text}");
    }
    assert!(refused >= 1, "200 patients cannot give every option {min_n} patients: {text}");
    assert!(options["caveat"].as_str().unwrap().contains("not randomised"));
    let mut grouped = None;
    for seq in 0.. {
        let out = rdt.run(&["audit", "show", &seq.to_string(), "--json"]);
        if !out.status.success() {
            break;
        }
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
        if shown["entry"].to_string().contains("compare_treatments") {
            grouped = Some(shown["entry"].clone());
        }
    }
    let grouped = grouped.expect("an audit entry for the options");
    for n in find(&grouped, "neighbours").map(|v| v.as_array().unwrap().clone()).unwrap_or_default() {
        assert!(ids.contains(&n["id"].as_str().unwrap().to_owned()), "a real id: {n}");
        assert!(keys.contains(&n["group"].as_str().unwrap()), "each neighbour names its option: {n}");
    }

    // A minimum n above k: every outcome refuses a figure.
    let (refused, code) =
        rdt.run_json(&["cohort", "--patient", &patient, "--at", &at, "--k", "5", "--min-n", "6", "--json"]);
    assert_eq!(code, 0, "{refused}");
    for o in refused["outcomes"].as_array().unwrap() {
        assert_eq!(o["neighbours"]["kind"], "not_enough_comparable_patients", "{o}");
    }
}

/// The first value under `key` anywhere in `v` holding an array of objects with an id.
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map
            .get(key)
            .filter(|x| x.as_array().is_some_and(|a| a.iter().all(|n| n.get("id").is_some())))
            .or_else(|| map.values().find_map(|x| find(x, key))),
        Value::Array(items) => items.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}
