//! Narrowing the tools by meaning before the model chooses.
//!
//! A small model chooses well among a few tools and badly among many, and every tool
//! line costs prompt time. So the question is embedded with the note encoder
//! (all-MiniLM-L6-v2, `twin_core::encode::NoteEncoder`) and compared with each tool's
//! description and example questions, embedded once; the tools the asker's role may
//! call are ranked by their best-matching text and the top few are offered.
//!
//! MiniLM ranks by wording more than by subject, so each tool's domain words
//! ([`tools::Vocabulary`]) add [`VOCABULARY_BOOST`] to its similarity when the question
//! uses one, and a tool whose vocabulary is required (the cohort tools, the forecast)
//! is not offered to a question that uses none of it.
//!
//! Tool vectors are cached on disk by the sha256 of each text and the encoder
//! version (`NoteVectorCache`), so a changed description is embedded again and an
//! unchanged one never is. Tests inject vectors through [`TextEmbedder`].

use std::sync::Arc;

use audit_log::{Digest, ModelRegistry};
use serde::Serialize;
use tools::{ToolName, ToolSpec, Vocabulary};
use twin_core::encode::{NoteEncoder, NoteError, NoteVectorCache};
use twin_core::models::ModelFiles;

#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error("text encoder: {0}")]
    Encoder(#[from] NoteError),
    #[error("the text encoder returned {got} vectors for {asked} texts")]
    Count { asked: usize, got: usize },
}

/// Turns texts into unit vectors whose dot product is their similarity.
pub trait TextEmbedder: Send + Sync {
    /// The encoder's version (sha256 of its weights).
    fn version(&self) -> Digest;
    /// One vector per text, cached where the implementation can.
    fn embed_cached(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RetrievalError>;
    /// One vector per text, never cached (questions).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RetrievalError>;
}

/// MiniLM from the verified model cache, its tool vectors cached on disk.
pub struct MiniLm {
    encoder: NoteEncoder,
    cache: Option<NoteVectorCache>,
}

impl MiniLm {
    /// Loads MiniLM (its files must be pinned in `registry`); `cache` keeps the tool
    /// vectors between runs.
    pub async fn load(
        files: &ModelFiles,
        registry: &ModelRegistry,
        cache: Option<NoteVectorCache>,
    ) -> Result<Self, RetrievalError> {
        Ok(MiniLm { encoder: NoteEncoder::load(files, registry).await?, cache })
    }
}

impl TextEmbedder for MiniLm {
    fn version(&self) -> Digest {
        self.encoder.version()
    }

    fn embed_cached(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RetrievalError> {
        match &self.cache {
            Some(cache) => Ok(cache.get_or_embed(&self.encoder, texts)?),
            None => self.embed(texts),
        }
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RetrievalError> {
        let tensor = self.encoder.embed(texts)?;
        Ok(tensor.to_vec2::<f32>().map_err(NoteError::from)?)
    }
}

/// One tool's similarity to a question.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ranked {
    pub tool: ToolName,
    pub similarity: f32,
}

/// What a question using a tool's vocabulary adds to its similarity: about the gap
/// between a right and a wrong tool's best text on questions unlike the examples.
pub const VOCABULARY_BOOST: f32 = 0.15;

/// The embedded texts of every tool, ready to rank. Cloned when the running model
/// is switched, so the tools are not embedded again.
#[derive(Clone)]
pub struct ToolRetriever {
    embedder: Arc<dyn TextEmbedder>,
    /// Per tool, its vocabulary and one vector per text (description, then each example).
    vectors: Vec<(ToolName, Vocabulary, Vec<Vec<f32>>)>,
}

/// The texts a tool is found by: its description and example questions.
pub fn tool_texts(spec: &ToolSpec) -> Vec<&'static str> {
    std::iter::once(spec.description).chain(spec.examples.iter().copied()).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl ToolRetriever {
    /// Embeds every tool's texts (from the cache when they were embedded before).
    pub fn new(embedder: Arc<dyn TextEmbedder>, specs: &[ToolSpec]) -> Result<Self, RetrievalError> {
        let mut vectors = Vec::with_capacity(specs.len());
        for spec in specs {
            let texts = tool_texts(spec);
            let v = embedder.embed_cached(&texts)?;
            if v.len() != texts.len() {
                return Err(RetrievalError::Count { asked: texts.len(), got: v.len() });
            }
            vectors.push((spec.name, spec.vocabulary, v));
        }
        Ok(ToolRetriever { embedder, vectors })
    }

    pub fn encoder_version(&self) -> Digest {
        self.embedder.version()
    }

    /// The tools of `allowed` the question may use, most similar to `question` first
    /// (similarity: the best dot product over the tool's texts, plus
    /// [`VOCABULARY_BOOST`] when the question uses the tool's vocabulary; a tool whose
    /// vocabulary is required and unused is left out).
    pub fn rank(&self, question: &str, allowed: &[ToolName]) -> Result<Vec<Ranked>, RetrievalError> {
        self.rank_answering(question, allowed, &[])
    }

    /// [`ToolRetriever::rank`], keeping the tools of `answering` (those that answer
    /// the question's reading, `tools::Tool::answers`) even when their required
    /// vocabulary is unused: the reading, not the wording, says they state the fact.
    pub fn rank_answering(
        &self,
        question: &str,
        allowed: &[ToolName],
        answering: &[ToolName],
    ) -> Result<Vec<Ranked>, RetrievalError> {
        let q = self.embedder.embed(&[question])?.pop().ok_or(RetrievalError::Count { asked: 1, got: 0 })?;
        let mut ranked: Vec<Ranked> = self
            .vectors
            .iter()
            .filter(|(tool, _, _)| allowed.contains(tool))
            .filter_map(|(tool, vocabulary, vs)| {
                let uses = vocabulary.matches(question);
                if vocabulary.required && !uses && !answering.contains(tool) {
                    return None;
                }
                let best = vs.iter().map(|v| dot(&q, v)).fold(f32::NEG_INFINITY, f32::max);
                Some(Ranked { tool: *tool, similarity: best + if uses { VOCABULARY_BOOST } else { 0.0 } })
            })
            .collect();
        ranked.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.tool.cmp(&b.tool)));
        Ok(ranked)
    }
}
