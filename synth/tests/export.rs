//! The files `synth::generate` writes, read back as any FHIR consumer would: layout,
//! resource shape, DAS28 arithmetic, determinism, and the ground truth reproduced from
//! the FHIR alone. Chance is removed by fixed seeds; the cohort is generated once per
//! test binary into Cargo's per-test temporary directory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use chrono::NaiveDate;
use serde_json::Value;
use synth::das28::{das28_crp, das28_esr, round2};
use synth::medications::Drug;
use synth::outcomes::{flare_within, response_at, switch_within, Das28Reading, SIX_MONTHS};
use synth::counterfactual::OPTIONS;
use synth::{generate, generate_with, CounterfactualTruth, Extras, GroundTruth, ObservedOption, Params, TreatmentOption};

const PATIENTS: usize = 400;
const SEED: u64 = 7;

/// The shared cohort: generated once, read by every test here.
fn cohort() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("synth-export-seed7");
        // A previous run's files must not pass for this run's.
        let _ = std::fs::remove_dir_all(&dir);
        let params = Params { patients: PATIENTS, seed: SEED, ..Params::default() };
        generate(&params, &dir).expect("the cohort generates");
        dir
    })
}

fn read_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display()))).collect()
}

fn resources(name: &str) -> Vec<Value> {
    read_lines(&cohort().join(format!("{name}.ndjson")))
}

fn truths() -> Vec<GroundTruth> {
    let text = std::fs::read_to_string(cohort().join(synth::writer::GROUND_TRUTH_FILE)).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn subject(r: &Value) -> String {
    let reference = r["subject"]["reference"].as_str().expect("a subject reference");
    reference.strip_prefix("Patient/").expect("a Patient/ reference").to_owned()
}

fn date_of(t: &str) -> NaiveDate {
    t[..10].parse().unwrap()
}

fn coding(r: &Value, field: &str) -> (String, String) {
    let c = &r[field]["coding"][0];
    (c["system"].as_str().unwrap().to_owned(), c["code"].as_str().unwrap().to_owned())
}

#[test]
fn layout_has_one_ndjson_per_resource_type_and_no_other_json() {
    let mut names: Vec<String> =
        std::fs::read_dir(cohort()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Condition.ndjson",
            "DocumentReference.ndjson",
            "Encounter.ndjson",
            "MedicationStatement.ndjson",
            "Observation.ndjson",
            "Patient.ndjson",
            "counterfactuals.ldjson",
            "ground_truth.ldjson",
            "synth-manifest.txt",
        ]
    );
    for name in ["Condition", "DocumentReference", "Encounter", "MedicationStatement", "Observation", "Patient"] {
        for r in resources(name) {
            assert_eq!(r["resourceType"], name, "{name}.ndjson holds only {name}");
        }
    }
    assert_eq!(truths().len(), PATIENTS);
}

