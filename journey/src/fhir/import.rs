//! The importer: paths -> files -> one transaction per file.
//!
//! Guarantees:
//! - a file is all or nothing: every resource of it is parsed and written inside one
//!   database transaction, and the first bad resource rolls the file back;
//! - other files of the run still import, and the report says which failed;
//! - ids are read within the run's source ([`SourceName`]): re-importing a resource
//!   of the same source replaces its events (see [`crate::store::FileWrite`]), another
//!   source's resource with the same type and id is another resource;
//! - no patient is made up and none is overwritten by another source: a Patient whose
//!   id another source holds is refused, and so is a resource about a patient of
//!   another source or of no import. Refused resources are reported one by one
//!   ([`ImportReport::refused`]) while the rest of their file imports.
//!
//! Patients may arrive after the resources about them (a Bulk export whose files are
//! not named by type, a Bundle listing its Patient last): a resource whose patient is
//! neither stored nor written yet waits until the end of the run, and is written then
//! if a file of the run brought the patient, refused otherwise.
//!
//! Speed: NDJSON is cut into blocks of lines parsed in parallel (rayon) on a blocking
//! thread while the previous block is being written, so parsing and SQLite overlap.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::error::{ImportError, Location, Problem};
use super::map::{SkipReason, UNRESOLVED_MEDICATION_SYSTEM};
use super::parse::{ndjson_lines, parse_document, parse_ndjson_block, Layout, Parsed};
use super::report::{FileOutcome, ImportReport, Refusals, SkippedCount};
use crate::event::{Code, Event, Modality, PatientId, SourceName};
use crate::store::{FileWrite, JourneyStore, MedicationConcept, PatientRecord, StoreError, WriteBatch};

/// A batch is committed (made durable) once it holds this much input, so that many
/// small files (a Bundle per patient) share one fsync; each file is still atomic on
/// its own (a savepoint), and the report is printed only after the last commit.
const BATCH_COMMIT_BYTES: u64 = 64 << 20;

/// Input read and parsed ahead of the file being written.
const PREFETCH_BYTES: u64 = 32 << 20;

/// Lines per parallel parse block: large enough to keep both cores busy, small enough
/// that memory stays flat on multi-gigabyte files.
const BLOCK_LINES: usize = 8_192;

/// Told about the import's progress; the CLI draws a progress bar from it.
pub trait ImportProgress: Send + Sync {
    /// Before the first file: how many files and bytes the run will read.
    fn begin(&self, _files: usize, _bytes: u64) {}
    /// `bytes` more of the input have been parsed.
    fn advance(&self, _bytes: u64) {}
    /// A file has been committed or rolled back.
    fn file_done(&self, _outcome: &FileOutcome) {}
}

/// Progress that goes nowhere (tests, `--json` runs).
pub struct NoProgress;
impl ImportProgress for NoProgress {}

/// Why [`import_recorded`] gave no report.
#[derive(Debug, thiserror::Error)]
pub enum RecordedImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot record the import in the audit log")]
    Audit(#[source] audit_log::AuditError),
}

/// Imports `paths` of `source` into `store` and records the run in `log` as one
/// `import` entry by `by` naming the source and each file's sha256
/// ([`ImportReport::audit_record`]), so the trail says which bytes became which
/// journeys (`rdt import`, `rdt demo`).
pub async fn import_recorded(
    store: &JourneyStore,
    log: &audit_log::AuditLog,
    source: SourceName,
    paths: &[PathBuf],
    by: audit_log::Principal,
    progress: &dyn ImportProgress,
) -> Result<(ImportReport, audit_log::Seq), RecordedImportError> {
    let report = Importer::for_source(store.clone(), source).await?.import_paths(paths, progress).await?;
    let entry = audit_log::NewEntry::new(by, audit_log::EntryBody::Import { import: report.audit_record() });
    let seq = log.append(entry).await.map_err(RecordedImportError::Audit)?;
    Ok((report, seq))
}

/// Imports FHIR files of one source into one store.
pub struct Importer {
    store: JourneyStore,
    /// Whose ids the files carry.
    source: SourceName,
    /// This source's Medication resources, of earlier imports and of files committed
    /// in this run.
    medications: HashMap<String, Code>,
}

impl Importer {
    /// An importer for the default source ([`SourceName::DEFAULT`]).
    pub async fn new(store: JourneyStore) -> Result<Self, StoreError> {
        Self::for_source(store, SourceName::default()).await
    }

