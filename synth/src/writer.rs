//! Writing a cohort to disk: one NDJSON file per resource type, as a FHIR Bulk Data
//! export lays them out, plus the ground truth, the counterfactual truth and a
//! plain-text manifest.
//!
//! Patients are simulated in parallel in fixed-size batches and written in patient
//! order, so the bytes depend only on the parameters, never on thread timing, and
//! memory stays bounded by one batch whatever the cohort size. A patient's
//! counterfactual runs are simulated by the same task as the patient, after it; they
//! read nothing back into the observed patient, whose files are the same bytes with
//! or without them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::codes::{local_concept_map, Coding};
use crate::counterfactual;
use crate::error::SynthError;
use crate::fhir::{patient_lines, PatientLines, ResourceCounts};
use crate::params::Params;
use crate::patient::{simulate, Scenario};

/// The files a cohort directory holds. Only the `.ndjson` ones are FHIR. The ground
/// truth is JSON Lines but named `.ldjson` (line-delimited JSON), and the manifest is
/// `.txt`, because RDT's importer reads every `.json`, `.ndjson` and `.jsonl` file under
/// a directory as FHIR: `rdt import DIR` must see the export and nothing else.
pub const PATIENT_FILE: &str = "Patient.ndjson";
pub const CONDITION_FILE: &str = "Condition.ndjson";
pub const ENCOUNTER_FILE: &str = "Encounter.ndjson";
pub const OBSERVATION_FILE: &str = "Observation.ndjson";
pub const MEDICATION_STATEMENT_FILE: &str = "MedicationStatement.ndjson";
pub const DOCUMENT_REFERENCE_FILE: &str = "DocumentReference.ndjson";
pub const GROUND_TRUTH_FILE: &str = "ground_truth.ldjson";
/// The counterfactual truth ([`crate::counterfactual::CounterfactualTruth`], one line per
/// rheumatoid arthritis patient with a decision visit, in patient order).
pub const COUNTERFACTUALS_FILE: &str = "counterfactuals.ldjson";
pub const MANIFEST_FILE: &str = "synth-manifest.txt";

/// Patients simulated per parallel batch.
const BATCH: usize = 512;

/// What a run writes beyond the export, the ground truth and the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extras {
    /// `counterfactuals.ldjson`: each rheumatoid arthritis patient re-simulated under
    /// every treatment option (7 more runs per such patient, without notes or FHIR:
    /// about a quarter more time). On by default; off, the other files are the same
    /// bytes and a `counterfactuals.ldjson` left by an earlier run is removed.
    pub counterfactuals: bool,
}

impl Default for Extras {
    fn default() -> Self {
        Extras { counterfactuals: true }
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub patients: u64,
    pub seed: u64,
    pub out_dir: PathBuf,
    pub resources: ResourceCounts,
    /// Patients per hidden subtype (snake_case names).
    pub subtypes: BTreeMap<String, u64>,
    /// Bytes per file written.
    pub files: BTreeMap<String, u64>,
    /// Patients with a line in `counterfactuals.ldjson`; `None` when it was not written.
    pub counterfactual_patients: Option<u64>,
}

impl Summary {
    /// The run for a terminal (`rdt synth`): patients, hidden subtypes, resources per
    /// type, where the ground truth is and how to import the cohort.
    pub fn text(&self, elapsed_seconds: f64) -> String {
        use std::fmt::Write as _;
        let out_dir = self.out_dir.display();
        let mut s = format!(
            "Generated {} virtual patients (seed {}) into {out_dir} in {elapsed_seconds:.1} s\n  hidden subtypes:\n",
            self.patients, self.seed
        );
        for (subtype, n) in &self.subtypes {
            let _ = writeln!(s, "    {subtype:<24} {n:>9}");
        }
        let _ = writeln!(s, "  resources: {}", self.resources.resources());
        for (name, n) in self.resources.by_type() {
            let _ = writeln!(s, "    {name:<24} {n:>9}");
        }
        let _ = writeln!(s, "  ground truth: {}", self.out_dir.join(GROUND_TRUTH_FILE).display());
        if let Some(n) = self.counterfactual_patients {
            let path = self.out_dir.join(COUNTERFACTUALS_FILE);
            let _ = writeln!(s, "  counterfactual outcomes per treatment option ({n} patients): {}", path.display());
        }
        let _ = writeln!(s, "Import it with: rdt import {out_dir}");
        if self.files.contains_key(CONCEPT_MAP_FILE) {
            let _ = writeln!(
                s,
                "Its local codes need their map (before or after the import): rdt terminology import {}",
                self.out_dir.join(CONCEPT_MAP_FILE).display()
            );
        }
        s
    }
}

struct Outputs {
    files: Vec<(&'static str, PathBuf, BufWriter<File>)>,
}

impl Outputs {
    /// The files in the order [`Outputs::write`] indexes them; the counterfactuals last.
    fn create(dir: &Path, extras: Extras) -> Result<Self, SynthError> {
        std::fs::create_dir_all(dir).map_err(|source| SynthError::Write { path: dir.to_owned(), source })?;
        let mut names = vec![
            PATIENT_FILE,
            CONDITION_FILE,
            ENCOUNTER_FILE,
            OBSERVATION_FILE,
            MEDICATION_STATEMENT_FILE,
            DOCUMENT_REFERENCE_FILE,
            GROUND_TRUTH_FILE,
        ];
        if extras.counterfactuals {
            names.push(COUNTERFACTUALS_FILE);
        } else {
            // An earlier run's counterfactuals would pass for this cohort's.
            let path = dir.join(COUNTERFACTUALS_FILE);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(SynthError::Write { path, source: e }),
                _ => {}
            }
        }
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            let path = dir.join(name);
            let file = File::create(&path).map_err(|source| SynthError::Write { path: path.clone(), source })?;
            files.push((name, path, BufWriter::with_capacity(1 << 20, file)));
        }
        Ok(Outputs { files })
    }

