//! Side-by-side benchmark of the two engines on the same GGUF, in one run:
//! load time, prompt evaluation at about 200 and 2,000 tokens, the same 2,000-token
//! system prompt again (prefix reuse), free and JSON-schema-constrained generation,
//! and question-to-answer time of the assistant loop with one tool call, warm
//! (`Assistant::ask` over a 12-patient virtual cohort, MiniLM retrieval; the first
//! question is a warm-up and is not counted).
//! Writes `docs/benchmarks/engines.md` (`RDT_BENCH_OUT` overrides the path).
//!
//! `cargo bench -p assistant --bench engines`; `RDT_BENCH_MODEL=default|fast|smallest`
//! (default: `default`, Qwen2.5-Coder-1.5B), `RDT_BENCH_ENGINES=llama-cpp,mistralrs`.
//! The model must be in the cache (`rdt setup`); it is pinned in a throwaway registry.
//!
//! With `RDT_BENCH_LLAMA_BENCH=<llama-bench binary>` it runs instead the llama.cpp
//! engine against llama.cpp's own `llama-bench` side by side ([`vs_llama_bench`];
//! `scripts/bench-engine-vs-llamacpp.sh`), prints the table and writes it to
//! `RDT_BENCH_OUT` when set (docs/benchmarks/engines.md is not touched).

#[path = "engines/vs_llama_bench.rs"]
mod vs_llama_bench;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use assistant::engine::{self, EngineOptions};
use assistant::{
    AskContext, Assistant, ChatModel, ChatRequest, Completion, Constraint, EngineKind, Message, MiniLm, Speaker,
    ToolRetriever,
};
use audit_log::{ArtifactKind, AuditLog, ModelRegistry, Principal, Role};
use serde_json::json;
use tools::ToolContext;
use journey::fhir::{Importer, NoProgress};
use twin_core::models::{cache, MINILM};
use twin_core::models::{ModelCache};
use assistant::gguf::{PackagedGguf, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M};
use assistant::gguf::GgufCache as _;
use journey::{Database, JourneyStore, Modality, PatientId};

/// Clinical-sounding filler for long system prompts; each call gets a distinct first
/// line so no engine can reuse a cached prefix unless the test wants it to.
const FILLER: &str = "Tool latest_lab returns the most recent laboratory value of a patient with its unit, \
reference interval and a computed flag. Tool das28_trend returns DAS28-CRP scores over a window of days. \
Never invent values: every number in an answer must come from a tool result. ";

fn system_prompt(nonce: usize, sentences: usize) -> String {
    let mut text = format!("Session {nonce}. You are the RDT assistant for rheumatologists.\n");
    for i in 0..sentences {
        let _ = write!(text, "{}. {FILLER}", i + 1);
    }
    text
}

fn request(system: String, user: &str, constraint: Constraint, max_tokens: usize) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::new(Speaker::System, system), Message::new(Speaker::User, user)],
        constraint,
        max_tokens,
    }
}

#[derive(Debug, Default, Clone)]
struct Figures {
    load_s: f64,
    short_prompt: (usize, f64),
    long_prompt: (usize, f64),
    reused_prompt: (usize, f64),
    generate: (usize, f64),
    constrained: (usize, f64),
    /// Seconds per question with exactly one tool call, warm, sorted.
    answers: Vec<f64>,
}

fn prompt_rate(c: &Completion) -> (usize, f64) {
    (c.prompt_tokens, c.prompt_seconds)
}

fn generate_rate(c: &Completion) -> (usize, f64) {
    (c.generated_tokens, c.generate_seconds)
}

/// Questions of the loop, each answered with one tool call on the open patient.
const QUESTIONS: [&str; 10] = [
    "What is the latest CRP?",
    "What is the latest DAS28?",
    "Which drugs is the patient on?",
    "Is the ESR rising?",
    "How many flares has the patient had?",
    "What is the latest haemoglobin?",
    "How old is the patient?",
    "Which DMARDs has the patient tried?",
    "Is the inflammation marker raised?",
    "What did the last note say?",
];

/// The assistant loop on `model`: a warm-up question, then [`QUESTIONS`]; the seconds
/// of those answered with exactly one tool call, sorted.
async fn answer_times(model: Arc<dyn ChatModel>, cohort: &Cohort) -> Vec<f64> {
    let assistant =
        Assistant::new(model, ToolContext::new(cohort.store.clone()), cohort.log.clone(), cohort.retriever());
    let ctx = AskContext {
        principal: Principal::new("bench", Role::Clinician),
        patient: Some(cohort.patient.clone()),
        session: "bench".into(),
    };
    assistant.ask("Summarise this patient.", &ctx, None).await.expect("warm-up");
    let mut times = Vec::new();
    for q in QUESTIONS {
        let a = assistant.ask(q, &ctx, None).await.expect("ask");
        eprintln!("  {:.2} s, {} tool(s): {q} -> {:?} {:?}", a.timings.total, a.tools.len(), a.text, a.drafts);
        for call in &a.timings.calls {
            eprintln!("    {call}");
        }
        if a.tools.len() == 1 {
            times.push(a.timings.total);
        }
    }
    times.sort_by(f64::total_cmp);
    times
}