    /// An importer reading every id of its files as `source`'s.
    pub async fn for_source(store: JourneyStore, source: SourceName) -> Result<Self, StoreError> {
        let medications = store.medications(&source).await?;
        Ok(Importer { store, source, medications })
    }

    pub fn source(&self) -> &SourceName {
        &self.source
    }

    /// Imports files and directories (searched recursively for `.json`, `.ndjson` and
    /// `.jsonl`). Per-file problems are in the report; `Err` means the store itself
    /// failed, and the file being written at that moment was rolled back.
    pub async fn import_paths(
        &mut self,
        paths: &[PathBuf],
        progress: &dyn ImportProgress,
    ) -> Result<ImportReport, StoreError> {
        Ok(self.run(paths, progress, false).await?.0)
    }

    /// Imports `paths` as one unit: everything or nothing. A file that fails or a
    /// resource that is refused rolls the whole run back (a FHIR transaction posted to
    /// `POST /fhir`, where the sender must know that none of it was kept). Returns the
    /// report and whether the run was committed.
    pub async fn import_all_or_nothing(
        &mut self,
        paths: &[PathBuf],
        progress: &dyn ImportProgress,
    ) -> Result<(ImportReport, bool), StoreError> {
        self.run(paths, progress, true).await
    }

    async fn run(
        &mut self,
        paths: &[PathBuf],
        progress: &dyn ImportProgress,
        all_or_nothing: bool,
    ) -> Result<(ImportReport, bool), StoreError> {
        let (files, missing) = discover(paths);
        let sizes: Vec<u64> = files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).collect();
        progress.begin(files.len() + missing.len(), sizes.iter().sum());

