//! llama.cpp through the `llama-cpp-2` crate (llama.cpp's C++ built from the crate's
//! sources with cmake; CPU only).
//!
//! One worker thread owns the model and its context (a llama.cpp context borrows the
//! model and is not `Send`), and takes one request at a time from a channel. The
//! context keeps its KV cache between requests: a new prompt reuses the longest
//! token prefix it shares with what the cache holds (the loop's system prompt and
//! tool descriptions, the conversation so far) and only the rest is evaluated.
//!
//! Across processes: with [`EngineOptions::prefix_cache`] set, the KV state of a
//! process's first prompt is saved to `<prefix_cache>/<model sha256>-ctx<n_ctx>.kv` and
//! loaded by the next process's worker before its first request, so a cold `rdt ask`
//! evaluates only the tokens after the prefix it shares with that prompt (the system
//! prompt), not the whole prompt. It is saved again only when a first prompt shared
//! less than half of itself with it (the prompts changed). A file that does not load
//! (another llama.cpp build, truncated) is ignored and the prompt evaluated in full.
//!
//! Decoding is greedy. `Constraint::JsonSchema` becomes a GBNF grammar through
//! llama.cpp's own JSON-schema converter (`json_schema_to_grammar`, the one its
//! server uses), applied by a grammar sampler before the greedy pick.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::Instant;

use async_trait::async_trait;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::oneshot;

use super::prompt::{render_parts, PromptPart, Utf8Pieces};
use super::EngineOptions;
use crate::chat::{ChatError, ChatModel, ChatRequest, Completion, Constraint, EngineKind, Message, TokenSink};

const ENGINE: EngineKind = EngineKind::LlamaCpp;

/// llama.cpp's global state: initialised once per process, never freed.
fn backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // Its own logging goes to stderr unless sent elsewhere; the CLI's output stays clean.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default().with_logs_enabled(false));
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The GBNF grammar llama.cpp derives from a JSON schema.
pub fn schema_grammar(schema: &serde_json::Value) -> Result<String, ChatError> {
    llama_cpp_2::json_schema_to_grammar(&schema.to_string())
        .map_err(|e| ChatError::Constraint { engine: ENGINE, reason: format!("JSON schema to grammar: {e}") })
}

struct Job {
    request: ChatRequest,
    sink: TokenSink,
    reply: oneshot::Sender<Result<Completion, ChatError>>,
}

/// A GGUF model loaded in llama.cpp, served by its worker thread.
pub struct LlamaCppModel {
    sha256: String,
    /// `None` once dropped; closing the channel ends the worker.
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl LlamaCppModel {
    /// Loads the GGUF at `path` (already verified by the caller: [`super::load`]) and
    /// starts its worker. Blocks for the load (seconds); call from a blocking context.
    pub fn load(path: &Path, sha256: String, options: &EngineOptions) -> Result<Self, ChatError> {
        let load_error = |reason: String| ChatError::Load { path: path.display().to_string(), reason };
        let backend = backend().map_err(load_error)?;
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), ChatError>>();
        let path_buf = path.to_path_buf();
        let options = options.clone();
        let worker = thread::Builder::new()
            .name("llama-cpp".into())
            .spawn({
                let sha256 = sha256.clone();
                move || worker(backend, path_buf, &sha256, options, ready_tx, jobs_rx)
            })
            .map_err(|e| load_error(format!("cannot start the worker thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(LlamaCppModel { sha256, jobs: Some(jobs_tx), worker: Some(worker) }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(load_error("the worker thread stopped while loading".into())),
        }
    }
}

impl Drop for LlamaCppModel {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[async_trait]
impl ChatModel for LlamaCppModel {
    fn engine(&self) -> EngineKind {
        ENGINE
    }

    fn model_sha256(&self) -> &str {
        &self.sha256
    }

    async fn complete(&self, request: &ChatRequest, sink: TokenSink) -> Result<Completion, ChatError> {
        let gone = || ChatError::Generate { engine: ENGINE, reason: "the llama.cpp worker has stopped".into() };
        let (reply, answer) = oneshot::channel();
        let job = Job { request: request.clone(), sink, reply };
        self.jobs.as_ref().ok_or_else(gone)?.send(job).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn worker(
    backend: &'static LlamaBackend,
    path: PathBuf,
    sha256: &str,
    options: EngineOptions,
    ready: mpsc::Sender<Result<(), ChatError>>,
    jobs: mpsc::Receiver<Job>,
) {
    let load_error = |reason: String| ChatError::Load { path: path.display().to_string(), reason };
    let model = match LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default()) {
        Ok(model) => model,
        Err(e) => {
            let _ = ready.send(Err(load_error(format!("llama.cpp cannot load it: {e}"))));
            return;
        }
    };
    let threads = i32::try_from(options.threads.max(1)).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(options.n_ctx))
        .with_n_batch(options.n_batch)
        .with_n_ubatch(options.n_batch)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let ctx = match model.new_context(backend, params) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(load_error(format!("llama.cpp cannot create a context: {e}"))));
            return;
        }
    };
    let template = model.chat_template(None).ok().and_then(|t| t.to_string().ok());
    let prefix_file = options.prefix_cache.as_ref().map(|dir| dir.join(format!("{sha256}-ctx{}.kv", options.n_ctx)));
    let mut session = Session {
        model: &model,
        ctx,
        template,
        cached: Vec::new(),
        n_batch: options.n_batch as usize,
        prefix_file,
        prefix_decided: false,
    };
    session.load_prefix();
    if ready.send(Ok(())).is_err() {
        return;
    }
    while let Ok(job) = jobs.recv() {
        let result = session.complete(&job.request, &job.sink);
        if result.is_err() {
            // The cache may be half-written: start the next request from scratch.
            session.ctx.clear_kv_cache();
            session.cached.clear();
        }
        let _ = job.reply.send(result);
    }
}

