//! A trained twin on disk and in memory: the event encoder, the fusion model and the
//! feature spec, as a checkpoint directory of three files.
//!
//! ```text
//! <data-dir>/models/twin-<version prefix>/
//!   event_encoder.safetensors   fusion.safetensors   twin.json (spec, configs, both sha256)
//! ```
//! The twin's version is the sha256 of `twin.json`, which names the sha256 of both
//! weight files, so one digest pins all three. Every load hashes all three files and
//! refuses them unless each is pinned in the install's model registry and matches
//! the manifest ([`TwinModel::load`]): a tampered file is refused with its path.

use std::fs;
use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, ArtifactRef, ArtifactStatus, Digest, GovernanceError, ModelRegistry, Principal};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::features::{FeatureSpec, PatientInputs};
use crate::encode::event_encoder::{self, EventBatch, EventEncoder, NoteVectorsByPosition};
use crate::encode::fusion::{self, FusedModality, Fusion};
use crate::encode::vocab::EventToken;
use crate::train::fusion::{embed_views, Crop, PatientViews};

pub const EVENT_ENCODER_FILE: &str = "event_encoder.safetensors";
pub const FUSION_FILE: &str = "fusion.safetensors";
pub const MANIFEST_FILE: &str = "twin.json";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TwinError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path} has sha256 {actual} but the twin manifest names {expected}: refusing to load it")]
    Mismatch { path: PathBuf, expected: String, actual: String },
    #[error("refusing to load the twin: {0}")]
    Registry(#[from] GovernanceError),
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    #[error("no active twin in the model registry: run `rdt train` first")]
    NoActiveTwin,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TwinError + '_ {
    move |source| TwinError::Io { path: path.to_path_buf(), source }
}

/// `twin.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TwinManifest {
    pub created: DateTime<Utc>,
    pub spec: FeatureSpec,
    pub event_encoder: event_encoder::Config,
    pub fusion: fusion::Config,
    pub event_encoder_sha256: String,
    pub fusion_sha256: String,
    /// Patients it was trained on and how (free-form, for the report).
    pub training: serde_json::Value,
}

/// A loaded, verified twin.
pub struct TwinModel {
    pub manifest: TwinManifest,
    pub encoder: EventEncoder,
    pub fusion: Fusion,
    pub version: Digest,
    pub dir: PathBuf,
}

/// The files of a saved twin with their digests, manifest last.
#[derive(Debug, Clone)]
pub struct SavedTwin {
    pub dir: PathBuf,
    pub version: Digest,
    pub files: Vec<(PathBuf, Digest)>,
}

/// Writes a checkpoint directory under `models_dir` and returns it. The weights are
/// written first; the manifest that names their digests last; the directory is
/// renamed to its version only when complete.
pub fn save(
    models_dir: &Path,
    mut manifest: TwinManifest,
    encoder_vars: &VarMap,
    fusion_vars: &VarMap,
) -> Result<SavedTwin, TwinError> {
    fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    let staging = models_dir.join(format!(".twin-staging-{}", std::process::id()));
    fs::create_dir_all(&staging).map_err(io(&staging))?;
    let encoder_path = staging.join(EVENT_ENCODER_FILE);
    let fusion_path = staging.join(FUSION_FILE);
    encoder_vars.save(&encoder_path)?;
    fusion_vars.save(&fusion_path)?;
    let encoder_sha = Digest::of_file(&encoder_path).map_err(io(&encoder_path))?;
    let fusion_sha = Digest::of_file(&fusion_path).map_err(io(&fusion_path))?;
    manifest.event_encoder_sha256 = encoder_sha.to_hex();
    manifest.fusion_sha256 = fusion_sha.to_hex();
    let manifest_path = staging.join(MANIFEST_FILE);
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| TwinError::Manifest { path: manifest_path.clone(), message: e.to_string() })?;
    fs::write(&manifest_path, &text).map_err(io(&manifest_path))?;
    let version = Digest::of(text.as_bytes());
    let dir = models_dir.join(format!("twin-{}", &version.to_hex()[..16]));
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    fs::rename(&staging, &dir).map_err(io(&dir))?;
    let files = vec![
        (dir.join(EVENT_ENCODER_FILE), encoder_sha),
        (dir.join(FUSION_FILE), fusion_sha),
        (dir.join(MANIFEST_FILE), version),
    ];
    Ok(SavedTwin { dir, version, files })
}