        let mut run = Run::default();
        let mut outcomes = Vec::with_capacity(files.len() + missing.len());
        for (path, problem) in missing {
            let error = ImportError {
                file: path.clone(),
                location: Location::File,
                resource_type: None,
                resource_id: None,
                field: None,
                problem,
            };
            let outcome = FileOutcome { path, layout: None, resources: 0, events: 0, error: Some(error) };
            progress.file_done(&outcome);
            outcomes.push(outcome);
        }
        let mut batch = self.store.begin().await?;
        let mut batch_bytes = 0;
        // Files are read and parsed ahead of the one being written, as many as fit in
        // PREFETCH_BYTES (at least one): with a Bundle per patient, parsing the next few
        // keeps both cores busy while SQLite writes.
        let mut ahead: VecDeque<tokio::task::JoinHandle<Prepared>> = VecDeque::new();
        let (mut next, mut ahead_bytes) = (0, 0);
        for (i, path) in files.iter().enumerate() {
            while next < files.len() && (next <= i || ahead_bytes + sizes[next] <= PREFETCH_BYTES) {
                ahead.push_back(prepare(files[next].clone(), self.source.clone()));
                ahead_bytes += sizes[next];
                next += 1;
            }
            let prepared = ahead.pop_front().expect("every file is prepared").await.expect("a parse task panicked");
            ahead_bytes -= sizes[i];
            let outcome = self.import_file(path, outcomes.len(), prepared, &mut batch, progress, &mut run).await?;
            batch_bytes += sizes[i];
            if batch_bytes >= BATCH_COMMIT_BYTES && !all_or_nothing {
                batch.commit().await?;
                batch = self.store.begin().await?;
                batch_bytes = 0;
            }
            progress.file_done(&outcome);
            outcomes.push(outcome);
        }
        self.place_waiting(&mut batch, &mut run, &mut outcomes).await?;
        let report = run.into_report(self.source.clone(), outcomes);
        if all_or_nothing && report.has_failures() {
            // Dropping the batch rolls every file of the run back; the medications
            // this run learnt are forgotten with them.
            drop(batch);
            self.medications = self.store.medications(&self.source).await?;
            return Ok((report, false));
        }
        batch.commit().await?;
        Ok((report, true))
    }

    /// Places the resources that waited for their patient: written when a file of the
    /// run brought the patient (or the store holds it for this source by now),
    /// refused otherwise. Their events count towards the file they came from.
    async fn place_waiting(
        &self,
        batch: &mut WriteBatch,
        run: &mut Run,
        outcomes: &mut [FileOutcome],
    ) -> Result<(), StoreError> {
        let waiting = std::mem::take(&mut run.waiting);
        if waiting.is_empty() {
            return Ok(());
        }
        let mut tx = batch.file().await?;
        let mut ask = FxHashSet::default();
        let ask: Vec<&PatientId> =
            waiting.iter().map(|w| &w.unit.patient).filter(|p| !run.held.contains(*p) && ask.insert(*p)).collect();
        let found = tx.patient_sources(&ask).await?;
        let mut events = Vec::new();
        for Waiting { file, unit } in waiting {
            let refusal = |problem| ImportError {
                file: outcomes[file].path.clone(),
                location: unit.location,
                resource_type: Some(unit.resource_type.clone()),
                resource_id: Some(unit.resource_id.clone()),
                field: None,
                problem,
            };
            let patient = unit.patient.as_str().to_owned();
            match found.get(&unit.patient) {
                _ if run.held.contains(&unit.patient) => {}
                Some(holder) if *holder == self.source => {}
                Some(holder) => {
                    let (held_by, importing) = (holder.to_string(), self.source.to_string());
                    run.refused.push(refusal(Problem::PatientOfAnotherSource { patient, held_by, importing }));
                    continue;
                }
                None => {
                    run.refused.push(refusal(Problem::UnknownPatient { patient, importing: self.source.to_string() }));
                    continue;
                }
            }
            outcomes[file].events += unit.events.len() as u64;
            run.count_events(&unit.events);
            events.extend(unit.events);
        }
        tx.replace_events(&events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Imports one file as one unit; `index` is its place in the report's files.
    async fn import_file(
        &mut self,
        path: &Path,
        index: usize,
        prepared: Prepared,
        batch: &mut WriteBatch,
        progress: &dyn ImportProgress,
        run: &mut Run,
    ) -> Result<FileOutcome, StoreError> {
        let mut outcome =
            FileOutcome { path: path.to_owned(), layout: Some(Layout::of(path)), resources: 0, events: 0, error: None };
        let fail = |mut outcome: FileOutcome, mut error: ImportError| {
            error.file = path.to_owned();
            outcome.error = Some(error);
            outcome.resources = 0;
            outcome.events = 0;
            outcome
        };
        let label: Arc<str> = path.display().to_string().into();
        let mut file = FileImport::new(path, self.source.clone());
        let mut tx = batch.file().await?;
        let result = match prepared {
            Prepared::Unusable(problem) => return Ok(fail(outcome, file_error(problem))),
            Prepared::Document { bytes, results } => {
                progress.advance(bytes);
                file.write(results, &run.held, &mut tx).await
            }
            Prepared::Ndjson { text, lines } => {
                let blocks: Vec<Vec<(usize, Range<usize>)>> = lines.chunks(BLOCK_LINES).map(<[_]>::to_vec).collect();
                let spawn = |block: Vec<(usize, Range<usize>)>| {
                    let (text, label, source) = (text.clone(), label.clone(), self.source.clone());
                    let bytes: u64 = block.iter().map(|(_, r)| r.len() as u64 + 1).sum();
                    tokio::task::spawn_blocking(move || (parse_ndjson_block(&text, &block, &label, &source), bytes))
                };
                let mut blocks = blocks.into_iter();
                let mut in_flight = blocks.next().map(spawn);
                let mut result = Ok(Ok(()));
                while let Some(handle) = in_flight.take() {
                    // Start parsing the next block before writing this one.
                    in_flight = blocks.next().map(spawn);
                    let (results, bytes) = handle.await.expect("a parse task panicked");
                    progress.advance(bytes);
                    result = file.write(results, &run.held, &mut tx).await;
                    if !matches!(result, Ok(Ok(()))) {
                        break;
                    }
                }
                result
            }
        };
        let result = match result {
            Ok(Ok(())) => file.resolve_pending(&self.medications, &run.held, &mut tx).await,
            other => other,
        };
        match result? {
            Ok(()) => {}
            Err(error) => {
                // Dropping the unit rolls it back: the file leaves nothing behind.
                drop(tx);
                return Ok(fail(outcome, error));
            }
        }
        tx.commit().await?;
        self.medications.extend(file.medications.drain());
        outcome.resources = file.resources.values().sum();
        outcome.events = file.events_by_modality.values().sum();
        run.add(file, index);
        Ok(outcome)
    }
}

/// A file read, and for a JSON document parsed, ahead of its turn to be written.
enum Prepared {
    /// Unreadable, not UTF-8, or empty.
    Unusable(Problem),
    Document { bytes: u64, results: Vec<Result<Parsed, ImportError>> },
    /// NDJSON is parsed block by block while it is written, to keep memory flat.
    Ndjson { text: Arc<String>, lines: Vec<(usize, Range<usize>)> },
}

/// Reads and pre-parses a file on a blocking thread.
fn prepare(path: PathBuf, source: SourceName) -> tokio::task::JoinHandle<Prepared> {
    tokio::task::spawn_blocking(move || {
        let text = match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                // Windows tools often start UTF-8 files with a byte-order mark.
                Ok(text) if text.starts_with('\u{feff}') => text['\u{feff}'.len_utf8()..].to_owned(),
                Ok(text) => text,
                Err(e) => return Prepared::Unusable(Problem::Io(format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))),
            },
            Err(e) => return Prepared::Unusable(Problem::Io(e.to_string())),
        };
        if text.trim().is_empty() {
            return Prepared::Unusable(Problem::Json("the file is empty".into()));
        }
        match Layout::of(&path) {
            Layout::Document => {
                let results = parse_document(&text, &path.display().to_string(), &source);
                Prepared::Document { bytes: text.len() as u64, results }
            }
            // Arc<String>, not Arc<str>: converting would copy the whole file once more.
            Layout::Ndjson => Prepared::Ndjson { lines: ndjson_lines(&text), text: Arc::new(text) },
        }
    })
}

