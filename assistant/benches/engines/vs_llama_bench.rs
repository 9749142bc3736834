//! The product's llama.cpp engine against llama.cpp's own `llama-bench`, side by side in
//! one run: the same GGUF, the same threads, a prompt of `n_prompt` tokens and `n_gen`
//! generated tokens (pp512 / tg128 by default), repetitions interleaved (the order
//! alternates each repetition), medians and ratios. `llama-bench` runs as a child process
//! between the engine's repetitions, with its defaults otherwise (`-r 1`: one measured
//! run after its own warm-up; extra arguments from `RDT_BENCH_LLAMA_BENCH_ARGS`).
//!
//! The engine is measured through `ChatModel::complete`, the product's path: the chat
//! template, the KV-prefix bookkeeping, the greedy sampler and the detokeniser included,
//! tokenisation not. Its prompt rate is prompt tokens over prompt seconds; each prompt
//! starts with a new session number, so the KV cache keeps only the template's first
//! few tokens of the one before (under 1% of 512). Its generation rate is generated
//! tokens over generation seconds (each token sampled, detokenised and decoded).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use assistant::engine::{self, EngineOptions};
use assistant::{ChatModel, ChatRequest, Constraint, EngineKind, Message, Speaker};
use audit_log::{ArtifactKind, AuditLog, ModelRegistry, Principal, Role};

/// What to run: `RDT_BENCH_LLAMA_BENCH` (the `llama-bench` binary), `RDT_BENCH_REPS`
/// (default 5), `RDT_BENCH_PP` / `RDT_BENCH_TG` (512 / 128), `RDT_BENCH_LLAMA_BENCH_ARGS`.
pub struct Setup {
    pub llama_bench: std::path::PathBuf,
    pub extra_args: Vec<String>,
    pub reps: usize,
    pub n_prompt: usize,
    pub n_gen: usize,
}

impl Setup {
    pub fn from_env() -> Option<Setup> {
        let llama_bench = std::env::var_os("RDT_BENCH_LLAMA_BENCH")?.into();
        let number = |var: &str, default: usize| {
            std::env::var(var).ok().map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{var}: a number"))).unwrap_or(default)
        };
        Some(Setup {
            llama_bench,
            extra_args: std::env::var("RDT_BENCH_LLAMA_BENCH_ARGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect(),
            reps: number("RDT_BENCH_REPS", 5).max(1),
            n_prompt: number("RDT_BENCH_PP", 512),
            n_gen: number("RDT_BENCH_TG", 128),
        })
    }
}

/// One repetition: tokens/s of each side, and the tokens the engine measured.
#[derive(Debug, Clone, Copy)]
struct Rep {
    engine_first: bool,
    engine_pp: f64,
    engine_pp_tokens: usize,
    engine_tg: f64,
    engine_tg_tokens: usize,
    bench_pp: f64,
    bench_tg: f64,
    load: f64,
}

const FILLER: &str = "Tool latest_lab returns the most recent laboratory value of a patient with its unit, \
reference interval and a computed flag. ";

/// A system prompt of about `sentences` filler sentences and `pad` one-token words,
/// starting with a fixed-width session number (so every prompt has the same length).
fn system_text(session: usize, sentences: usize, pad: usize) -> String {
    let mut text = format!("Session {session:05}. You are the RDT assistant.\n");
    for _ in 0..sentences {
        text.push_str(FILLER);
    }
    text.push_str(&" ok".repeat(pad));
    text
}

fn chat(system: String, user: &str, max_tokens: usize) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::new(Speaker::System, system), Message::new(Speaker::User, user)],
        constraint: Constraint::Free,
        max_tokens,
    }
}

const COUNTING: &str = "Count from 1 to 500, separated by commas, nothing else.";

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// `llama-bench -m <gguf> -t <threads> -p <pp> -n <tg> -r 1 -o jsonl`: its pp and tg tokens/s.
fn llama_bench(setup: &Setup, gguf: &Path, threads: usize) -> (f64, f64) {
    let output = Command::new(&setup.llama_bench)
        .arg("-m")
        .arg(gguf)
        .args(["-t", &threads.to_string(), "-p", &setup.n_prompt.to_string(), "-n", &setup.n_gen.to_string()])
        .args(["-r", "1", "-o", "jsonl"])
        .args(&setup.extra_args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", setup.llama_bench.display()));
    assert!(output.status.success(), "llama-bench failed: {}", String::from_utf8_lossy(&output.stderr));
    let (mut pp, mut tg) = (f64::NAN, f64::NAN);
    for line in String::from_utf8_lossy(&output.stdout).lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).expect("llama-bench jsonl");
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        let ts = v["avg_ts"].as_f64().unwrap_or(f64::NAN);
        if n("n_prompt") > 0 && n("n_gen") == 0 {
            pp = ts;
        } else if n("n_gen") > 0 && n("n_prompt") == 0 {
            tg = ts;
        }
    }
    (pp, tg)
}

struct Engine {
    model: std::sync::Arc<dyn ChatModel>,
    session: usize,
    sentences: usize,
    pad: usize,
}

impl Engine {
    async fn complete(&self, request: ChatRequest) -> assistant::Completion {
        self.model.complete(&request, None).await.expect("complete")
    }