/// Pins the three files (encoder kind) and activates the manifest: the active
/// encoder artifact is the twin `rdt embed` and `rdt eval` load. A weight file whose
/// bytes are pinned already is left as it is (pins are by sha256): retraining with the
/// same seed on the same cohort writes the same event encoder when only the fusion
/// changed, and that must not stop the new twin from being registered.
pub async fn register(
    registry: &ModelRegistry,
    by: &Principal,
    saved: &SavedTwin,
    reason: &str,
) -> Result<(), TwinError> {
    let dir_name = saved.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let state = registry.state().await?;
    for (path, sha256) in &saved.files {
        let pinned = state.get(ArtifactKind::Encoder, sha256).is_some_and(|a| a.status != ArtifactStatus::Retired);
        if pinned {
            continue;
        }
        let name = format!("{dir_name}/{}", path.file_name().unwrap_or_default().to_string_lossy());
        let size_bytes = fs::metadata(path).ok().map(|m| m.len());
        registry
            .pin(by, ArtifactRef { kind: ArtifactKind::Encoder, sha256: *sha256, name, size_bytes }, reason)
            .await?;
    }
    registry.activate(by, ArtifactKind::Encoder, &saved.version, reason).await?;
    Ok(())
}

/// The directory of the active twin: the active encoder artifact named `<dir>/twin.json`.
pub async fn active_dir(registry: &ModelRegistry, models_dir: &Path) -> Result<Option<PathBuf>, TwinError> {
    let state = registry.state().await?;
    Ok(state
        .active(ArtifactKind::Encoder)
        .and_then(|a| a.name.strip_suffix(&format!("/{MANIFEST_FILE}")).map(|d| models_dir.join(d))))
}

impl TwinModel {
    /// Loads a checkpoint directory, refusing any file that is not pinned or does not
    /// match the manifest.
    pub async fn load(dir: &Path, registry: &ModelRegistry) -> Result<Self, TwinError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        // The bytes parsed are the bytes whose digest the registry checked.
        let (read, artifact) = registry.read_pinned(ArtifactKind::Encoder, &manifest_path).await?;
        let version = artifact.sha256;
        let text = String::from_utf8(read.bytes)
            .map_err(|e| TwinError::Manifest { path: manifest_path.clone(), message: e.to_string() })?;
        let mut manifest: TwinManifest = serde_json::from_str(&text)
            .map_err(|e| TwinError::Manifest { path: manifest_path.clone(), message: e.to_string() })?;
        manifest.spec.vocab.reindex();
        let device = Device::Cpu;
        // Each weight file must be pinned (the registry says which file was swapped)
        // and be the one the pinned manifest names.
        let load_vars = |file: &'static str, expected: String| {
            let path = dir.join(file);
            let device = device.clone();
            async move {
                let read = match registry.read_pinned(ArtifactKind::Encoder, &path).await {
                    Ok((read, artifact)) if artifact.sha256.to_hex() == expected => read,
                    Ok((_, artifact)) => {
                        return Err(TwinError::Mismatch { path, expected, actual: artifact.sha256.to_hex() })
                    }
                    // Not pinned and not the manifest's either: a tampered file.
                    Err(GovernanceError::NotPinned { sha256, .. }) if sha256.to_hex() != expected => {
                        return Err(TwinError::Mismatch { path, expected, actual: sha256.to_hex() })
                    }
                    Err(e) => return Err(e.into()),
                };
                Ok::<_, TwinError>(VarBuilder::from_buffered_safetensors(read.bytes, DType::F32, &device)?)
            }
        };
        let encoder_vb = load_vars(EVENT_ENCODER_FILE, manifest.event_encoder_sha256.clone()).await?;
        let fusion_vb = load_vars(FUSION_FILE, manifest.fusion_sha256.clone()).await?;
        let encoder = EventEncoder::load(encoder_vb, &manifest.event_encoder)?;
        let fusion = Fusion::load(fusion_vb, &manifest.fusion)?;
        Ok(TwinModel { manifest, encoder, fusion, version, dir: dir.to_path_buf() })
    }

    /// Twins of `inputs`, with one modality left out when `leave_out` is set. One
    /// forward pass per patient through each model: a new event costs a re-embed,
    /// not a retraining.
    pub fn embed(
        &self,
        inputs: &[PatientInputs],
        leave_out: Option<FusedModality>,
    ) -> Result<Vec<Vec<f32>>, TwinError> {
        Ok(embed_with(&self.manifest.spec, &self.encoder, &self.fusion, inputs, leave_out)?)
    }
}

