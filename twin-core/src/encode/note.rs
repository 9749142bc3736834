//! The note encoder: one vector per clinical note, from all-MiniLM-L6-v2 over the
//! note's sentences.
//!
//! all-MiniLM-L6-v2 is a 6-layer, 384-wide BERT trained for sentence similarity
//! (model card: <https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2>); its
//! sentence vector is the mean of the last hidden states over the real (non-padding)
//! tokens, L2-normalised, so a dot product is a cosine. The network is
//! candle-transformers' `BertModel` unchanged (the packaged weights use its layout,
//! without a `bert.` prefix); pooling and normalising are ours, as in candle's
//! `candle-examples/examples/bert/main.rs`. A runnable path: `rdt setup`, then the
//! tests at the foot of this file.
//!
//! Weights load only from the model cache, after the file hashes match the expected
//! ones and the install's registry has them pinned ([`NoteEncoder::load`], which
//! builds the model from the very bytes it hashed).
//!
//! A note is embedded sentence by sentence ([`super::sentences`]), and its vector is
//! the L2-normalised mean of its sentences' vectors ([`NoteVectors::vector`], the one
//! door to a note's vector). Why sentences:
//! - MiniLM was trained on sentence pairs, and reads at most 256 word pieces: a
//!   whole note is cut, and one finding ("fine bibasal crackles") is diluted among
//!   a dozen routine lines in one pooled vector. The mean of sentence vectors keeps
//!   each finding's direction at weight 1/n whatever its position or the note's length.
//! - Notes repeat sentences ("Feels well.", "Continue methotrexate.", a house
//!   style's lines); embedding costs about 25 ms a note on 2 cores and a few ms a
//!   sentence, and each distinct sentence is embedded once per model version
//!   ([`NoteVectorCache`], by the sha256 of its normalised text), so every note of a
//!   cohort, at every date a twin reads it, is affordable.
//!
//! Normalised again after the mean because the mean of unit vectors is shorter the
//! more its sentences differ: unnormalised, a note's length and variety would set
//! its scale, and the twin's note projection would read that instead of direction.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, Digest, ModelRegistry};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::sentences;
use crate::models::cache::{CacheError, ModelFiles};
use crate::models::{ModelCache, MINILM};
use crate::progress::Progress;

/// Width of a note vector.
pub const NOTE_DIM: usize = 384;

/// MiniLM was trained on inputs of at most 256 word pieces; longer notes are cut.
const MAX_TOKENS: usize = 256;

/// Notes embedded per forward pass: enough to amortise the pass, small enough that
/// padding to the longest note in the batch stays cheap.
const BATCH: usize = 16;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    #[error(transparent)]
    Model(#[from] CacheError),
    #[error("{path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("tokenizing a note: {0}")]
    Tokenize(String),
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    #[error("note vector cache {path}: {source}")]
    CacheIo { path: PathBuf, source: io::Error },
    #[error("the text encoder returned {got} vectors for {asked} texts")]
    Count { asked: usize, got: usize },
}

/// all-MiniLM-L6-v2 with its tokenizer, ready to embed.
pub struct NoteEncoder {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    version: Digest,
}

impl NoteEncoder {
    /// Loads the model from verified cache files, refusing them unless every file
    /// (weights, tokenizer, config) is pinned in `registry`. Each file is read once
    /// into memory, those bytes are hashed and checked, and the model is built from
    /// the same bytes (no path is opened again, no memory map): the bytes hashed are
    /// the bytes loaded.
    pub async fn load(files: &ModelFiles, registry: &ModelRegistry) -> Result<Self, NoteError> {
        let path = |name: &str| {
            files.path(name).map(Path::to_path_buf).ok_or_else(|| NoteError::Load {
                path: files.dir.join(name),
                message: "not among the model's files".into(),
            })
        };
        let (weights, tokenizer_path, config_path) =
            (path("model.safetensors")?, path("tokenizer.json")?, path("config.json")?);
        let load_error = |path: &Path, message: String| NoteError::Load { path: path.to_path_buf(), message };
        let (weight_bytes, version) = read_pinned(registry, &weights).await?;
        let (tokenizer_bytes, _) = read_pinned(registry, &tokenizer_path).await?;
        let (config_bytes, _) = read_pinned(registry, &config_path).await?;

        let config: Config =
            serde_json::from_slice(&config_bytes).map_err(|e| load_error(&config_path, e.to_string()))?;
        let mut tokenizer =
            Tokenizer::from_bytes(&tokenizer_bytes).map_err(|e| load_error(&tokenizer_path, e.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| load_error(&tokenizer_path, e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams::default()));

        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weight_bytes, DType::F32, &device)?;
        let bert = BertModel::load(vb, &config).map_err(|e| load_error(&weights, e.to_string()))?;
        Ok(NoteEncoder { bert, tokenizer, device, version })
    }