    fn next_session(&mut self) -> usize {
        self.session += 1;
        self.session
    }

    /// Prompt tokens/s over a prompt of the calibrated length, and its token count.
    async fn prompt(&mut self) -> (f64, usize) {
        let system = system_text(self.next_session(), self.sentences, self.pad);
        let c = self.complete(chat(system, "Hi.", 1)).await;
        (c.prompt_tokens as f64 / c.prompt_seconds, c.prompt_tokens)
    }

    /// Generation tokens/s over up to `n_gen` tokens, and how many were generated.
    async fn generate(&mut self, n_gen: usize) -> (f64, usize) {
        let system = system_text(self.next_session(), 0, 0);
        let c = self.complete(chat(system, COUNTING, n_gen)).await;
        (c.generated_tokens as f64 / c.generate_seconds, c.generated_tokens)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Runs the side-by-side and returns its markdown report.
pub async fn run(setup: &Setup, gguf: &Path, file_name: &str) -> String {
    let options = EngineOptions::from_env().expect("RDT_LLM_THREADS");
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    let registry = ModelRegistry::new(log);
    let by = Principal::new("bench", Role::Governance);
    registry.pin_file(&by, ArtifactKind::Llm, gguf, None, "engine benchmark").await.unwrap();
    let model = engine::load_with(EngineKind::LlamaCpp, gguf, &registry, &options).await.expect("load");
    let mut engine = Engine { model, session: 0, sentences: setup.n_prompt / 25, pad: 0 };

    // Calibrate the prompt to n_prompt tokens (" ok" is one token), then warm up as
    // llama-bench does (one prompt, one generated token).
    let (_, tokens) = engine.prompt().await;
    if tokens > setup.n_prompt {
        engine.sentences = engine.sentences * setup.n_prompt / tokens;
        let (_, fewer) = engine.prompt().await;
        engine.pad = setup.n_prompt.saturating_sub(fewer);
    } else {
        engine.pad = setup.n_prompt - tokens;
    }
    let (_, calibrated) = engine.prompt().await;
    eprintln!("engine prompt: {calibrated} tokens (asked {})", setup.n_prompt);
    engine.generate(1).await;

    let mut reps = Vec::new();
    for i in 0..setup.reps {
        let engine_first = i % 2 == 0;
        let load = load_average();
        let (mut bench_pp, mut bench_tg) = (f64::NAN, f64::NAN);
        if !engine_first {
            (bench_pp, bench_tg) = llama_bench(setup, gguf, options.threads);
        }
        let (engine_pp, engine_pp_tokens) = engine.prompt().await;
        let (engine_tg, engine_tg_tokens) = engine.generate(setup.n_gen).await;
        if engine_first {
            (bench_pp, bench_tg) = llama_bench(setup, gguf, options.threads);
        }
        let rep = Rep { engine_first, engine_pp, engine_pp_tokens, engine_tg, engine_tg_tokens, bench_pp, bench_tg, load };
        eprintln!("{rep:?}");
        reps.push(rep);
    }
    report(setup, &options, file_name, &reps)
}

fn report(setup: &Setup, options: &EngineOptions, file_name: &str, reps: &[Rep]) -> String {
    let (pp, tg) = (setup.n_prompt, setup.n_gen);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`{file_name}`, {} threads, {} repetitions interleaved (order alternating); engine: `EngineOptions` \
         n_ctx {}, n_batch = n_ubatch {}; llama-bench: `-t {} -p {pp} -n {tg} -r 1{}{}` (its defaults otherwise).\n",
        options.threads,
        reps.len(),
        options.n_ctx,
        options.n_batch,
        options.threads,
        if setup.extra_args.is_empty() { "" } else { " " },
        setup.extra_args.join(" "),
    );
    let _ = writeln!(
        md,
        "| rep | first | engine prompt tok/s (tokens) | llama-bench pp{pp} | engine generate tok/s (tokens) | llama-bench tg{tg} | load avg |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (i, r) in reps.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} ({}) | {:.1} | {:.1} ({}) | {:.1} | {:.1} |",
            i + 1,
            if r.engine_first { "engine" } else { "llama-bench" },
            r.engine_pp,
            r.engine_pp_tokens,
            r.bench_pp,
            r.engine_tg,
            r.engine_tg_tokens,
            r.bench_tg,
            r.load
        );
    }
    let col = |f: fn(&Rep) -> f64| median(reps.iter().map(f).collect());
    let (e_pp, b_pp, e_tg, b_tg) =
        (col(|r| r.engine_pp), col(|r| r.bench_pp), col(|r| r.engine_tg), col(|r| r.bench_tg));
    let _ = writeln!(md, "| median | | {e_pp:.1} | {b_pp:.1} | {e_tg:.1} | {b_tg:.1} | |");
    let pp_pairs = col(|r| r.engine_pp / r.bench_pp);
    let tg_pairs = col(|r| r.engine_tg / r.bench_tg);
    let _ = writeln!(
        md,
        "\nEngine / llama-bench: **prompt {:.2}x**, **generation {:.2}x** (ratio of the medians); the median of \
         the per-repetition ratios: prompt {pp_pairs:.2}x, generation {tg_pairs:.2}x.",
        e_pp / b_pp,
        e_tg / b_tg
    );
    md
}