#[test]
fn every_resource_has_a_unique_id_and_a_subject_that_exists() {
    let patients: HashSet<String> =
        resources("Patient").iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(patients.len(), PATIENTS);
    let mut ids = HashSet::new();
    for name in ["Condition", "DocumentReference", "Encounter", "MedicationStatement", "Observation"] {
        for r in resources(name) {
            let id = r["id"].as_str().expect("an id").to_owned();
            assert!(id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'), "{id}");
            assert!(ids.insert(format!("{name}/{id}")), "duplicate {name}/{id}");
            assert!(patients.contains(&subject(&r)), "{name}/{id} points to an unknown patient");
        }
    }
    let truth_ids: HashSet<String> = truths().into_iter().map(|t| t.patient_id).collect();
    assert_eq!(truth_ids, patients);
}

#[test]
fn patients_and_conditions_carry_what_the_importer_reads() {
    for p in resources("Patient") {
        assert!(matches!(p["gender"].as_str(), Some("female" | "male")));
        assert!(p["birthDate"].as_str().unwrap().parse::<NaiveDate>().is_ok());
        assert!(p["name"][0]["family"].is_string());
        assert_eq!(p["meta"]["tag"][0]["code"], "synthetic");
    }
    for c in resources("Condition") {
        let (system, code) = coding(&c, "code");
        assert_eq!(system, "http://hl7.org/fhir/sid/icd-10-cm");
        assert!(code.len() >= 3 && code.as_bytes()[0].is_ascii_uppercase(), "{code}");
        assert!(c["onsetDateTime"].as_str().unwrap().ends_with('Z'));
    }
}

#[test]
fn observations_carry_time_code_quantity_and_the_agreed_category() {
    const FHIR: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
    const RDT: &str = "urn:rdt:observation-category";
    let expect: HashMap<&str, (&str, &str)> = [
        ("das28-esr", (RDT, "disease-activity")),
        ("das28-crp", (RDT, "disease-activity")),
        ("tjc28", (RDT, "disease-activity")),
        ("sjc28", (RDT, "disease-activity")),
        ("patient-global-vas", (RDT, "disease-activity")),
        ("4537-7", (FHIR, "laboratory")),
        ("1988-5", (FHIR, "laboratory")),
        ("718-7", (FHIR, "laboratory")),
        ("svdh-total", (RDT, "imaging")),
        ("us-pd-global", (RDT, "imaging")),
        ("ifn-signature-score", (RDT, "omics")),
    ]
    .into_iter()
    .collect();
    let mut seen = HashSet::new();
    for o in resources("Observation") {
        assert_eq!(o["status"], "final");
        let t = o["effectiveDateTime"].as_str().expect("effectiveDateTime");
        assert_eq!(t.len(), 20, "{t}");
        let c = &o["code"]["coding"][0];
        assert!(c["system"].is_string() && c["code"].is_string() && c["display"].is_string());
        let q = &o["valueQuantity"];
        assert!(q["value"].as_f64().is_some_and(f64::is_finite));
        assert_eq!(q["system"], "http://unitsofmeasure.org");
        assert!(q["unit"].is_string() && q["code"].is_string());
        let code = c["code"].as_str().unwrap();
        let categories: Vec<(String, String)> = o["category"]
            .as_array()
            .expect("a category")
            .iter()
            .map(|cat| {
                let cc = &cat["coding"][0];
                (cc["system"].as_str().unwrap().to_owned(), cc["code"].as_str().unwrap().to_owned())
            })
            .collect();
        assert!(!categories.is_empty());
        if let Some((system, cat)) = expect.get(code) {
            assert!(categories.iter().any(|(s, c)| s == system && c == cat), "{code}: {categories:?}");
            seen.insert(code.to_owned());
        }
    }
    assert_eq!(seen.len(), expect.len(), "every kind of measurement occurs in {PATIENTS} patients: {seen:?}");
}

#[test]
fn das28_recomputes_from_its_recorded_parts() {
    // Group each visit's values by encounter, then recompute the score from its parts.
    let mut visits: BTreeMap<String, HashMap<String, f64>> = BTreeMap::new();
    for o in resources("Observation") {
        let Some(encounter) = o["encounter"]["reference"].as_str() else { continue };
        let code = o["code"]["coding"][0]["code"].as_str().unwrap().to_owned();
        visits.entry(encounter.to_owned()).or_default().insert(code, o["valueQuantity"]["value"].as_f64().unwrap());
    }
    let mut checked = 0;
    for (encounter, v) in &visits {
        let parts = || (v["tjc28"], v["sjc28"], v["patient-global-vas"]);
        if let Some(score) = v.get("das28-esr") {
            let (t, s, g) = parts();
            assert_eq!(round2(das28_esr(t, s, v["4537-7"], g)), *score, "{encounter}: {v:?}");
            checked += 1;
        }
        if let Some(score) = v.get("das28-crp") {
            let (t, s, g) = parts();
            assert_eq!(round2(das28_crp(t, s, v["1988-5"], g)), *score, "{encounter}: {v:?}");
            checked += 1;
        }
        for part in ["tjc28", "sjc28"] {
            if let Some(n) = v.get(part) {
                assert!(n.fract() == 0.0 && (0.0..=28.0).contains(n), "{encounter}: {part} {n}");
            }
        }
    }
    assert!(checked > 2_000, "only {checked} DAS28 scores checked");
}

#[test]
fn notes_are_base64_plain_text_progress_notes() {
    let notes = resources("DocumentReference");
    assert!(notes.len() > PATIENTS * 5);
    let mut distinct_openings = HashSet::new();
    for n in &notes {
        assert_eq!(coding(n, "type"), ("http://loinc.org".to_owned(), "11506-3".to_owned()));
        let a = &n["content"][0]["attachment"];
        assert_eq!(a["contentType"], "text/plain");
        let bytes = base64::engine::general_purpose::STANDARD.decode(a["data"].as_str().unwrap()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.len() > 40, "{text}");
        distinct_openings.insert(text.chars().take(25).collect::<String>());
        assert!(n["date"].as_str().unwrap().ends_with('Z'));
    }
    // Many ways to begin a note, not one template per subtype.
    assert!(distinct_openings.len() > 200, "only {} distinct note openings", distinct_openings.len());
}

#[test]
fn nothing_is_recorded_after_the_export_date() {
    let cut = Params::default().data_cut;
    for name in ["Condition", "DocumentReference", "Encounter", "MedicationStatement", "Observation"] {
        for r in resources(name) {
            for field in ["effectiveDateTime", "date", "recordedDate", "onsetDateTime"] {
                if let Some(t) = r[field].as_str() {
                    assert!(date_of(t) <= cut, "{name} {field} {t}");
                }
            }
            for period in ["period", "effectivePeriod"] {
                for end in ["start", "end"] {
                    if let Some(t) = r[period][end].as_str() {
                        assert!(date_of(t) <= cut, "{name} {period}.{end} {t}");
                    }
                }
            }
        }
    }
}

#[test]
fn methotrexate_stopped_for_alt_has_the_alt_on_record() {
    let mut alt_by_patient_date: HashMap<(String, NaiveDate), f64> = HashMap::new();
    for o in resources("Observation") {
        if o["code"]["coding"][0]["code"] == "1742-6" {
            let key = (subject(&o), date_of(o["effectiveDateTime"].as_str().unwrap()));
            alt_by_patient_date.insert(key, o["valueQuantity"]["value"].as_f64().unwrap());
        }
    }
    let mut stopped = 0;
    for m in resources("MedicationStatement") {
        let reason = m["statusReason"][0]["text"].as_str().unwrap_or("");
        if m["medicationCodeableConcept"]["coding"][0]["code"] == "6851" && reason.contains("adverse event") {
            assert_eq!(m["status"], "stopped");
            let end = date_of(m["effectivePeriod"]["end"].as_str().expect("a stopped course has an end"));
            let alt = alt_by_patient_date[&(subject(&m), end)];
            assert!(alt > 120.0, "ALT {alt} on the day methotrexate was stopped");
            stopped += 1;
        }
    }
    assert!(stopped >= 5, "only {stopped} methotrexate stops for ALT in {PATIENTS} patients");
}

/// What an analysis of the export sees of one patient.
#[derive(Default)]
struct Seen {
    das28: Vec<Das28Reading>,
    /// (drug, start, end)
    courses: Vec<(Drug, NaiveDate, Option<NaiveDate>)>,
    last_visit: Option<NaiveDate>,
}

#[test]
fn ground_truth_outcomes_are_reproduced_from_the_fhir_alone() {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    for o in resources("Observation") {
        let code = o["code"]["coding"][0]["code"].as_str().unwrap();
        if code == "das28-esr" || code == "das28-crp" {
            let date = date_of(o["effectiveDateTime"].as_str().unwrap());
            let score = o["valueQuantity"]["value"].as_f64().unwrap();
            seen.entry(subject(&o)).or_default().das28.push(Das28Reading { date, score, scale: journey::clinical::Scale::Das28 });
        }
    }
    for m in resources("MedicationStatement") {
        let drug = Drug::from_rxnorm(m["medicationCodeableConcept"]["coding"][0]["code"].as_str().unwrap()).unwrap();
        let start = date_of(m["effectivePeriod"]["start"].as_str().unwrap());
        let end = m["effectivePeriod"]["end"].as_str().map(date_of);
        seen.entry(subject(&m)).or_default().courses.push((drug, start, end));
    }
    for e in resources("Encounter") {
        let date = date_of(e["period"]["start"].as_str().unwrap());
        let s = seen.entry(subject(&e)).or_default();
        s.last_visit = s.last_visit.max(Some(date));
    }
    let mut evaluable = 0;
    for truth in truths().into_iter().filter(|t| t.disease == synth::Disease::RheumatoidArthritis) {
        let s = &seen[&truth.patient_id];
        let mut series = s.das28.clone();
        series.sort_by_key(|r| r.date);
        let first = |pred: &dyn Fn(Drug) -> bool| s.courses.iter().filter(|c| pred(c.0)).map(|c| c.1).min();
        let failed_on = |pred: &dyn Fn(Drug) -> bool, start: NaiveDate| {
            let stopped = s.courses.iter().filter(|c| pred(c.0) && c.1 == start).filter_map(|c| c.2).min();
            let other = s.courses.iter().filter(|c| c.0.is_dmard() && !pred(c.0) && c.1 > start).map(|c| c.1).min();
            [stopped, other].into_iter().flatten().min()
        };
        let is_mtx = |d: Drug| d == Drug::Methotrexate;
        let is_tnfi = |d: Drug| matches!(d, Drug::Adalimumab | Drug::Etanercept);
        let mtx = first(&is_mtx);
        let tnfi = first(&is_tnfi);
        let index = mtx.or(first(&|d: Drug| d.is_dmard()));
        assert_eq!(index, truth.index_date, "{}", truth.patient_id);
        let dmard_starts: Vec<NaiveDate> = s.courses.iter().filter(|c| c.0.is_dmard()).map(|c| c.1).collect();
        let o = &truth.outcomes;
        assert_eq!(mtx.and_then(|d| response_at(&series, d, SIX_MONTHS, failed_on(&is_mtx, d))), o.mtx_response_6m);
        assert_eq!(tnfi.and_then(|d| response_at(&series, d, SIX_MONTHS, failed_on(&is_tnfi, d))), o.tnfi_response_6m);
        assert_eq!(index.and_then(|d| flare_within(&series, d, 182)), o.flare_6m);
        assert_eq!(index.and_then(|d| switch_within(&dmard_starts, d, 365, s.last_visit.unwrap())), o.switch_12m);
        evaluable += o.mtx_response_6m.is_some() as usize;
    }
    assert!(evaluable > 200, "only {evaluable} patients with an MTX response");
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn same_seed_gives_the_same_bytes_whatever_the_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let params = Params { patients: 120, seed: 99, ..Params::default() };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    generate(&params, &a).unwrap();
    rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| generate(&params, &b).unwrap());
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between two runs with seed 99");
    }
    let c = tmp.path().join("c");
    generate(&Params { seed: 100, ..params }, &c).unwrap();
    assert_ne!(files(&c)["Observation.ndjson"], fa["Observation.ndjson"], "another seed, another cohort");
}