    /// The sha256 of the weights: the version recorded with every vector.
    pub fn version(&self) -> Digest {
        self.version
    }

    /// One L2-normalised vector per text, shape `(texts.len(), NOTE_DIM)`.
    pub fn embed(&self, texts: &[&str]) -> Result<Tensor, NoteError> {
        let mut batches = Vec::new();
        for chunk in texts.chunks(BATCH) {
            batches.push(self.embed_batch(chunk)?);
        }
        if batches.is_empty() {
            return Ok(Tensor::zeros((0, NOTE_DIM), DType::F32, &self.device)?);
        }
        Ok(Tensor::cat(&batches, 0)?)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Tensor, NoteError> {
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| NoteError::Tokenize(e.to_string()))?;
        let rows = |f: fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, NoteError> {
            let rows = encodings.iter().map(|e| Tensor::new(f(e), &self.device)).collect::<Result<Vec<_>, _>>()?;
            Ok(Tensor::stack(&rows, 0)?)
        };
        let token_ids = rows(|e| e.get_ids())?;
        let type_ids = rows(|e| e.get_type_ids())?;
        let attention_mask = rows(|e| e.get_attention_mask())?;

        let hidden_states = self.bert.forward(&token_ids, &type_ids, Some(&attention_mask))?;
        let (_b_sz, _seq_len, _hidden) = hidden_states.dims3()?;
        // Mean over real tokens only: padding positions are multiplied by 0.
        let mask = attention_mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let masked_states = hidden_states.broadcast_mul(&mask)?;
        let summed = masked_states.sum(1)?;
        let token_counts = mask.sum(1)?;
        let mean_pooled = summed.broadcast_div(&token_counts)?;
        let norms = mean_pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        Ok(mean_pooled.broadcast_div(&norms)?)
    }
}

/// What turns texts into unit vectors: MiniLM ([`NoteEncoder`]), or a test's
/// stand-in that counts what it is asked.
pub trait TextEmbedder {
    /// The model version (sha256 of its weights) its vectors are cached under.
    fn version(&self) -> Digest;
    /// One unit vector of [`NOTE_DIM`] per text.
    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, NoteError>;
}

impl TextEmbedder for NoteEncoder {
    fn version(&self) -> Digest {
        self.version
    }

    fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, NoteError> {
        Ok(self.embed(texts)?.to_vec2::<f32>()?)
    }
}

/// MiniLM vectors on disk, one little-endian `f32` file per (model version, sha256 of
/// the text embedded): `<dir>/<model sha256>/<first two hex digits>/<text sha256>.f32`.
/// The texts are notes' normalised sentences ([`NoteVectorSource`]) and the
/// assistant's tool texts.
///
/// Keyed by the model version too, so a new encoder never reads an old encoder's
/// vectors. A file is written beside its name and renamed into place, so a crash
/// never leaves a short vector.
pub struct NoteVectorCache {
    dir: PathBuf,
}