fn file_error(problem: Problem) -> ImportError {
    ImportError {
        file: PathBuf::new(),
        location: Location::File,
        resource_type: None,
        resource_id: None,
        field: None,
        problem,
    }
}

/// Expands directories; returns the files in import order, and the paths that do not
/// exist. Patient and Medication files go first so references to them resolve.
fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, Problem)>) {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(path)
                .follow_links(true)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(walkdir::DirEntry::into_path)
                .filter(|p| {
                    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
                    matches!(ext.as_str(), "json" | "ndjson" | "jsonl")
                })
                .collect();
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            missing.push((path.clone(), Problem::Io("no such file or directory".into())));
        }
    }
    let priority = |p: &PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        match name.split('.').next() {
            Some("Patient") => 0,
            Some("Medication") => 1,
            _ => 2,
        }
    };
    files.sort_by_key(priority); // stable: keeps the given order within a priority
    files.dedup();
    (files, missing)
}

/// Medication events waiting for their Medication resource.
struct PendingMedication {
    medication_id: String,
    unit: Unit,
}

/// One resource's events with where the resource was, so that a refusal can name it.
/// A resource is about one patient (its subject), so its events share `patient`.
struct Unit {
    location: Location,
    resource_type: String,
    resource_id: String,
    patient: PatientId,
    events: Vec<Event>,
}

/// A resource of a committed file waiting for its patient until the end of the run.
struct Waiting {
    /// Its file's place in the report.
    file: usize,
    unit: Unit,
}

/// What one file has written so far (inside its open transaction).
struct FileImport {
    path: PathBuf,
    source: SourceName,
    resources: BTreeMap<String, u64>,
    skipped: BTreeMap<(String, SkipReason), u64>,
    events_by_modality: BTreeMap<Modality, u64>,
    patients: FxHashSet<PatientId>,
    /// Patients this source holds that this file wrote or found in the store.
    held: FxHashSet<PatientId>,
    medications: HashMap<String, Code>,
    pending: Vec<PendingMedication>,
    /// Resources about a patient not known yet, for the end of the run.
    waiting: Vec<Unit>,
    refused: Refusals,
}

impl FileImport {
    fn new(path: &Path, source: SourceName) -> Self {
        FileImport {
            path: path.to_owned(),
            source,
            resources: BTreeMap::new(),
            skipped: BTreeMap::new(),
            events_by_modality: BTreeMap::new(),
            patients: FxHashSet::default(),
            held: FxHashSet::default(),
            medications: HashMap::new(),
            pending: Vec::new(),
            waiting: Vec::new(),
            refused: Refusals::default(),
        }
    }

    fn holds(&self, patient: &PatientId, run_held: &FxHashSet<PatientId>) -> bool {
        self.held.contains(patient) || run_held.contains(patient)
    }

    fn refuse(&mut self, location: Location, resource_type: &str, resource_id: &str, problem: Problem) {
        self.refused.push(ImportError {
            file: self.path.clone(),
            location,
            resource_type: Some(resource_type.to_owned()),
            resource_id: Some(resource_id.to_owned()),
            field: None,
            problem,
        });
    }