#[test]
fn a_patient_does_not_depend_on_the_cohort_size() {
    let small = Params { patients: 10, seed: SEED, ..Params::default() };
    let p_small = synth::simulate_patient(&small, 5);
    let p_large = synth::simulate_patient(&Params { patients: 5_000, ..small }, 5);
    assert_eq!(p_small.truth, p_large.truth);
    // And patient 5 of the shared 400-patient cohort is the same patient again.
    let line = std::fs::read_to_string(cohort().join("Patient.ndjson")).unwrap().lines().nth(5).unwrap().to_owned();
    let p: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(p["id"], p_small.chart.patient_id);
}

#[test]
fn the_observed_files_are_the_same_bytes_with_or_without_counterfactuals() {
    let tmp = tempfile::tempdir().unwrap();
    let params = Params { patients: 150, seed: 31, ..Params::default() };
    let (with, without) = (tmp.path().join("with"), tmp.path().join("without"));
    let summary = generate(&params, &with).unwrap();
    // A stale counterfactual file in the directory is removed, not left to mislead.
    std::fs::create_dir_all(&without).unwrap();
    std::fs::write(without.join(synth::writer::COUNTERFACTUALS_FILE), "stale\n").unwrap();
    let bare = generate_with(&params, &without, Extras { counterfactuals: false }).unwrap();
    let (fw, fo) = (files(&with), files(&without));
    assert!(fw[synth::writer::COUNTERFACTUALS_FILE].len() > 10_000);
    assert!(!fo.contains_key(synth::writer::COUNTERFACTUALS_FILE));
    assert!(summary.counterfactual_patients.is_some_and(|n| n > 50) && bare.counterfactual_patients.is_none());
    for (name, bytes) in &fo {
        if name == synth::writer::MANIFEST_FILE {
            // The manifest lists what was written; everything else in it is the same.
            let strip = |b: &[u8]| -> Vec<String> {
                String::from_utf8(b.to_vec()).unwrap().lines().filter(|l| !l.contains("counterfactual")).map(str::to_owned).collect()
            };
            assert_eq!(strip(bytes), strip(&fw[name]));
        } else {
            assert!(bytes == &fw[name], "{name} differs when counterfactuals are written");
        }
    }
    assert_eq!(summary.resources, bare.resources);
}