impl NoteVectorCache {
    /// The cache of an install: `<data_dir>/cache/note-vectors`.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        NoteVectorCache { dir: data_dir.join("cache").join("note-vectors") }
    }

    fn path(&self, version: &Digest, text_sha: &Digest) -> PathBuf {
        let text_hex = text_sha.to_hex();
        self.dir.join(version.to_hex()).join(&text_hex[..2]).join(format!("{text_hex}.f32"))
    }

    /// The vector of every text, embedding only those not cached yet: each distinct
    /// text once, shortest first so a batch pads little.
    pub fn get_or_embed(&self, encoder: &dyn TextEmbedder, texts: &[&str]) -> Result<Vec<Vec<f32>>, NoteError> {
        Ok(self.lookup(encoder, texts)?.0)
    }

    /// [`Self::get_or_embed`], and how many distinct texts were embedded now.
    fn lookup(&self, encoder: &dyn TextEmbedder, texts: &[&str]) -> Result<(Vec<Vec<f32>>, usize), NoteError> {
        let version = encoder.version();
        let mut out: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
        let mut missing = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let path = self.path(&version, &Digest::of(text.as_bytes()));
            match read_vector(&path) {
                Ok(Some(v)) => out.push(Some(v)),
                Ok(None) => {
                    out.push(None);
                    missing.push(i);
                }
                Err(source) => return Err(NoteError::CacheIo { path, source }),
            }
        }
        let mut unique: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
        unique.sort_unstable_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        unique.dedup();
        let embedded = unique.len();
        if !unique.is_empty() {
            let vectors = encoder.embed_texts(&unique)?;
            if vectors.len() != unique.len() {
                return Err(NoteError::Count { asked: unique.len(), got: vectors.len() });
            }
            let mut by_text: HashMap<&str, Vec<f32>> = HashMap::with_capacity(unique.len());
            for (text, vector) in unique.iter().zip(vectors) {
                let path = self.path(&version, &Digest::of(text.as_bytes()));
                write_vector(&path, &vector).map_err(|source| NoteError::CacheIo { path: path.clone(), source })?;
                by_text.insert(text, vector);
            }
            for i in missing {
                out[i] = by_text.get(texts[i]).cloned();
            }
        }
        let vectors = out.into_iter().collect::<Option<Vec<_>>>();
        // Every slot was filled from the disk or the encoder; a gap would be a bug here.
        let vectors = vectors.ok_or(NoteError::Count { asked: texts.len(), got: 0 })?;
        Ok((vectors, embedded))
    }
}

/// The sentence vectors of a set of notes: what a twin's `note_vector` lookup reads,
/// through [`NoteVectors::vector`]. Built by [`NoteVectorSource::vectors`] for the
/// notes a job reads; a note it was not built for has no vector.
#[derive(Debug, Clone, Default)]
pub struct NoteVectors {
    /// By the sha256 of the normalised sentence.
    sentences: HashMap<Digest, Vec<f32>>,
    /// How much each sentence counts in its note's vector: the twin's own weights
    /// ([`NoteVectors::weighted_by`]); `None`, every sentence alike.
    weights: Option<SentenceWeights>,
    /// How they were obtained (for reports).
    pub counts: SentenceCounts,
}

/// How much a sentence counts toward its note's vector: the smoothed inverse
/// document frequency of its *shape* (the normalised sentence with every number
/// folded to `0`) among the notes the twin was trained on,
/// `ln((1 + notes) / (1 + notes holding the shape))`.
///
/// Why: a clinic's notes are mostly routine lines in its authors' house styles
/// ("Routine clinic review (RA).", "TJC28 4, SJC28 2, PtGA 40."), and a finding that
/// sets one patient's course apart ("new rheumatoid nodules at both elbows") is one
/// sentence among thirty. Under a plain mean the notes token carried mostly the
/// author's style, which tells a patient's two time crops apart from everyone else's
/// and so helped the contrastive loss while spreading patients of one course apart
/// (docs/benchmarks/predictive.md, "Notes by sentence"). Weighting by rarity keeps what
/// is said of few patients and lets the house style fall away: a line every note holds
/// weighs 0. Fitted once, with the twin, and saved in its spec, so a note's vector is
/// the same at training, indexing and every query.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SentenceWeights {
    /// Notes the frequencies were counted over.
    notes: u32,
    /// Notes holding each shape seen in at least two of them, by the first 8 bytes of
    /// the shape's sha256; a shape not here was seen in at most one note.
    holding: std::collections::BTreeMap<u64, u32>,
}

impl SentenceWeights {
    /// Counts the sentence shapes of `notes` (each distinct note once).
    pub fn fit(notes: &[&str]) -> Self {
        let mut distinct: Vec<&str> = notes.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let mut holding: HashMap<u64, u32> = HashMap::new();
        for note in &distinct {
            let mut shapes: Vec<u64> =
                sentences::split(note).iter().map(|s| shape_key(&sentences::normalise(s))).collect();
            shapes.sort_unstable();
            shapes.dedup();
            for shape in shapes {
                *holding.entry(shape).or_default() += 1;
            }
        }
        SentenceWeights {
            notes: u32::try_from(distinct.len()).unwrap_or(u32::MAX),
            holding: holding.into_iter().filter(|(_, n)| *n >= 2).collect(),
        }
    }

    /// The weight of one sentence: 0 for a shape every note holds, highest for one no
    /// other note holds.
    pub fn weight(&self, sentence: &str) -> f32 {
        self.weight_of_normalised(&sentences::normalise(sentence))
    }