    fn write(&mut self, index: usize, text: &str) -> Result<(), SynthError> {
        let (_, path, w) = &mut self.files[index];
        w.write_all(text.as_bytes()).map_err(|source| SynthError::Write { path: path.clone(), source })
    }

    fn finish(self) -> Result<BTreeMap<String, u64>, SynthError> {
        let mut sizes = BTreeMap::new();
        for (name, path, w) in self.files {
            let file = w.into_inner().map_err(|e| SynthError::Write { path: path.clone(), source: e.into_error() })?;
            file.sync_all().map_err(|source| SynthError::Write { path: path.clone(), source })?;
            let len = file.metadata().map_err(|source| SynthError::Write { path: path.clone(), source })?.len();
            sizes.insert(name.to_owned(), len);
        }
        Ok(sizes)
    }
}

/// The ConceptMap `local` coding writes beside the export (`rdt terminology import` it).
pub const CONCEPT_MAP_FILE: &str = "ConceptMap.json";

/// One simulated patient, serialised.
struct Batch {
    lines: PatientLines,
    truth: String,
    /// The counterfactual line, for a patient with a decision visit when asked for.
    counterfactual: Option<String>,
    subtype: &'static str,
}

/// Generates the cohort described by `params` into `out_dir` (created if missing;
/// files of the same names are overwritten), with its counterfactual truth.
pub fn generate(params: &Params, out_dir: &Path) -> Result<Summary, SynthError> {
    generate_with(params, out_dir, Extras::default())
}