/// Twins of `inputs` from an encoder and a fusion model that belong together (a
/// loaded [`TwinModel`], or a freshly trained one before it is saved).
pub fn embed_with(
    spec: &FeatureSpec,
    encoder: &EventEncoder,
    fusion: &Fusion,
    inputs: &[PatientInputs],
    leave_out: Option<FusedModality>,
) -> candle_core::Result<Vec<Vec<f32>>> {
    let sequences: Vec<Vec<EventToken>> = inputs.iter().map(|i| i.tokens.clone()).collect();
    // Leaving notes out removes their vectors from the event stream too, not
    // just the fusion's notes token.
    let notes: Vec<Vec<(usize, Vec<f32>)>> = match leave_out {
        Some(FusedModality::Notes) => vec![],
        _ => inputs.iter().map(|i| i.note_tokens.clone()).collect(),
    };
    let notes = (!notes.is_empty()).then_some(notes.as_slice());
    let event_vectors = encode_events(encoder, &sequences, notes)?;
    let views: Vec<PatientViews> = inputs
        .iter()
        .zip(event_vectors)
        .map(|(i, events)| PatientViews {
            crops: vec![Crop {
                events,
                latest: spec.latest(i),
                notes: i.notes.clone(),
                imaging: i.imaging.clone(),
                omics: i.omics.clone(),
                targets: None,
            }],
        })
        .collect();
    let fused = embed_views(fusion, &views, leave_out)?;
    // The parts after the fused vector, each at unit length; a part the inputs lack
    // (read without the spec's scale) is zero.
    let history_width = spec.history.as_ref().map(|h| h.width());
    let prognosis_width = spec.prognosis.as_ref().map(|p| p.width());
    let strata_width = spec.strata.as_ref().map(|s| s.width());
    if history_width.is_none() && prognosis_width.is_none() && strata_width.is_none() {
        return Ok(fused);
    }
    Ok(fused
        .iter()
        .zip(inputs)
        .map(|(f, i)| {
            let or_zero = |part: &Option<Vec<f32>>, width: usize| part.clone().unwrap_or_else(|| vec![0.0; width]);
            let history = history_width.map(|w| or_zero(&i.history, w));
            let prognosis = prognosis_width.map(|w| or_zero(&i.prognosis, w));
            // Each stratum is a part of its own ([`super::strata`]).
            let strata = strata_width.map(|w| or_zero(&i.strata, w));
            let each_stratum = match (&spec.strata, &strata) {
                (Some(spec), Some(part)) => spec.split(part),
                _ => Vec::new(),
            };
            let parts: Vec<&[f32]> = std::iter::once(f.as_slice())
                .chain(history.as_deref())
                .chain(prognosis.as_deref())
                .chain(each_stratum)
                .collect();
            super::history_block::join(&parts)
        })
        .collect())
}