    /// [`Self::weight`] of a sentence already normalised ([`sentences::normalise`]).
    fn weight_of_normalised(&self, normalised: &str) -> f32 {
        let holding = self.holding.get(&shape_key(normalised)).copied().unwrap_or(1);
        ((1.0 + self.notes as f64) / (1.0 + holding as f64)).ln().max(0.0) as f32
    }

    /// How many shapes are counted (for reports).
    pub fn shapes(&self) -> usize {
        self.holding.len()
    }
}

/// The shape of a sentence: normalised, every number (digits with their decimal
/// separators) folded to one `0`, so "CRP 12.5 mg/L." and "CRP 3 mg/L." are one line
/// of the house style.
fn shape_key(normalised: &str) -> u64 {
    let text: Vec<char> = normalised.chars().collect();
    let mut shape = String::new();
    for (i, &c) in text.iter().enumerate() {
        let digit_at = |j: Option<usize>| j.and_then(|j| text.get(j)).is_some_and(char::is_ascii_digit);
        // A decimal or thousands separator inside a number is part of the number.
        let inside_number = matches!(c, '.' | ',') && digit_at(i.checked_sub(1)) && digit_at(Some(i + 1));
        if c.is_ascii_digit() || inside_number {
            if !shape.ends_with('0') {
                shape.push('0');
            }
        } else {
            shape.push(c);
        }
    }
    let digest = Digest::of(shape.as_bytes());
    u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("a sha256 has 32 bytes"))
}

/// What building a [`NoteVectors`] took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SentenceCounts {
    /// Distinct notes asked for.
    pub notes: usize,
    /// Their sentences, all occurrences.
    pub sentences: usize,
    /// Distinct normalised sentences among them.
    pub distinct: usize,
    /// Of those, embedded now (the rest came from the cache).
    pub embedded: usize,
}

impl NoteVectors {
    /// No vectors: every note reads as having none (notes not used).
    pub fn new() -> Self {
        Self::default()
    }

    /// The vector of a note: the L2-normalised mean of its sentences' vectors (see
    /// the module doc for why). `None` when the note has no sentence, or when any of
    /// its sentences is not among these vectors (it was not embedded for this job): a
    /// note's vector never depends on which of its sentences happened to be at hand.
    pub fn vector(&self, note: &str) -> Option<Vec<f32>> {
        // Each sentence normalised once: its cache key and its shape both read it.
        let normalised: Vec<String> = sentences::split(note).iter().map(|s| sentences::normalise(s)).collect();
        let vectors: Option<Vec<&Vec<f32>>> =
            normalised.iter().map(|n| self.sentences.get(&Digest::of(n.as_bytes()))).collect();
        let vectors = vectors?;
        let weighted = self.weights.as_ref().and_then(|w| {
            let weights: Vec<f32> = normalised.iter().map(|n| w.weight_of_normalised(n)).collect();
            mean_direction_weighted(&vectors, &weights)
        });
        // A note of nothing but lines every note holds falls back to the plain mean.
        weighted.or_else(|| mean_direction(&vectors))
    }

    /// These vectors, each note's sentences weighed by `weights` (a twin's
    /// [`crate::twin::FeatureSpec::note_weights`]); `None`, all alike.
    pub fn weighted_by(mut self, weights: Option<SentenceWeights>) -> Self {
        self.weights = weights;
        self
    }

    /// The weights these vectors weigh sentences by.
    pub fn weights(&self) -> Option<&SentenceWeights> {
        self.weights.as_ref()
    }
}

/// The unit vector along the weighted sum of `vectors`; `None` when nothing weighs.
fn mean_direction_weighted(vectors: &[&Vec<f32>], weights: &[f32]) -> Option<Vec<f32>> {
    let mut sum = vec![0f32; NOTE_DIM];
    for (v, w) in vectors.iter().zip(weights) {
        for (m, x) in sum.iter_mut().zip(v.iter()) {
            *m += w * x;
        }
    }
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm > f32::EPSILON).then(|| sum.iter().map(|x| x / norm).collect())
}

/// The unit vector along the mean of `vectors`; `None` for no vectors or a zero mean.
fn mean_direction(vectors: &[&Vec<f32>]) -> Option<Vec<f32>> {
    mean_direction_weighted(vectors, &vec![1.0; vectors.len()])
}

/// MiniLM (from the model cache, loaded only if pinned) and an install's vector
/// cache: what turns the note texts a twin reads into vectors.
pub struct NoteVectorSource {
    encoder: NoteEncoder,
    cache: NoteVectorCache,
}

