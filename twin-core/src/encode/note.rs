//! The note encoder: one vector per clinical note, from all-MiniLM-L6-v2.
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
//! Embedding costs about 25 ms a note on 2 cores, so vectors are cached by the sha256
//! of the note's text ([`NoteVectorCache`]): a text is embedded once per model version.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, Digest, ModelRegistry};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

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

/// Note vectors on disk, one little-endian `f32` file per (model version, text sha256):
/// `<dir>/<model sha256>/<first two hex digits>/<text sha256>.f32`.
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

    /// The vector of every text, embedding (in batches) only those not cached yet.
    pub fn get_or_embed(&self, encoder: &NoteEncoder, texts: &[&str]) -> Result<Vec<Vec<f32>>, NoteError> {
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
        // Identical texts in one call are embedded once.
        let mut unique: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
        unique.sort_unstable();
        unique.dedup();
        if !unique.is_empty() {
            let vectors = encoder.embed(&unique)?.to_vec2::<f32>()?;
            for (text, vector) in unique.iter().zip(&vectors) {
                let path = self.path(&version, &Digest::of(text.as_bytes()));
                write_vector(&path, vector).map_err(|source| NoteError::CacheIo { path: path.clone(), source })?;
            }
            for i in missing {
                let at = unique.binary_search(&texts[i]).expect("every missing text is in `unique`");
                out[i] = Some(vectors[at].clone());
            }
        }
        Ok(out.into_iter().map(|v| v.expect("every slot was filled from the cache or the encoder")).collect())
    }
}

/// Note vectors by text: what a twin's `note_vector` lookup reads.
pub type NoteVectors = HashMap<String, Vec<f32>>;

/// MiniLM (from the model cache, loaded only if pinned) and an install's note-vector
/// cache: what turns the note texts a twin reads into vectors.
pub struct NoteVectorSource {
    encoder: NoteEncoder,
    cache: NoteVectorCache,
}

impl NoteVectorSource {
    /// MiniLM from `RDT_MODEL_CACHE` (verified against `registry`) over the cache of
    /// the install at `data_dir`.
    pub async fn load(data_dir: &Path, registry: &ModelRegistry) -> Result<Self, NoteError> {
        let files = ModelCache::from_env()?.check_with(&MINILM, registry.log().digest_records())?;
        let encoder = NoteEncoder::load(&files, registry).await?;
        Ok(NoteVectorSource { encoder, cache: NoteVectorCache::for_data_dir(data_dir) })
    }

    /// The vector of each text (each once), from the cache or embedded now, in chunks
    /// of 64 (a `progress` step per text). Callers pass only the notes the twin reads
    /// (`twin::features::note_texts`).
    pub fn vectors(&self, mut texts: Vec<&str>, progress: &dyn Progress) -> Result<NoteVectors, NoteError> {
        texts.sort_unstable();
        texts.dedup();
        progress.stage("note vectors", texts.len() as u64);
        let mut out = HashMap::with_capacity(texts.len());
        for chunk in texts.chunks(64) {
            for (t, v) in chunk.iter().zip(self.cache.get_or_embed(&self.encoder, chunk)?) {
                out.insert((*t).to_owned(), v);
            }
            progress.advance(chunk.len() as u64);
        }
        progress.done();
        Ok(out)
    }
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

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Shape and norm: one unit vector of 384 per note, whatever the note's length.
    #[tokio::test]
    async fn one_unit_vector_per_note() {
        let Some(files) = minilm_for_tests() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let encoder = NoteEncoder::load(&files, &registry(dir.path(), &files, true).await).await.unwrap();
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
        let Some(files) = minilm_for_tests() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let encoder = NoteEncoder::load(&files, &registry(dir.path(), &files, true).await).await.unwrap();
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
        let Some(files) = minilm_for_tests() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let encoder = NoteEncoder::load(&files, &registry(dir.path(), &files, true).await).await.unwrap();
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
}