/// [`generate`], writing the extras asked for.
pub fn generate_with(params: &Params, out_dir: &Path, extras: Extras) -> Result<Summary, SynthError> {
    params.validate()?;
    let mut out = Outputs::create(out_dir, extras)?;
    let mut resources = ResourceCounts::default();
    let mut subtypes: BTreeMap<String, u64> = BTreeMap::new();
    let mut counterfactual_patients = 0;
    for start in (0..params.patients).step_by(BATCH) {
        let end = (start + BATCH).min(params.patients);
        let batch: Vec<Batch> = (start..end)
            .into_par_iter()
            .map(|i| {
                let simulated = simulate(params, i, &Scenario::OBSERVED);
                let p = &simulated.patient;
                let lines = patient_lines(&p.chart, params.coding)?;
                let mut truth = serde_json::to_string(&p.truth)
                    .map_err(|source| SynthError::Serialize { resource_type: "ground truth", source })?;
                truth.push('\n');
                let counterfactual = if extras.counterfactuals {
                    counterfactual::of_observed(params, i, &simulated)
                        .map(|c| {
                            serde_json::to_string(&c)
                                .map_err(|source| SynthError::Serialize { resource_type: "counterfactual truth", source })
                        })
                        .transpose()?
                        .map(|line| line + "\n")
                } else {
                    None
                };
                Ok(Batch { lines, truth, counterfactual, subtype: p.truth.subtype.as_str() })
            })
            .collect::<Result<_, SynthError>>()?;
        for b in batch {
            out.write(0, &b.lines.patient)?;
            out.write(1, &b.lines.condition)?;
            out.write(2, &b.lines.encounter)?;
            out.write(3, &b.lines.observation)?;
            out.write(4, &b.lines.medication_statement)?;
            out.write(5, &b.lines.document_reference)?;
            out.write(6, &b.truth)?;
            if let Some(line) = &b.counterfactual {
                out.write(7, line)?;
                counterfactual_patients += 1;
            }
            resources.add(&b.lines.counts);
            *subtypes.entry(b.subtype.to_owned()).or_default() += 1;
        }
    }
    let mut files = out.finish()?;
    if params.coding == Coding::Local {
        let path = out_dir.join(CONCEPT_MAP_FILE);
        let text = serde_json::to_string_pretty(&local_concept_map())
            .map_err(|source| SynthError::Serialize { resource_type: "ConceptMap", source })?;
        std::fs::write(&path, &text).map_err(|source| SynthError::Write { path, source })?;
        files.insert(CONCEPT_MAP_FILE.to_owned(), text.len() as u64);
    }
    let summary = Summary {
        patients: params.patients as u64,
        seed: params.seed,
        out_dir: out_dir.to_owned(),
        resources,
        subtypes,
        files,
        counterfactual_patients: extras.counterfactuals.then_some(counterfactual_patients),
    };
    write_manifest(params, &summary, out_dir)?;
    Ok(summary)
}

/// A human-readable record of what was generated and how; no clock time, so two runs
/// with the same parameters leave identical manifests.
fn write_manifest(params: &Params, summary: &Summary, dir: &Path) -> Result<(), SynthError> {
    let path = dir.join(MANIFEST_FILE);
    let params_json = serde_json::to_string(params)
        .map_err(|source| SynthError::Serialize { resource_type: "parameters", source })?;
    let mut text = String::new();
    text.push_str("RDT virtual cohort (synth). Synthetic patients: no real person's data.\n");
    text.push_str(&format!("generator: synth {}\n", env!("CARGO_PKG_VERSION")));
    text.push_str(&format!("params: {params_json}\n"));
    text.push_str(&format!("patients: {}\n", summary.patients));
    for (subtype, n) in &summary.subtypes {
        text.push_str(&format!("subtype {subtype}: {n}\n"));
    }
    let r = &summary.resources;
    for (name, n) in r.by_type() {
        text.push_str(&format!("resources {name}: {n}\n"));
    }
    if let Some(n) = summary.counterfactual_patients {
        text.push_str(&format!("counterfactual patients: {n}\n"));
    }
    for (file, bytes) in &summary.files {
        text.push_str(&format!("file {file}: {bytes} bytes\n"));
    }
    std::fs::write(&path, text).map_err(|source| SynthError::Write { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_text_lists_subtypes_resources_and_the_import_command() {
        let summary = Summary {
            patients: 3,
            seed: 42,
            out_dir: PathBuf::from("/tmp/cohort"),
            resources: ResourceCounts { patient: 3, ..ResourceCounts::default() },
            subtypes: BTreeMap::from([("seropositive_ra".to_owned(), 3)]),
            files: BTreeMap::new(),
            counterfactual_patients: None,
        };
        let text = summary.text(2.0);
        assert!(text.starts_with("Generated 3 virtual patients (seed 42) into /tmp/cohort in 2.0 s\n  hidden subtypes:\n"));
        assert!(text.contains(&format!("    {:<24} {:>9}\n", "seropositive_ra", 3)));
        assert!(text.contains("  resources: 3\n"));
        assert!(text.contains(&format!("    {:<24} {:>9}\n", "Patient", 3)));
        assert!(text.ends_with("  ground truth: /tmp/cohort/ground_truth.ldjson\nImport it with: rdt import /tmp/cohort\n"));
        let with = Summary { counterfactual_patients: Some(2), ..summary }.text(2.0);
        assert!(with.contains(
            "  ground truth: /tmp/cohort/ground_truth.ldjson\n  counterfactual outcomes per treatment option (2 patients): /tmp/cohort/counterfactuals.ldjson\n"
        ));
    }
}