/// Sentences looked up (and embedded when new) per step.
const SENTENCE_CHUNK: usize = 512;

impl NoteVectorSource {
    /// MiniLM from `RDT_MODEL_CACHE` (verified against `registry`) over the cache of
    /// the install at `data_dir`.
    pub async fn load(data_dir: &Path, registry: &ModelRegistry) -> Result<Self, NoteError> {
        let files = ModelCache::from_env()?.check_with(&MINILM, registry.log().digest_records())?;
        let encoder = NoteEncoder::load(&files, registry).await?;
        Ok(NoteVectorSource { encoder, cache: NoteVectorCache::for_data_dir(data_dir) })
    }

    /// The sentence vectors of `texts` (notes), from the cache or embedded now, in
    /// chunks (a `progress` step per distinct sentence). Callers pass the notes the
    /// job reads (`twin::features::note_texts`, `notes_through`).
    pub fn vectors(&self, texts: Vec<&str>, progress: &dyn Progress) -> Result<NoteVectors, NoteError> {
        sentence_vectors(&self.encoder, &self.cache, texts, progress)
    }
}

/// [`NoteVectorSource::vectors`] over any embedder.
fn sentence_vectors(
    encoder: &dyn TextEmbedder,
    cache: &NoteVectorCache,
    mut texts: Vec<&str>,
    progress: &dyn Progress,
) -> Result<NoteVectors, NoteError> {
    texts.sort_unstable();
    texts.dedup();
    let mut counts = SentenceCounts { notes: texts.len(), ..SentenceCounts::default() };
    let mut distinct: HashMap<Digest, String> = HashMap::new();
    for text in &texts {
        for sentence in sentences::split(text) {
            counts.sentences += 1;
            let normalised = sentences::normalise(&sentence);
            distinct.entry(Digest::of(normalised.as_bytes())).or_insert(normalised);
        }
    }
    let mut distinct: Vec<(Digest, String)> = distinct.into_iter().collect();
    distinct.sort_unstable();
    counts.distinct = distinct.len();
    progress.stage("note sentences", distinct.len() as u64);
    let mut vectors = HashMap::with_capacity(distinct.len());
    for chunk in distinct.chunks(SENTENCE_CHUNK) {
        let chunk_texts: Vec<&str> = chunk.iter().map(|(_, s)| s.as_str()).collect();
        let (chunk_vectors, embedded) = cache.lookup(encoder, &chunk_texts)?;
        counts.embedded += embedded;
        for ((key, _), vector) in chunk.iter().zip(chunk_vectors) {
            vectors.insert(*key, vector);
        }
        progress.advance(chunk.len() as u64);
    }
    progress.done();
    Ok(NoteVectors { sentences: vectors, weights: None, counts })
}

/// [`NoteVectorSource::vectors`] with MiniLM loaded for this one batch.
pub async fn note_vectors(
    data_dir: &Path,
    registry: &ModelRegistry,
    texts: Vec<&str>,
    progress: &dyn Progress,
) -> Result<NoteVectors, NoteError> {
    NoteVectorSource::load(data_dir, registry).await?.vectors(texts, progress)
}