/// The store, audit log and retrieval vectors the loop runs on.
struct Cohort {
    store: JourneyStore,
    log: AuditLog,
    embedder: Arc<MiniLm>,
    patient: PatientId,
}

impl Cohort {
    fn retriever(&self) -> ToolRetriever {
        ToolRetriever::new(self.embedder.clone(), &tools::specs()).expect("tool vectors")
    }
}

async fn cohort(dir: &Path, log: AuditLog, registry: &ModelRegistry) -> Cohort {
    let export = dir.join("export");
    synth::generate(&synth::Params { patients: 12, seed: 5, ..Default::default() }, &export).unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.join("journey.sqlite"))).await.unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let minilm = ModelCache::from_env().unwrap().check(&MINILM).expect("MiniLM in the cache: run `rdt setup`");
    cache::pin_model(registry, &Principal::new("bench", Role::Governance), &MINILM, &minilm, "engine benchmark")
        .await
        .unwrap();
    let embedder = Arc::new(MiniLm::load(&minilm, registry, None).await.unwrap());
    let patient = store
        .patients()
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|p| p.events_by_modality.get(&Modality::Lab).copied().unwrap_or(0))
        .unwrap()
        .patient
        .id;
    Cohort { store, log, embedder, patient }
}

async fn measure(
    kind: EngineKind,
    path: &Path,
    registry: &ModelRegistry,
    nonce: &mut usize,
    cohort: &Cohort,
) -> Figures {
    let started = Instant::now();
    let model = engine::load_with(kind, path, registry, &EngineOptions::default()).await.expect("load");
    let mut figures = Figures { load_s: started.elapsed().as_secs_f64(), ..Figures::default() };
    let mut next = || {
        *nonce += 1;
        *nonce
    };
    let run = |request: ChatRequest| {
        let model = &model;
        async move { model.complete(&request, None).await.expect("complete") }
    };
    // Warm-up: first-call allocations and kernel selection.
    run(request(system_prompt(next(), 1), "Hi.", Constraint::Free, 2)).await;

    let short = run(request(system_prompt(next(), 4), "Hi.", Constraint::Free, 1)).await;
    figures.short_prompt = prompt_rate(&short);
    let long_system = system_prompt(next(), 45);
    let long = run(request(long_system.clone(), "Hi.", Constraint::Free, 1)).await;
    figures.long_prompt = prompt_rate(&long);
    let reused = run(request(long_system, "What tools do you have?", Constraint::Free, 1)).await;
    figures.reused_prompt = prompt_rate(&reused);

    let counting = "Count from 1 to 200, separated by commas, nothing else.";
    let free = run(request(system_prompt(next(), 1), counting, Constraint::Free, 128)).await;
    figures.generate = generate_rate(&free);
    let schema = json!({
        "type": "object",
        "properties": {"numbers": {"type": "array", "items": {"type": "integer"}}},
        "required": ["numbers"],
        "additionalProperties": false
    });
    let constrained = run(request(system_prompt(next(), 1), counting, Constraint::JsonSchema(schema), 128)).await;
    figures.constrained = generate_rate(&constrained);
    figures.answers = answer_times(model, cohort).await;
    eprintln!("{kind}: {figures:?}");
    figures
}

fn rate((tokens, seconds): (usize, f64)) -> f64 {
    if seconds > 0.0 {
        tokens as f64 / seconds
    } else {
        f64::NAN
    }
}

fn chosen_model() -> PackagedGguf {
    match std::env::var("RDT_BENCH_MODEL").as_deref() {
        Ok("fast") => QWEN_CODER_0_5B,
        Ok("smallest") => SMOLLM2_135M,
        _ => QWEN_CODER_1_5B,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let model = chosen_model();
    let path = ModelCache::from_env().expect("model cache").gguf_path(&model);
    assert!(path.is_file(), "{} is missing: run `rdt setup --llm all` first", path.display());
    let engines: Vec<EngineKind> = std::env::var("RDT_BENCH_ENGINES")
        .unwrap_or_else(|_| "llama-cpp,mistralrs".into())
        .split(',')
        .map(|s| s.parse().expect("RDT_BENCH_ENGINES: llama-cpp,mistralrs"))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    if let Some(setup) = vs_llama_bench::Setup::from_env() {
        let md = runtime.block_on(vs_llama_bench::run(&setup, &path, model.file_name));
        println!("{md}");
        if let Some(out) = std::env::var_os("RDT_BENCH_OUT") {
            std::fs::write(&out, &md).unwrap();
            eprintln!("wrote {}", PathBuf::from(out).display());
        }
        return;
    }
    let results = runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
        let log = AuditLog::open(&url).await.unwrap();
        let registry = ModelRegistry::new(log.clone());
        let cohort = cohort(dir.path(), log, &registry).await;
        let by = Principal::new("bench", Role::Governance);
        registry.pin_file(&by, ArtifactKind::Llm, &path, None, "engine benchmark").await.unwrap();
        let started = Instant::now();
        registry.verify_file(ArtifactKind::Llm, &path).await.unwrap();
        let verify_s = started.elapsed().as_secs_f64();
        let mut nonce = 0;
        let mut results = Vec::new();
        for kind in &engines {
            results.push((*kind, measure(*kind, &path, &registry, &mut nonce, &cohort).await));
        }
        (verify_s, results)
    });
    let out = std::env::var_os("RDT_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks/engines.md"));
    std::fs::write(&out, report(&model, &results.0, &results.1)).unwrap();
    eprintln!("wrote {}", out.display());
}