    /// Writes one block's results, or returns the block's first error.
    async fn write(
        &mut self,
        results: Vec<Result<Parsed, ImportError>>,
        run_held: &FxHashSet<PatientId>,
        tx: &mut FileWrite<'_>,
    ) -> Result<Result<(), ImportError>, StoreError> {
        let mut block = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(p) => block.push(p),
                Err(e) => return Ok(Err(e)),
            }
        }
        // Patient resources of this block whose id the store may hold for another source.
        let mut ask = FxHashSet::default();
        let ask: Vec<&PatientId> = block
            .iter()
            .filter_map(|p| p.mapped.patient.as_ref().map(|r| &r.id))
            .filter(|id| !self.holds(id, run_held) && ask.insert(*id))
            .collect();
        let found = tx.patient_sources(&ask).await?;

        let mut patients: Vec<PatientRecord> = Vec::new();
        let mut medications: Vec<MedicationConcept> = Vec::new();
        let mut units: Vec<Unit> = Vec::new();
        for parsed in block {
            *self.resources.entry(parsed.resource_type.clone()).or_default() += 1;
            let mapped = parsed.mapped;
            if let Some(reason) = mapped.skipped {
                *self.skipped.entry((parsed.resource_type, reason)).or_default() += 1;
                continue;
            }
            if let Some(p) = mapped.patient {
                match found.get(&p.id) {
                    Some(holder) if *holder != self.source => {
                        // Someone else's patient: neither the record nor its events
                        // are written; resources about it are refused as they come.
                        let problem = Problem::PatientHeldByAnotherSource {
                            patient: p.id.to_string(),
                            held_by: holder.to_string(),
                            importing: self.source.to_string(),
                        };
                        self.refuse(parsed.location, &parsed.resource_type, &parsed.resource_id, problem);
                        continue;
                    }
                    _ => {
                        self.held.insert(p.id.clone());
                        self.patients.insert(p.id.clone());
                        patients.push(p);
                    }
                }
            }
            if let Some(m) = mapped.medication {
                self.medications.insert(m.resource_id.clone(), m.code.clone());
                medications.push(m);
            }
            let Some(patient) = mapped.events.first().map(|e| e.patient.clone()) else { continue };
            let unit = Unit {
                location: parsed.location,
                resource_type: parsed.resource_type,
                resource_id: parsed.resource_id,
                patient,
                events: mapped.events,
            };
            match mapped.pending_medication {
                Some(medication_id) => self.pending.push(PendingMedication { medication_id, unit }),
                None => units.push(unit),
            }
        }
        tx.upsert_patients(&patients).await?;
        tx.upsert_medications(&medications).await?;
        self.place(units, run_held, tx).await?;
        Ok(Ok(()))
    }

    /// Writes the resources whose patient this source holds; refuses those about a
    /// patient of another source; keeps the rest waiting for the end of the run.
    async fn place(
        &mut self,
        units: Vec<Unit>,
        run_held: &FxHashSet<PatientId>,
        tx: &mut FileWrite<'_>,
    ) -> Result<(), StoreError> {
        let mut ask = FxHashSet::default();
        let ask: Vec<&PatientId> =
            units.iter().map(|u| &u.patient).filter(|p| !self.holds(p, run_held) && ask.insert(*p)).collect();
        let found = tx.patient_sources(&ask).await?;
        let mut events = Vec::new();
        for unit in units {
            if !self.holds(&unit.patient, run_held) {
                match found.get(&unit.patient) {
                    Some(holder) if *holder == self.source => {
                        self.held.insert(unit.patient.clone());
                    }
                    Some(holder) => {
                        let problem = Problem::PatientOfAnotherSource {
                            patient: unit.patient.to_string(),
                            held_by: holder.to_string(),
                            importing: self.source.to_string(),
                        };
                        self.refuse(unit.location, &unit.resource_type, &unit.resource_id, problem);
                        continue;
                    }
                    None => {
                        self.waiting.push(unit);
                        continue;
                    }
                }
            }
            events.extend(unit.events);
        }
        self.count_events(&events);
        tx.replace_events(&events).await?;
        Ok(())
    }

    fn count_events(&mut self, events: &[Event]) {
        for e in events {
            *self.events_by_modality.entry(e.modality).or_default() += 1;
            if !self.patients.contains(&e.patient) {
                self.patients.insert(e.patient.clone());
            }
        }
    }

    /// Gives pending medication events their code, from this file's Medication
    /// resources or earlier ones of the source, and places them; an unknown Medication
    /// fails the file.
    async fn resolve_pending(
        &mut self,
        known: &HashMap<String, Code>,
        run_held: &FxHashSet<PatientId>,
        tx: &mut FileWrite<'_>,
    ) -> Result<Result<(), ImportError>, StoreError> {
        let mut units = Vec::new();
        for PendingMedication { medication_id, mut unit } in std::mem::take(&mut self.pending) {
            let Some(code) = self.medications.get(&medication_id).or_else(|| known.get(&medication_id)) else {
                let reference = format!("Medication/{medication_id}");
                return Ok(Err(ImportError {
                    file: PathBuf::new(),
                    location: unit.location,
                    resource_type: Some(unit.resource_type),
                    resource_id: Some(unit.resource_id),
                    field: Some("medicationReference".into()),
                    problem: Problem::Unresolved(
                        reference,
                        format!(
                            "no Medication with that id in this file, earlier files or earlier imports of source `{}`",
                            self.source
                        ),
                    ),
                }));
            };
            for e in &mut unit.events {
                debug_assert_eq!(e.code.system, UNRESOLVED_MEDICATION_SYSTEM);
                e.code = code.clone();
            }
            units.push(unit);
        }
        self.place(units, run_held, tx).await?;
        Ok(Ok(()))
    }
}