/// The worker's state: the context and which tokens its KV cache (sequence 0) holds.
struct Session<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    /// The GGUF's chat template, when it has one.
    template: Option<String>,
    cached: Vec<LlamaToken>,
    n_batch: usize,
    /// Where the KV state of a first prompt is kept between processes, if anywhere.
    prefix_file: Option<PathBuf>,
    /// Whether this process's first prompt has been evaluated (and the prefix saved
    /// if it should be: once per process at most).
    prefix_decided: bool,
}

/// Whether a prompt of `prompt_len` tokens, of which `kept` came from the KV cache,
/// should replace the saved prefix: when it shared less than half of itself (no
/// saved prefix yet, or the prompts changed), so a cold question that reused the
/// system prompt leaves the file as it is.
fn should_save_prefix(kept: usize, prompt_len: usize) -> bool {
    kept * 2 < prompt_len
}

impl Session<'_> {
    /// Starts the KV cache (sequence 0) from the saved prefix, when there is one that
    /// loads; else empty.
    fn load_prefix(&mut self) {
        let Some(file) = self.prefix_file.as_ref().filter(|f| f.is_file()) else { return };
        let capacity = self.ctx.n_ctx() as usize;
        match self.ctx.state_seq_load_file(file, 0, capacity) {
            Ok((tokens, _)) => self.cached = tokens,
            Err(_) => {
                // Another llama.cpp build or a damaged file: evaluate the prompt in full.
                self.ctx.clear_kv_cache();
                self.cached.clear();
            }
        }
    }

    /// Saves the KV cache of the prompt just evaluated (sequence 0 holds exactly its
    /// tokens now), written beside and renamed into place. A prefix that cannot be
    /// saved costs the next process a full prompt, nothing else, so errors are dropped.
    fn save_prefix(&mut self) {
        let Some(file) = self.prefix_file.clone() else { return };
        let Some(dir) = file.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let partial = file.with_extension(format!("partial-{}", std::process::id()));
        match self.ctx.state_seq_save_file(&partial, 0, &self.cached) {
            Ok(_) => {
                let _ = std::fs::rename(&partial, &file);
            }
            Err(_) => {
                let _ = std::fs::remove_file(&partial);
            }
        }
    }

    /// The prompt's tokens: the template's text with its special tokens parsed, each
    /// message's content as plain text (a note or question that spells `<|im_end|>`
    /// stays characters). A template that fails (an unsupported construct) falls back
    /// to ChatML, as llama.cpp itself does; both packaged families use ChatML.
    fn prompt_tokens(&self, messages: &[Message]) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let text = |t: LlamaToken| vocab.text(t).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let parts = render_parts(self.template.as_deref(), messages, &text(vocab.bos()), &text(vocab.eos()));
        let mut tokens = Vec::new();
        for part in parts {
            // The template writes any BOS itself.
            match part {
                PromptPart::Template(t) => tokens.extend(vocab.tokenize(t.as_bytes(), false, true)),
                PromptPart::Content(c) => tokens.extend(vocab.tokenize(c.as_bytes(), false, false)),
            }
        }
        tokens
    }

    fn complete(&mut self, request: &ChatRequest, sink: &TokenSink) -> Result<Completion, ChatError> {
        let generate_error = |reason: String| ChatError::Generate { engine: ENGINE, reason };
        let tokens = self.prompt_tokens(&request.messages);
        let vocab = self.model.vocab();
        let context = self.ctx.n_ctx() as usize;
        if tokens.is_empty() {
            return Err(generate_error("the prompt is empty".into()));
        }
        if tokens.len() >= context {
            return Err(ChatError::ContextFull { tokens: tokens.len(), context });
        }
        let mut sampler = match &request.constraint {
            Constraint::Free => LlamaSampler::greedy(),
            Constraint::JsonSchema(schema) => {
                let grammar = schema_grammar(schema)?;
                let grammar = LlamaSampler::grammar(self.model, &grammar, "root").map_err(|e| {
                    ChatError::Constraint { engine: ENGINE, reason: format!("llama.cpp rejects the grammar: {e}") }
                })?;
                LlamaSampler::chain_simple([grammar, LlamaSampler::greedy()])
            }
        };

        // Prefill: keep the shared prefix in the KV cache, evaluate the rest. At least
        // the last prompt token is evaluated, for the logits of the first pick.
        let started = Instant::now();
        let mut keep = self.cached.iter().zip(&tokens).take_while(|(a, b)| a == b).count();
        keep = keep.min(tokens.len() - 1);
        let dropped = self
            .ctx
            .clear_kv_cache_seq(Some(0), Some(keep as u32), None)
            .map_err(|e| generate_error(format!("KV cache: {e}")))?;
        if !dropped {
            keep = 0;
            self.ctx.clear_kv_cache();
        }
        self.cached.truncate(keep);
        let mut batch = LlamaBatch::new(self.n_batch.max(1), 1);
        let rest = &tokens[keep..];
        for (chunk_index, chunk) in rest.chunks(self.n_batch.max(1)).enumerate() {
            batch.clear();
            let base = keep + chunk_index * self.n_batch.max(1);
            for (i, token) in chunk.iter().enumerate() {
                let last = base + i == tokens.len() - 1;
                batch.add(*token, (base + i) as i32, &[0], last).map_err(|e| generate_error(e.to_string()))?;
            }
            self.ctx.decode(&mut batch).map_err(|e| generate_error(format!("prompt decode: {e}")))?;
            self.cached.extend_from_slice(chunk);
        }
        let prompt_seconds = started.elapsed().as_secs_f64();
        if !self.prefix_decided {
            self.prefix_decided = true;
            if should_save_prefix(keep, tokens.len()) {
                self.save_prefix();
            }
        }

        // Generation.
        let started = Instant::now();
        let mut text = String::new();
        let mut pieces = Utf8Pieces::default();
        let mut generated = 0usize;
        let mut logits_index = batch.n_tokens() - 1;
        let emit = |piece: String, text: &mut String| {
            if !piece.is_empty() {
                if let Some(sink) = sink {
                    let _ = sink.send(piece.clone());
                }
                text.push_str(&piece);
            }
        };
        while generated < request.max_tokens && self.cached.len() < context {
            let token = sampler.sample(&self.ctx, logits_index);
            if vocab.is_eog(token) {
                break;
            }
            generated += 1;
            emit(pieces.push(&vocab.token_to_piece(token, false, None)), &mut text);
            batch.clear();
            batch.add(token, self.cached.len() as i32, &[0], true).map_err(|e| generate_error(e.to_string()))?;
            self.ctx.decode(&mut batch).map_err(|e| generate_error(format!("decode: {e}")))?;
            self.cached.push(token);
            logits_index = 0;
        }
        emit(pieces.finish(), &mut text);
        Ok(Completion {
            text,
            prompt_tokens: tokens.len(),
            generated_tokens: generated,
            prompt_seconds,
            generate_seconds: started.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_prompt_replaces_the_saved_prefix_only_when_it_shared_little_of_it() {
        assert!(should_save_prefix(0, 300), "nothing saved yet");
        assert!(should_save_prefix(100, 300), "the prompts changed");
        assert!(!should_save_prefix(150, 300), "the system prompt was reused");
        assert!(!should_save_prefix(299, 300));
    }

    #[test]
    fn the_loop_schema_subset_becomes_a_grammar() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "tool": {"enum": ["latest_lab", "das28"]},
                "patient": {"type": "string"},
                "days": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "flag": {"type": "boolean"},
                "value": {"type": "number"}
            },
            "required": ["tool", "patient", "days", "tags", "flag", "value"],
            "additionalProperties": false
        });
        let grammar = schema_grammar(&schema).unwrap();
        assert!(grammar.contains("root ::="), "{grammar}");
        assert!(grammar.contains("latest_lab"), "{grammar}");
    }
}