fn report(model: &PackagedGguf, verify_s: &f64, results: &[(EngineKind, Figures)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Engines: llama.cpp and mistralrs side by side\n");
    let _ = writeln!(
        md,
        "Both engines run the same GGUF, `{}` ({:.2} GB, sha256 `{}`), one after the other in one run of \
         `cargo bench -p assistant --bench engines` on this project's machine kind (2 vCPU, AVX-512, \
         `target-cpu=native`), 2 threads, context 4,096, greedy decoding. Figures are one measurement each \
         after a warm-up call; this machine is shared, so treat differences under ~15% as noise.\n",
        model.file_name,
        model.size_bytes as f64 / 1e9,
        model.sha256
    );
    let _ = writeln!(
        md,
        "Verifying the file against the model registry (sha256 of the whole file) took **{verify_s:.2} s**; \
         every load here does it (the bench keeps no verified-digest record; an install reuses its record of an \
         unchanged file: docs/benchmarks/assistant-speed.md), and the load times below include it.\n"
    );
    let _ = writeln!(md, "| | {} |", results.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(md, "|---|{}", "---|".repeat(results.len()));
    let row = |md: &mut String, label: &str, cell: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = results.iter().map(|(_, f)| cell(f)).collect();
        let _ = writeln!(md, "| {label} | {} |", cells.join(" | "));
    };
    row(&mut md, "load (s)", &|f| format!("{:.2}", f.load_s));
    row(&mut md, "prompt tok/s, short prompt", &|f| {
        format!("{:.1} ({} tokens)", rate(f.short_prompt), f.short_prompt.0)
    });
    row(&mut md, "prompt tok/s, long prompt", &|f| format!("{:.1} ({} tokens)", rate(f.long_prompt), f.long_prompt.0));
    row(&mut md, "same long system prompt again: prompt time (s)", &|f| format!("{:.2}", f.reused_prompt.1));
    row(&mut md, "generate tok/s (free)", &|f| format!("{:.1} ({} tokens)", rate(f.generate), f.generate.0));
    row(&mut md, "generate tok/s (JSON schema)", &|f| {
        format!("{:.1} ({} tokens)", rate(f.constrained), f.constrained.0)
    });
    row(&mut md, "question to answer, one tool call, warm: p50 / max (s)", &|f| {
        let p50 = f.answers.get(f.answers.len().saturating_sub(1) / 2).copied().unwrap_or(f64::NAN);
        let max = f.answers.last().copied().unwrap_or(f64::NAN);
        format!("{p50:.2} / {max:.2} (n {})", f.answers.len())
    });

    if let (Some((a, fa)), Some((b, fb))) = (results.first(), results.get(1)) {
        let _ = writeln!(md, "\nRatio {a} / {b} (above 1: {a} is faster):\n");
        let ratio = |x: f64, y: f64| {
            if y > 0.0 {
                format!("{:.1}x", x / y)
            } else {
                "-".into()
            }
        };
        let _ = writeln!(md, "- load: {}", ratio(fb.load_s, fa.load_s));
        let _ = writeln!(md, "- prompt, short: {}", ratio(rate(fa.short_prompt), rate(fb.short_prompt)));
        let _ = writeln!(md, "- prompt, long: {}", ratio(rate(fa.long_prompt), rate(fb.long_prompt)));
        let _ = writeln!(md, "- generation: {}", ratio(rate(fa.generate), rate(fb.generate)));
        let _ = writeln!(md, "- constrained generation: {}", ratio(rate(fa.constrained), rate(fb.constrained)));
        let median = |f: &Figures| f.answers.get(f.answers.len().saturating_sub(1) / 2).copied().unwrap_or(f64::NAN);
        let _ = writeln!(md, "- question to answer (p50): {}", ratio(median(fb), median(fa)));
    }
    let _ = writeln!(
        md,
        "\nThe default engine (`assistant::engine::DEFAULT_ENGINE`) is the faster one here. \"Same long \
         system prompt again\" sends the 2,000-token system prompt with another question: llama.cpp keeps \
         the common token prefix in its KV cache, mistralrs has its prefix cache; only the new tokens are \
         evaluated. The counts in brackets are the tokens measured (prompt tokens as each engine counts \
         them, generated tokens up to the cap of 128)."
    );
    md
}