fn read_vector(path: &Path) -> io::Result<Option<Vec<f32>>> {
    match fs::read(path) {
        Ok(bytes) if bytes.len() == NOTE_DIM * 4 => {
            Ok(Some(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()))
        }
        // A file of the wrong length is not a vector: embed again and overwrite it.
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_vector(path: &Path, vector: &[f32]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    let partial = path.with_extension("partial");
    fs::write(&partial, bytes)?;
    fs::rename(&partial, path)
}

/// Shared by the tests that need MiniLM: the cached files, or `None` (a skip that
/// says so) when they are absent and `RDT_REQUIRE_MODELS` is not `1`; with it set,
/// a missing or wrong cache fails the test.
#[cfg(test)]
pub(crate) fn minilm_for_tests() -> Option<ModelFiles> {
    use crate::models::{ModelCache, MINILM};
    let checked = ModelCache::from_env().and_then(|cache| cache.check(&MINILM));
    match checked {
        Ok(files) => Some(files),
        Err(e) if std::env::var("RDT_REQUIRE_MODELS").as_deref() == Ok("1") => {
            panic!("RDT_REQUIRE_MODELS=1 but MiniLM is not usable: {e}")
        }
        Err(e) => {
            eprintln!("skipping: MiniLM not in the model cache ({e}); run `rdt setup`");
            None
        }
    }
}

/// The bytes of `path` and their sha256, refused unless that sha256 is pinned as an
/// encoder artifact.
async fn read_pinned(registry: &ModelRegistry, path: &Path) -> Result<(Vec<u8>, Digest), NoteError> {
    let load_error = |message: String| NoteError::Load { path: path.to_path_buf(), message };
    let (read, artifact) =
        registry.read_pinned(ArtifactKind::Encoder, path).await.map_err(|e| load_error(e.to_string()))?;
    Ok((read.bytes, artifact.sha256))
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_log::{AuditLog, Principal, Role};

    use crate::progress::NoProgress;

    use crate::models::{cache, MINILM};

    /// A fresh registry in a temporary SQLite file, with MiniLM pinned when `pin`.
    async fn registry(dir: &Path, files: &ModelFiles, pin: bool) -> ModelRegistry {
        let url = format!("sqlite://{}", dir.join("audit.sqlite").display());
        let registry = ModelRegistry::new(AuditLog::open(&url).await.unwrap());
        if pin {
            let by = Principal::new("test", Role::Governance);
            cache::pin_model(&registry, &by, &MINILM, files, "test").await.unwrap();
        }
        registry
    }

    /// MiniLM loaded through a fresh registry that pins it (the registry's directory
    /// beside it), or `None` when the model cache lacks it (see `minilm_for_tests`).
    async fn pinned_minilm() -> Option<(tempfile::TempDir, NoteEncoder)> {
        let files = minilm_for_tests()?;
        let dir = tempfile::tempdir().unwrap();
        let encoder = NoteEncoder::load(&files, &registry(dir.path(), &files, true).await).await.unwrap();
        Some((dir, encoder))
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// A line every note holds weighs 0, a finding one note holds the most; numbers
    /// do not make a routine line rare; and the weighted note vector leans to the
    /// rare sentence where the plain mean does not.
    #[test]
    fn rare_sentences_weigh_most() {
        let notes = [
            "Routine clinic review. CRP 12.5 mg/L. New rheumatoid nodules at both elbows.",
            "Routine clinic review. CRP 3.1 mg/L.",
            "Routine clinic review. ESR 20 mm/h.",
        ];
        let weights = SentenceWeights::fit(&notes);
        assert_eq!(weights.weight("Routine clinic review."), 0.0);
        assert!(weights.weight("CRP 99 mg/L.") < weights.weight("New rheumatoid nodules at both elbows."));
        assert!(weights.weight("CRP 99 mg/L.") > 0.0);
        assert_eq!(weights.shapes(), 2, "the routine line and the CRP line are held by two notes or more");

        let axis = |i: usize| -> Vec<f32> { (0..NOTE_DIM).map(|j| if j == i { 1.0 } else { 0.0 }).collect() };
        let mut sentences = HashMap::new();
        for (i, s) in ["Routine clinic review.", "CRP 12.5 mg/L.", "New rheumatoid nodules at both elbows."].iter().enumerate() {
            sentences.insert(Digest::of(sentences::normalise(s).as_bytes()), axis(i));
        }
        let plain = NoteVectors { sentences, weights: None, counts: SentenceCounts::default() };
        let weighted = plain.clone().weighted_by(Some(weights.clone()));
        let (p, w) = (plain.vector(notes[0]).unwrap(), weighted.vector(notes[0]).unwrap());
        assert!((p[0] - p[2]).abs() < 1e-6, "the plain mean weighs the three alike");
        assert_eq!(w[0], 0.0);
        assert!(w[2] > w[1] && w[2] > 0.7, "{:?}", &w[..3]);
        // A note of nothing but the routine line keeps the plain mean.
        assert_eq!(weighted.vector("Routine clinic review."), plain.vector("Routine clinic review."));
        // The weights survive the spec's JSON.
        let json = serde_json::to_string(&weights).unwrap();
        assert_eq!(serde_json::from_str::<SentenceWeights>(&json).unwrap(), weights);
    }

    /// Shape and norm: one unit vector of 384 per note, whatever the note's length.
    #[tokio::test]
    async fn one_unit_vector_per_note() {
        let Some((_dir, encoder)) = pinned_minilm().await else {
            return;
        };
        let long = "Swollen and tender wrists. ".repeat(200);
        let vectors = encoder.embed(&["Patient well.", &long, "Methotrexate started."]).unwrap();
        assert_eq!(vectors.dims(), &[3, NOTE_DIM]);
        for row in vectors.to_vec2::<f32>().unwrap() {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        }
    }

    /// Golden behaviour of the real weights: two notes about the same finding are
    /// closer than either is to an unrelated sentence; batching and padding do not
    /// change a vector.
    #[tokio::test]
    async fn related_notes_are_closer_than_unrelated_ones() {
        let Some((_dir, encoder)) = pinned_minilm().await else {
            return;
        };
        let texts = [
            "The patient has painful swollen joints in both hands.",
            "Synovitis of the small hand joints with tenderness.",
            "The train to Berlin leaves at noon.",
        ];
        let v = encoder.embed(&texts).unwrap().to_vec2::<f32>().unwrap();
        let related = cosine(&v[0], &v[1]);
        let unrelated = cosine(&v[0], &v[2]).max(cosine(&v[1], &v[2]));
        assert!(related > unrelated + 0.2, "related {related}, unrelated {unrelated}");

        let alone = encoder.embed(&[texts[2]]).unwrap().to_vec2::<f32>().unwrap();
        assert!(cosine(&alone[0], &v[2]) > 0.9999, "padding changed the vector");
    }

    /// A model whose files are not pinned in the install's registry does not load.
    #[tokio::test]
    async fn unpinned_weights_are_refused() {
        let Some(files) = minilm_for_tests() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let err = NoteEncoder::load(&files, &registry(dir.path(), &files, false).await).await.err().unwrap();
        assert!(err.to_string().contains("not pinned"), "{err}");
    }

    /// The cache returns the encoder's own vectors and embeds each text once: a
    /// second call finds every vector on disk, even with the encoder's output changed.
    #[tokio::test]
    async fn cached_vectors_are_reused() {
        let Some((dir, encoder)) = pinned_minilm().await else {
            return;
        };
        let cache = NoteVectorCache::for_data_dir(dir.path());
        let texts = ["Morning stiffness two hours.", "Morning stiffness two hours.", "No synovitis."];
        let first = cache.get_or_embed(&encoder, &texts).unwrap();
        assert_eq!(first[0], first[1]);
        let direct = encoder.embed(&texts[2..]).unwrap().to_vec2::<f32>().unwrap();
        assert!(cosine(&first[2], &direct[0]) > 0.9999);
        // Overwrite one cached file with a marker: the cache must return it unchanged.
        let marker = vec![0.5f32; NOTE_DIM];
        write_vector(&cache.path(&encoder.version(), &Digest::of(texts[2].as_bytes())), &marker).unwrap();
        let second = cache.get_or_embed(&encoder, &texts).unwrap();
        assert_eq!(second[2], marker);
        assert_eq!(second[0], first[0]);
    }

    /// An embedder that records every text it is asked to embed.
    struct Counting<'a> {
        inner: &'a dyn TextEmbedder,
        asked: std::cell::RefCell<Vec<String>>,
    }

    impl<'a> Counting<'a> {
        fn new(inner: &'a dyn TextEmbedder) -> Self {
            Counting { inner, asked: Default::default() }
        }
    }

    impl TextEmbedder for Counting<'_> {
        fn version(&self) -> Digest {
            self.inner.version()
        }
        fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, NoteError> {
            self.asked.borrow_mut().extend(texts.iter().map(|t| t.to_string()));
            self.inner.embed_texts(texts)
        }
    }

    /// A stand-in for MiniLM without the weights: a unit vector drawn from the text's
    /// sha256, so equal texts have equal vectors and different ones differ.
    struct Hashed;

    impl TextEmbedder for Hashed {
        fn version(&self) -> Digest {
            Digest::of(b"hashed test embedder")
        }
        fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, NoteError> {
            let unit = |text: &str| {
                let mut state = Digest::of(text.as_bytes());
                let mut v = Vec::with_capacity(NOTE_DIM);
                while v.len() < NOTE_DIM {
                    v.extend(state.as_bytes().iter().map(|b| *b as f32 - 127.5));
                    state = Digest::of(state.as_bytes());
                }
                v.truncate(NOTE_DIM);
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            };
            Ok(texts.iter().map(|t| unit(t)).collect())
        }
    }

    const NOTES: [&str; 3] = [
        "Feels well. Methotrexate 15 mg weekly, approx. 2.5 mg folic acid.\nReview in 12 weeks.",
        "Feels  WELL. Dry cough since the last visit.",
        "feels well.",
    ];

    /// Every sentence of `NOTES`, normalised, each once, and how often it occurs.
    fn distinct_sentences() -> (Vec<String>, usize) {
        let all: Vec<String> = NOTES.iter().flat_map(|n| sentences::split(n)).map(|s| sentences::normalise(&s)).collect();
        let mut distinct = all.clone();
        distinct.sort();
        distinct.dedup();
        (distinct, all.len())
    }

    /// The sentence cache over `embedder`: a sentence that recurs across notes, in
    /// another case or spacing, is embedded once; a second job over the same notes
    /// (a new source over the same directory) embeds nothing.
    fn check_each_sentence_embedded_once(embedder: &dyn TextEmbedder) {
        let dir = tempfile::tempdir().unwrap();
        let counting = Counting::new(embedder);
        let cache = NoteVectorCache::for_data_dir(dir.path());
        let first = sentence_vectors(&counting, &cache, NOTES.to_vec(), &NoProgress).unwrap();
        let (distinct, occurrences) = distinct_sentences();
        let mut asked = counting.asked.borrow().clone();
        asked.sort();
        assert_eq!(asked, distinct, "each distinct sentence asked for exactly once");
        assert_eq!(occurrences, 6, "'feels well.' three times, three others once");
        assert_eq!(first.counts, SentenceCounts { notes: 3, sentences: 6, distinct: 4, embedded: 4 });

        let again = Counting::new(embedder);
        let second = sentence_vectors(&again, &NoteVectorCache::for_data_dir(dir.path()), NOTES.to_vec(), &NoProgress).unwrap();
        assert!(again.asked.borrow().is_empty(), "all from disk: {:?}", again.asked.borrow());
        assert_eq!(second.counts.embedded, 0);
        for note in NOTES {
            assert_eq!(first.vector(note), second.vector(note));
        }
    }

    /// A note's vector is the normalised mean of its (normalised) sentences' vectors,
    /// embedded apart by `embedder`; a note with a sentence the job did not embed, or with
    /// none, has no vector.
    fn check_note_vector_is_mean_of_sentences(embedder: &dyn TextEmbedder) {
        let dir = tempfile::tempdir().unwrap();
        let vectors =
            sentence_vectors(embedder, &NoteVectorCache::for_data_dir(dir.path()), NOTES.to_vec(), &NoProgress).unwrap();
        for note in NOTES {
            let sentences: Vec<String> = sentences::split(note).iter().map(|s| sentences::normalise(s)).collect();
            let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
            let alone = embedder.embed_texts(&texts).unwrap();
            let mut mean = vec![0f32; NOTE_DIM];
            for v in &alone {
                for (m, x) in mean.iter_mut().zip(v) {
                    *m += x / alone.len() as f32;
                }
            }
            let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
            let expected: Vec<f32> = mean.iter().map(|x| x / norm).collect();
            let got = vectors.vector(note).expect("every sentence was embedded");
            assert!((got.iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() < 1e-5, "unit length");
            assert!(cosine(&got, &expected) > 0.9999, "{note:?}: cosine {}", cosine(&got, &expected));
        }
        assert_eq!(vectors.vector("Feels well. A sentence never embedded."), None);
        assert_eq!(vectors.vector(" \n- \n"), None);
        assert_eq!(NoteVectors::new().vector(NOTES[2]), None);
    }

    #[test]
    fn each_sentence_is_embedded_once() {
        check_each_sentence_embedded_once(&Hashed);
    }

    #[test]
    fn a_note_vector_is_the_mean_of_its_sentence_vectors() {
        check_note_vector_is_mean_of_sentences(&Hashed);
    }

    /// The same two properties with the real weights, and what makes the normalised
    /// sentence a safe key: MiniLM gives a sentence and its normalised text (lower
    /// case, single spaces) the same vector.
    #[tokio::test]
    async fn sentence_vectors_with_minilm() {
        let Some((_dir, encoder)) = pinned_minilm().await else {
            return;
        };
        check_each_sentence_embedded_once(&encoder);
        check_note_vector_is_mean_of_sentences(&encoder);
        let raw = "Fine  bibasal Crackles on\tauscultation.";
        let v = encoder.embed_texts(&[raw, &sentences::normalise(raw)]).unwrap();
        assert!(cosine(&v[0], &v[1]) > 0.9999, "cosine {}", cosine(&v[0], &v[1]));
    }
}