/// What the run knows across its files: sums over committed files, the patients this
/// source holds as far as the run has seen, the resources waiting for their patient
/// and the refusals.
#[derive(Default)]
struct Run {
    patients: FxHashSet<PatientId>,
    resources: BTreeMap<String, u64>,
    skipped: BTreeMap<(String, SkipReason), u64>,
    events_by_modality: BTreeMap<Modality, u64>,
    held: FxHashSet<PatientId>,
    waiting: Vec<Waiting>,
    refused: Refusals,
}

impl Run {
    /// Takes in a committed file, the `index`th of the report.
    fn add(&mut self, file: FileImport, index: usize) {
        self.patients.extend(file.patients);
        for (k, v) in file.resources {
            *self.resources.entry(k).or_default() += v;
        }
        for (k, v) in file.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
        for (k, v) in file.events_by_modality {
            *self.events_by_modality.entry(k).or_default() += v;
        }
        self.held.extend(file.held);
        self.waiting.extend(file.waiting.into_iter().map(|unit| Waiting { file: index, unit }));
        self.refused.extend(file.refused);
    }

    fn count_events(&mut self, events: &[Event]) {
        for e in events {
            *self.events_by_modality.entry(e.modality).or_default() += 1;
            if !self.patients.contains(&e.patient) {
                self.patients.insert(e.patient.clone());
            }
        }
    }

    fn into_report(self, source: SourceName, files: Vec<FileOutcome>) -> ImportReport {
        ImportReport {
            source,
            files,
            patients: self.patients.len() as u64,
            events: self.events_by_modality.values().sum(),
            resources: self.resources,
            events_by_modality: self.events_by_modality,
            skipped: self
                .skipped
                .into_iter()
                .map(|((resource_type, reason), count)| SkippedCount {
                    resource_type,
                    reason,
                    description: reason.describe(),
                    count,
                })
                .collect(),
            refused: self.refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_and_medication_files_go_first() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["Observation.ndjson", "MedicationRequest.ndjson", "Medication.ndjson", "Patient.ndjson", "notes.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let (files, missing) = discover(&[dir.path().to_owned(), dir.path().join("nope.json")]);
        let names: Vec<_> = files.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["Patient.ndjson", "Medication.ndjson", "MedicationRequest.ndjson", "Observation.ndjson"]);
        assert_eq!(missing.len(), 1);
    }

    #[tokio::test]
    async fn a_recorded_import_names_each_file_in_one_audit_entry() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Patient.ndjson");
        std::fs::write(&file, "{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n").unwrap();
        let store = JourneyStore::open(&crate::store::Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
        let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
        let log = audit_log::AuditLog::open(&url).await.unwrap();
        let by = audit_log::Principal::new("admin", audit_log::Role::Admin);
        let source: SourceName = "hospital-a".parse().unwrap();
        let (report, seq) = import_recorded(&store, &log, source, &[file.clone()], by, &NoProgress).await.unwrap();
        assert_eq!(report.patients, 1);
        let stored = log.entry_proof(seq, None).await.unwrap().unwrap().stored;
        assert_eq!(stored.kind, "import");
        assert!(stored.text.contains(&audit_log::Digest::of_file(&file).unwrap().to_hex()));
        assert!(stored.text.contains("\"source\":\"hospital-a\""), "{}", stored.text);
    }
}
