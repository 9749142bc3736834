//! mistralrs (pure Rust on candle's CPU kernels) loading a local GGUF.
//!
//! Never touches the network: the model id given to mistralrs is the GGUF's own
//! directory, which exists, so mistralrs lists and reads files there instead of
//! asking the hub; no HF token is read (`TokenSource::None`); the tokenizer and
//! chat template come from the GGUF's metadata. Keep the directory free of
//! `tokenizer_config.json` / `chat_template.jinja`, which mistralrs would prefer.
//!
//! Decoding is greedy (`SamplingParams::deterministic`, top-k 1). Constraints use
//! mistralrs's own JSON-schema constraint (llguidance). mistralrs's prefix cache is
//! on (16 sequences): a repeated system prompt is not evaluated again.

use std::path::Path;
use std::time::Instant;

use async_trait::async_trait;
use mistralrs::{
    ChatCompletionChunkResponse, GgufModelBuilder, Model, RequestBuilder, Response, SamplingParams, TextMessageRole,
    TokenSource,
};

use super::EngineOptions;
use crate::chat::{ChatError, ChatModel, ChatRequest, Completion, Constraint, EngineKind, Speaker, TokenSink};

const ENGINE: EngineKind = EngineKind::Mistralrs;

/// A GGUF model loaded in mistralrs.
pub struct MistralrsModel {
    sha256: String,
    model: Model,
}

impl MistralrsModel {
    /// Loads the GGUF at `path` (already verified by the caller: [`super::load`]).
    pub async fn load(path: &Path, sha256: String, options: &EngineOptions) -> Result<Self, ChatError> {
        let load_error = |reason: String| ChatError::Load { path: path.display().to_string(), reason };
        let (Some(dir), Some(file)) = (path.parent(), path.file_name()) else {
            return Err(load_error("not a file path".into()));
        };
        // An empty parent (a bare file name) means the current directory.
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let _ = options; // Threads: candle uses its own pool, sized by RAYON_NUM_THREADS.
        let model = GgufModelBuilder::new(dir.display().to_string(), vec![file.to_string_lossy().into_owned()])
            .with_token_source(TokenSource::None)
            .with_force_cpu()
            .with_max_num_seqs(1)
            .with_prefix_cache_n(Some(16))
            .build()
            .await
            .map_err(|e| load_error(format!("mistralrs cannot load it: {e:#}")))?;
        Ok(MistralrsModel { sha256, model })
    }
}

fn role(speaker: Speaker) -> TextMessageRole {
    match speaker {
        Speaker::System => TextMessageRole::System,
        Speaker::User => TextMessageRole::User,
        Speaker::Assistant => TextMessageRole::Assistant,
        Speaker::Tool => TextMessageRole::Tool,
    }
}

#[async_trait]
impl ChatModel for MistralrsModel {
    fn engine(&self) -> EngineKind {
        ENGINE
    }

    fn model_sha256(&self) -> &str {
        &self.sha256
    }

    async fn complete(&self, request: &ChatRequest, sink: TokenSink) -> Result<Completion, ChatError> {
        let generate_error = |reason: String| ChatError::Generate { engine: ENGINE, reason };
        let sampling = SamplingParams { max_len: Some(request.max_tokens), ..SamplingParams::deterministic() };
        let mut builder = RequestBuilder::new().set_sampling(sampling);
        for message in &request.messages {
            // mistralrs tokenizes the rendered conversation whole; content must not
            // be able to spell a special token there.
            builder = builder.add_message(role(message.speaker), super::prompt::defuse_special_tokens(&message.content));
        }
        if let Constraint::JsonSchema(schema) = &request.constraint {
            builder = builder.set_constraint(mistralrs::Constraint::JsonSchema(schema.clone()));
        }

        let started = Instant::now();
        let mut first_piece_at = None;
        let mut text = String::new();
        let mut usage = None;
        let mut stream = self.model.stream_chat_request(builder).await.map_err(|e| generate_error(e.to_string()))?;
        while let Some(response) = stream.next().await {
            match response {
                Response::Chunk(ChatCompletionChunkResponse { choices, usage: chunk_usage, .. }) => {
                    for choice in choices {
                        if let Some(piece) = choice.delta.content.filter(|p| !p.is_empty()) {
                            first_piece_at.get_or_insert_with(Instant::now);
                            if let Some(sink) = &sink {
                                let _ = sink.send(piece.clone());
                            }
                            text.push_str(&piece);
                        }
                    }
                    if chunk_usage.is_some() {
                        usage = chunk_usage;
                    }
                }
                Response::Done(done) => {
                    usage = Some(done.usage);
                    break;
                }
                Response::ModelError(message, _) => return Err(generate_error(message)),
                Response::InternalError(e) => return Err(generate_error(e.to_string())),
                Response::ValidationError(e) => {
                    let reason = e.to_string();
                    return Err(if matches!(request.constraint, Constraint::JsonSchema(_)) {
                        ChatError::Constraint { engine: ENGINE, reason }
                    } else {
                        generate_error(reason)
                    });
                }
                _ => {}
            }
        }
        let total = started.elapsed().as_secs_f64();
        let (prompt_tokens, generated_tokens, prompt_seconds, generate_seconds) = match usage {
            Some(u) => (
                u.prompt_tokens,
                u.completion_tokens,
                u.total_prompt_time_sec as f64,
                u.total_completion_time_sec as f64,
            ),
            None => {
                // No usage reported: split the wall clock at the first piece.
                let prompt = first_piece_at.map_or(total, |t| t.duration_since(started).as_secs_f64());
                (0, 0, prompt, total - prompt)
            }
        };
        Ok(Completion { text, prompt_tokens, generated_tokens, prompt_seconds, generate_seconds })
    }
}
