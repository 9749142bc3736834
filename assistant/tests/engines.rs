//! Both engines on real GGUF files from the model cache (`rdt setup --llm smallest,default`).
//!
//! Without the files the tests skip, saying so; with `RDT_REQUIRE_MODELS=1` (as
//! `scripts/test.sh` sets) a missing file fails them. SmolLM2-135M carries the engine
//! checks (it decodes fast); the default 1.5B model answers one constrained call on the
//! default engine. The whole file takes about a minute on 2 cores.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assistant::engine::{self, EngineOptions, DEFAULT_ENGINE};
use assistant::{ChatModel, ChatRequest, Constraint, EngineKind, Message, Speaker};
use audit_log::{ArtifactKind, AuditLog, ModelRegistry, Principal, Role};
use serde_json::{json, Value};
use twin_core::models::{ModelCache};
use assistant::gguf::{PackagedGguf, QWEN_CODER_1_5B, SMOLLM2_135M};
use assistant::gguf::GgufCache as _;

/// The cached GGUF of `model`, or `None` (a skip that says so) when absent and
/// `RDT_REQUIRE_MODELS` is not `1`. The hash is checked by the registry at load.
fn gguf(model: &PackagedGguf) -> Option<PathBuf> {
    let path = ModelCache::from_env().map(|cache| cache.gguf_path(model));
    match path {
        Ok(path) if path.is_file() => Some(path),
        other => {
            let why = match other {
                Ok(path) => format!("{} is missing", path.display()),
                Err(e) => e.to_string(),
            };
            if std::env::var("RDT_REQUIRE_MODELS").as_deref() == Ok("1") {
                panic!("RDT_REQUIRE_MODELS=1 but {} is not usable: {why}", model.name);
            }
            eprintln!(
                "skipping: {} not in the model cache ({why}); run `rdt setup --llm smallest,default`",
                model.name
            );
            None
        }
    }
}

/// A fresh registry (SQLite in `dir`) with `pinned` pinned as LLM weights.
async fn registry(dir: &Path, pinned: &Path) -> ModelRegistry {
    let url = format!("sqlite://{}", dir.join("audit.sqlite").display());
    let registry = ModelRegistry::new(AuditLog::open(&url).await.unwrap());
    let by = Principal::new("test", Role::Governance);
    registry.pin_file(&by, ArtifactKind::Llm, pinned, None, "engine tests").await.unwrap();
    registry
}

fn ask(question: &str, constraint: Constraint, max_tokens: usize) -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::new(Speaker::System, "You are a terse assistant for clinicians."),
            Message::new(Speaker::User, question),
        ],
        constraint,
        max_tokens,
    }
}

/// The loop's kind of schema: an object with required properties, an enum, typed fields.
fn tool_call_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "tool": {"type": "string", "enum": ["latest_lab", "das28_trend", "none"]},
            "patient": {"type": "string"},
            "days": {"type": "integer"},
            "urgent": {"type": "boolean"}
        },
        "required": ["tool", "patient", "days", "urgent"],
        "additionalProperties": false
    })
}

/// Checks `value` against the subset of JSON schema the loop emits (chat.rs).
fn conforms(value: &Value, schema: &Value) -> Result<(), String> {
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        return if choices.contains(value) { Ok(()) } else { Err(format!("{value} not in {choices:?}")) };
    }
    let ok = match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let object = value.as_object().ok_or(format!("{value} is not an object"))?;
            let properties = schema["properties"].as_object().cloned().unwrap_or_default();
            for required in schema["required"].as_array().into_iter().flatten() {
                let key = required.as_str().unwrap();
                if !object.contains_key(key) {
                    return Err(format!("missing required {key} in {value}"));
                }
            }
            for (key, field) in object {
                let field_schema = properties.get(key).ok_or(format!("unexpected property {key}"))?;
                conforms(field, field_schema)?;
            }
            true
        }
        Some("array") => {
            for item in value.as_array().ok_or(format!("{value} is not an array"))? {
                conforms(item, &schema["items"])?;
            }
            true
        }
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        other => return Err(format!("schema type {other:?} outside the subset")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{value} is not of type {}", schema["type"]))
    }
}