/// The event encoder's journey vector of each sequence, batched by similar length
/// so little is padding. `notes`, when given, holds each sequence's note vectors by
/// position (aligned with `sequences`).
pub fn encode_events(
    encoder: &EventEncoder,
    sequences: &[Vec<EventToken>],
    notes: Option<&NoteVectorsByPosition>,
) -> candle_core::Result<Vec<Vec<f32>>> {
    let mut order: Vec<usize> = (0..sequences.len()).collect();
    order.sort_by_key(|&i| sequences[i].len());
    let mut out = vec![Vec::new(); sequences.len()];
    for chunk in order.chunks(64) {
        let batch: Vec<&[EventToken]> = chunk.iter().map(|&i| sequences[i].as_slice()).collect();
        let chunk_notes: Option<Vec<_>> = notes.map(|n| chunk.iter().map(|&i| n[i].clone()).collect());
        let batch = EventBatch::new(&batch, chunk_notes.as_deref(), &Device::Cpu)?;
        let hidden = encoder.forward(&batch)?;
        let vectors = encoder.summarise(&hidden)?.to_vec2::<f32>()?;
        for (&i, v) in chunk.iter().zip(vectors) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// Tensor of a batch of vectors, for callers that compute with them.
pub fn stack(vectors: &[Vec<f32>]) -> candle_core::Result<Tensor> {
    let width = vectors.first().map_or(0, Vec::len);
    Tensor::from_vec(vectors.concat(), (vectors.len(), width), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::event::{Code, Event, Modality, PatientId, Phase, Quantity, Source};
    use crate::twin::pipeline::{train_twin, TrainOptions};
    use audit_log::{AuditLog, Role};
    use chrono::TimeZone;

    /// Twelve small journeys: labs with values, a drug start, imaging for some.
    fn journeys() -> Vec<Vec<Event>> {
        (0..12)
            .map(|p| {
                let mut events = Vec::new();
                for visit in 0..6 {
                    let time = Utc.with_ymd_and_hms(2020, 1, 1, 9, 0, 0).unwrap() + chrono::Duration::days(30 * visit);
                    let mut push = |modality, code: &str, value: Option<f64>, phase| {
                        events.push(Event {
                            patient: PatientId::new(format!("p{p}")).unwrap(),
                            time,
                            code: Code { system: "s".into(), code: code.into(), display: None },
                            value: value.map(|value| Quantity { value, unit: None }),
                            text: None,
                            modality,
                            phase,
                            source: Source::default(),
                            concept: None,
                        })
                    };
                    push(Modality::Lab, "crp", Some((p * 3 + visit) as f64), Phase::Point);
                    push(Modality::DiseaseActivity, "das28", Some(2.0 + (p % 4) as f64), Phase::Point);
                    if visit == 1 {
                        push(Modality::Medication, if p % 2 == 0 { "mtx" } else { "hcq" }, None, Phase::Start);
                    }
                    if p % 3 == 0 {
                        push(Modality::Imaging, "svdh", Some(p as f64), Phase::Point);
                    }
                }
                events
            })
            .collect()
    }

    async fn registry(dir: &Path) -> ModelRegistry {
        let url = format!("sqlite://{}", dir.join("audit.sqlite").display());
        ModelRegistry::new(AuditLog::open(&url).await.unwrap())
    }

    /// The same weights saved again under a new manifest (a retraining that changed
    /// nothing in them) register and become active; the files already pinned stay
    /// pinned once, and both twins load.
    #[tokio::test]
    async fn a_twin_sharing_weights_with_a_pinned_one_registers() {
        let journeys = journeys();
        let refs: Vec<&[Event]> = journeys.iter().map(Vec::as_slice).collect();
        let trained = train_twin(&refs, &TrainOptions::tiny(), &|_| None, |_, _| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("models");
        let registry = registry(dir.path()).await;
        let by = Principal::new("trainer", Role::Governance);
        let first = save(&models, trained.manifest.clone(), &trained.encoder_vars, &trained.fusion_vars).unwrap();
        register(&registry, &by, &first, "first").await.unwrap();
        let mut manifest = trained.manifest.clone();
        manifest.training["run"] = serde_json::json!(2);
        let second = save(&models, manifest, &trained.encoder_vars, &trained.fusion_vars).unwrap();
        assert_ne!(first.version, second.version);
        assert_eq!(first.files[0].1, second.files[0].1, "same event encoder bytes");
        register(&registry, &by, &second, "second").await.unwrap();
        assert_eq!(active_dir(&registry, &models).await.unwrap().as_deref(), Some(second.dir.as_path()));
        assert_eq!(TwinModel::load(&second.dir, &registry).await.unwrap().version, second.version);
        assert_eq!(TwinModel::load(&first.dir, &registry).await.unwrap().version, first.version);
        let pinned = registry.state().await.unwrap().list().len();
        assert_eq!(pinned, 4, "two manifests, one encoder file, one fusion file");
    }

    /// Train, save, pin and load a tiny twin: the loaded twin embeds exactly as the
    /// trained one; an unpinned or tampered checkpoint is refused with its path.
    #[tokio::test]
    async fn saved_twin_loads_only_when_pinned_and_intact() {
        let journeys = journeys();
        let refs: Vec<&[Event]> = journeys.iter().map(Vec::as_slice).collect();
        let trained = train_twin(&refs, &TrainOptions::tiny(), &|_| None, |_, _| {}).unwrap();
        assert!(!trained.pretrain_log.is_empty() && !trained.fusion_log.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("models");
        let saved = save(&models, trained.manifest.clone(), &trained.encoder_vars, &trained.fusion_vars).unwrap();
        let registry = registry(dir.path()).await;

        let err = TwinModel::load(&saved.dir, &registry).await.err().expect("unpinned twin loaded");
        assert!(err.to_string().contains("not pinned"), "{err}");

        let by = Principal::new("trainer", Role::Governance);
        register(&registry, &by, &saved, "test").await.unwrap();
        assert_eq!(active_dir(&registry, &models).await.unwrap().as_deref(), Some(saved.dir.as_path()));
        let model = TwinModel::load(&saved.dir, &registry).await.unwrap();
        assert_eq!(model.version, saved.version);

        let inputs: Vec<PatientInputs> = refs.iter().map(|e| model.manifest.spec.inputs(e, None, &|_| None)).collect();
        let twins = model.embed(&inputs, None).unwrap();
        assert_eq!(twins.len(), 12);
        assert_eq!(twins[0].len(), model.manifest.spec.twin_width(model.manifest.fusion.twin_size));
        // A patient with events only (no imaging: p1) gets a finite twin.
        assert!(inputs[1].imaging.is_none() && twins[1].iter().all(|x| x.is_finite()));
        // A new event: one re-embed gives a new twin, the model unchanged.
        let mut grown = journeys[1].clone();
        let mut extra = grown.last().unwrap().clone();
        extra.time += chrono::Duration::days(30);
        extra.value = Some(Quantity { value: 99.0, unit: None });
        grown.push(extra);
        let grown_inputs = model.manifest.spec.inputs(&grown, None, &|_| None);
        let regrown = model.embed(&[grown_inputs], None).unwrap();
        assert_ne!(regrown[0], twins[1]);

        // Flip one byte of the fusion weights: refused, naming the file.
        let fusion_path = saved.dir.join(FUSION_FILE);
        let mut bytes = fs::read(&fusion_path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&fusion_path, bytes).unwrap();
        let err = TwinModel::load(&saved.dir, &registry).await.err().expect("tampered twin loaded");
        assert!(matches!(err, TwinError::Mismatch { .. }), "{err}");
        assert!(err.to_string().contains(FUSION_FILE) && err.to_string().contains("refusing"), "{err}");
    }
}