#[test]
fn counterfactuals_round_trip_and_agree_with_the_export() {
    let text = std::fs::read_to_string(cohort().join(synth::writer::COUNTERFACTUALS_FILE)).unwrap();
    let manifest = std::fs::read_to_string(cohort().join(synth::writer::MANIFEST_FILE)).unwrap();
    assert!(manifest.contains(&format!("file counterfactuals.ldjson: {} bytes", text.len())), "{manifest}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(manifest.contains(&format!("counterfactual patients: {}", lines.len())), "{manifest}");
    let truths: HashMap<String, GroundTruth> = truths().into_iter().map(|t| (t.patient_id.clone(), t)).collect();
    let mut das28_times: HashSet<(String, String)> = HashSet::new();
    for o in resources("Observation") {
        if matches!(o["code"]["coding"][0]["code"].as_str(), Some("das28-esr" | "das28-crp")) {
            das28_times.insert((subject(&o), o["effectiveDateTime"].as_str().unwrap().to_owned()));
        }
    }
    let mut dmard_starts: HashMap<(String, NaiveDate), Vec<Drug>> = HashMap::new();
    for m in resources("MedicationStatement") {
        let drug = Drug::from_rxnorm(m["medicationCodeableConcept"]["coding"][0]["code"].as_str().unwrap()).unwrap();
        if drug.is_dmard() {
            let start = date_of(m["effectivePeriod"]["start"].as_str().unwrap());
            dmard_starts.entry((subject(&m), start)).or_default().push(drug);
        }
    }
    let params = Params { patients: PATIENTS, seed: SEED, ..Params::default() };
    let mut previous = None;
    let mut observed: HashMap<ObservedOption, usize> = HashMap::new();
    for line in &lines {
        let c: CounterfactualTruth = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        // Reading and writing again gives the same line: nothing is lost in the round trip.
        assert_eq!(&serde_json::to_string(&c).unwrap(), line);
        let index: usize = c.patient_id.rsplit('-').next().unwrap().parse().unwrap();
        assert!(previous.is_none_or(|p| p < index), "patient order");
        previous = Some(index);
        // The file holds what the in-memory simulation gives.
        assert_eq!(synth::counterfactual_truth(&params, index).as_ref(), Some(&c));
        let truth = &truths[&c.patient_id];
        assert_eq!(truth.disease, synth::Disease::RheumatoidArthritis);
        assert_eq!(truth.subtype, c.subtype);
        assert!(truth.mtx_start.is_some_and(|d| (c.decision_date - d).num_days() >= 84));
        assert_eq!(c.decision_time.date_naive(), c.decision_date);
        // The visit's DAS28 is exported at exactly the decision time.
        let time = serde_json::to_value(c.decision_time).unwrap().as_str().unwrap().to_owned();
        assert!(das28_times.contains(&(c.patient_id.clone(), time.clone())), "{} {time}", c.patient_id);
        assert_eq!(c.options.keys().copied().collect::<Vec<_>>(), OPTIONS);
        let started = dmard_starts.get(&(c.patient_id.clone(), c.decision_date)).cloned().unwrap_or_default();
        match c.observed_option {
            ObservedOption::Option(TreatmentOption::Continue) => assert!(started.is_empty(), "{}: {started:?}", c.patient_id),
            ObservedOption::Option(TreatmentOption::TnfInhibitor) => {
                assert!(matches!(started.as_slice(), [Drug::Adalimumab | Drug::Etanercept]), "{}: {started:?}", c.patient_id)
            }
            _ => assert!(!started.is_empty(), "{}", c.patient_id),
        }
        *observed.entry(c.observed_option).or_default() += 1;
        for o in c.options.values() {
            assert!((0.0..=1.0).contains(&o.response_probability));
            assert!(o.das28_latent_150.is_some() && o.das28_latent_270.is_some() && o.das28_latent_360.is_some());
        }
    }
    eprintln!("{} counterfactual patients; observed options {observed:?}", lines.len());
    let ra = truths.values().filter(|t| t.disease == synth::Disease::RheumatoidArthritis).count();
    assert!(lines.len() * 10 >= ra * 7, "{} of {ra} RA patients", lines.len());
    assert!(observed.get(&ObservedOption::Option(TreatmentOption::Continue)).is_some_and(|n| *n > 50));
    assert!(observed.get(&ObservedOption::Option(TreatmentOption::TnfInhibitor)).is_some_and(|n| *n > 20));
}

/// The time counterfactuals add (`cargo test --workspace --locked -- --ignored
/// time_generation_with_and_without_counterfactuals --nocapture`): wall time, and the
/// process's CPU time (Linux), which another build on the machine disturbs less. Prints;
/// asserts nothing about speed.
#[test]
#[ignore]
fn time_generation_with_and_without_counterfactuals() {
    /// User + system CPU seconds of this process so far, from /proc (100 ticks a second).
    fn cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
        (ticks(11) + ticks(12)) / 100.0
    }
    let tmp = tempfile::tempdir().unwrap();
    let params = Params { patients: 2_000, seed: 42, ..Params::default() };
    for round in 0..3 {
        let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
        generate_with(&params, &tmp.path().join("without"), Extras { counterfactuals: false }).unwrap();
        let without = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        let (wall, cpu) = (std::time::Instant::now(), cpu_seconds());
        let summary = generate(&params, &tmp.path().join("with")).unwrap();
        let with = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        eprintln!(
            "round {round}: 2,000 patients without counterfactuals {:.2} s wall / {:.2} s CPU, with {:.2} s wall / {:.2} s CPU ({} counterfactual patients)",
            without.0,
            without.1,
            with.0,
            with.1,
            summary.counterfactual_patients.unwrap()
        );
    }
}