/// Greedy decoding is deterministic, streaming delivers the text, and a schema
/// constraint yields conforming JSON: the three things the loop relies on.
async fn greedy_streamed_and_constrained(kind: EngineKind) {
    let Some(path) = gguf(&SMOLLM2_135M) else { return };
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path(), &path).await;
    let model: Arc<dyn ChatModel> = engine::load_with(kind, &path, &registry, &EngineOptions::default()).await.unwrap();
    assert_eq!(model.engine(), kind);
    assert_eq!(model.model_sha256(), SMOLLM2_135M.sha256);

    // Deterministic: the same request twice (the second reuses the cached prefix).
    let request = ask("Name three joints often affected by rheumatoid arthritis.", Constraint::Free, 16);
    let first = model.complete(&request, None).await.unwrap();
    let second = model.complete(&request, None).await.unwrap();
    assert!(!first.text.trim().is_empty() && first.generated_tokens > 0, "{first:?}");
    assert!(first.generated_tokens <= 16, "{first:?}");
    assert!(first.prompt_tokens > 10, "{first:?}");
    assert_eq!(first.text, second.text);

    // A question (or a note, a tool result) that spells a special token is text: it
    // costs the tokens of its characters, not the one token of a turn boundary.
    let plain = model.complete(&ask("x", Constraint::Free, 1), None).await.unwrap();
    let spelled = model.complete(&ask("<|im_end|>", Constraint::Free, 1), None).await.unwrap();
    assert!(spelled.prompt_tokens >= plain.prompt_tokens + 3, "{kind}: {} vs {}", spelled.prompt_tokens, plain.prompt_tokens);

    // Streaming: the pieces, in order, are the text.
    let (sink, mut pieces) = tokio::sync::mpsc::unbounded_channel();
    let streamed = model.complete(&ask("Say hello to the clinic.", Constraint::Free, 12), Some(sink)).await.unwrap();
    let mut joined = String::new();
    let mut count = 0;
    while let Ok(piece) = pieces.try_recv() {
        joined.push_str(&piece);
        count += 1;
    }
    assert!(count > 1, "expected several pieces, got {count}: {joined:?}");
    assert_eq!(joined, streamed.text);

    // Constrained: JSON valid against the schema, even from a 135M model. (Without
    // free strings: the 135M model can loop inside a string until the token cap, and a
    // capped generation is a valid prefix, not a whole value; the 1.5B test has them.)
    let schema = json!({
        "type": "object",
        "properties": {
            "tool": {"type": "string", "enum": ["latest_lab", "das28_trend", "none"]},
            "days": {"type": "integer"},
            "urgent": {"type": "boolean"}
        },
        "required": ["tool", "days", "urgent"],
        "additionalProperties": false
    });
    let request = ask(
        "Which tool answers: what is the latest CRP of patient p-104? Reply as JSON.",
        Constraint::JsonSchema(schema.clone()),
        96,
    );
    let constrained = model.complete(&request, None).await.unwrap();
    let value: Value = serde_json::from_str(constrained.text.trim())
        .unwrap_or_else(|e| panic!("{kind}: not JSON ({e}): {:?}", constrained.text));
    conforms(&value, &schema).unwrap_or_else(|e| panic!("{kind}: {e}: {}", constrained.text));
}

/// A prompt's KV state saved by one process and loaded by the next (the cold `rdt
/// ask` path) gives the same greedy answer as evaluating the prompt in full, and a
/// saved file that does not load is ignored. Greedy decoding on a fixed GGUF removes
/// chance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_prompt_prefix_gives_the_same_answer_in_the_next_process() {
    let Some(path) = gguf(&SMOLLM2_135M) else { return };
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path(), &path).await;
    let request = ask("Name three joints often affected by rheumatoid arthritis.", Constraint::Free, 16);
    let plain = engine::load_with(EngineKind::LlamaCpp, &path, &registry, &EngineOptions::default()).await.unwrap();
    let expected = plain.complete(&request, None).await.unwrap();
    drop(plain);

    let prefixes = dir.path().join("llm-prefix");
    let options = EngineOptions { prefix_cache: Some(prefixes.clone()), ..EngineOptions::default() };
    let saved_file = prefixes.join(format!("{}-ctx{}.kv", SMOLLM2_135M.sha256, options.n_ctx));
    let first = engine::load_with(EngineKind::LlamaCpp, &path, &registry, &options).await.unwrap();
    assert_eq!(first.complete(&request, None).await.unwrap().text, expected.text);
    drop(first);
    assert!(saved_file.is_file(), "no prefix saved at {}", saved_file.display());

    let next = engine::load_with(EngineKind::LlamaCpp, &path, &registry, &options).await.unwrap();
    let reused = next.complete(&request, None).await.unwrap();
    assert_eq!((reused.text.as_str(), reused.prompt_tokens), (expected.text.as_str(), expected.prompt_tokens));
    drop(next);

    std::fs::write(&saved_file, b"not a llama.cpp state file").unwrap();
    let damaged = engine::load_with(EngineKind::LlamaCpp, &path, &registry, &options).await.unwrap();
    assert_eq!(damaged.complete(&request, None).await.unwrap().text, expected.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llama_cpp_decodes_greedily_streams_and_follows_a_schema() {
    greedy_streamed_and_constrained(EngineKind::LlamaCpp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistralrs_decodes_greedily_streams_and_follows_a_schema() {
    greedy_streamed_and_constrained(EngineKind::Mistralrs).await;
}

#[tokio::test]
async fn a_tampered_or_unpinned_gguf_is_refused_before_loading() {
    let Some(path) = gguf(&SMOLLM2_135M) else { return };
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path(), &path).await;
    // A copy with one byte changed (near the end, in the weights): its hash is not pinned.
    let tampered = dir.path().join("tampered.gguf");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x01;
    std::fs::write(&tampered, &bytes).unwrap();
    for kind in [EngineKind::LlamaCpp, EngineKind::Mistralrs] {
        let err = match engine::load_with(kind, &tampered, &registry, &EngineOptions::default()).await {
            Ok(_) => panic!("{kind} loaded a tampered file"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("refusing to load") && err.contains("not pinned"), "{kind}: {err}");
        assert!(err.contains("tampered.gguf"), "the error names the file: {err}");
    }
    // The untouched file with an empty registry: refused too.
    let empty_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", empty_dir.path().join("audit.sqlite").display());
    let empty = ModelRegistry::new(AuditLog::open(&url).await.unwrap());
    let err = engine::load_with(EngineKind::LlamaCpp, &path, &empty, &EngineOptions::default()).await.err().unwrap();
    assert!(err.to_string().contains("not pinned"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_model_answers_a_constrained_call_on_the_default_engine() {
    let Some(path) = gguf(&QWEN_CODER_1_5B) else { return };
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path(), &path).await;
    let model = engine::load_with(DEFAULT_ENGINE, &path, &registry, &EngineOptions::default()).await.unwrap();
    assert_eq!(model.model_sha256(), QWEN_CODER_1_5B.sha256);
    let schema = tool_call_schema();
    let request = ask(
        "Tools: latest_lab (latest lab value of a patient), das28_trend (DAS28 over N days), none. \
         Question: what is the latest CRP of patient p-104? Choose the tool and its arguments as JSON.",
        Constraint::JsonSchema(schema.clone()),
        64,
    );
    let completion = model.complete(&request, None).await.unwrap();
    let value: Value = serde_json::from_str(completion.text.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", completion.text));
    conforms(&value, &schema).unwrap_or_else(|e| panic!("{e}: {}", completion.text));
    // The 1.5B model picks the tool and the patient the question names (MODELS.md: 6/6).
    assert_eq!(value["tool"], "latest_lab", "{value}");
    assert_eq!(value["patient"], "p-104", "{value}");
}

#[test]
fn the_schema_checker_rejects_what_the_engines_must_not_produce() {
    let schema = tool_call_schema();
    let good = json!({"tool": "latest_lab", "patient": "p-1", "days": 3, "urgent": false});
    assert!(conforms(&good, &schema).is_ok());
    for bad in [
        json!({"tool": "drop_table", "patient": "p-1", "days": 3, "urgent": false}),
        json!({"tool": "none", "patient": "p-1", "days": 3.5, "urgent": false}),
        json!({"tool": "none", "patient": "p-1", "urgent": false}),
        json!({"tool": "none", "patient": "p-1", "days": 3, "urgent": false, "extra": 1}),
    ] {
        assert!(conforms(&bad, &schema).is_err(), "{bad}");
    }
}
