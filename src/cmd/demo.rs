//! `rdt demo`: the main job on embedded defaults. On an empty store it generates the
//! demo cohort of virtual patients (`synth`, fixed seed) under the data directory and
//! imports it; then it shows what the store holds and one patient's journey; trains the
//! twin when no encoder is active yet (progress bars); creates one demo login per role
//! (passwords generated once, kept in `<data-dir>/demo-logins.txt`, mode 0600); and
//! serves the web pages (`--no-serve` stops after preparing).

use std::process::ExitCode;

use audit_log::{ArtifactKind, ModelRegistry};
use clap::Args;
use journey::text::{showcase, store_counts};

use crate::cmd::import::{import_and_record, print_summary};
use crate::context::Context;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Prepare (cohort, twin, demo logins) and stop, without serving the pages.
    #[arg(long)]
    no_serve: bool,
    /// Do not train the twin on first start.
    #[arg(long)]
    no_train: bool,
    #[command(flatten)]
    serve: crate::cmd::serve::ServeArgs,
}

pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let code = prepare(ctx).await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    if !args.no_train {
        train_if_needed(ctx).await?;
    }
    let logins = web::auth::demo::demo_logins(&ctx.data_dir).await?;
    print!("{}", web::auth::demo::logins_text(&logins, (!args.no_serve).then_some(args.serve.addr)));
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    crate::cmd::serve::run(ctx, args.serve).await
}

/// Trains the twin with the command's defaults when no encoder is active yet.
async fn train_if_needed(ctx: &Context) -> anyhow::Result<()> {
    let log = ctx.audit_log().await?;
    let active = ModelRegistry::new(log.clone()).state().await?.active(ArtifactKind::Encoder).is_some();
    log.close().await;
    if active {
        return Ok(());
    }
    println!("\nNo twin model is active yet: training one on the demo cohort (first start only).");
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        args: crate::cmd::train::TrainArgs,
    }
    let args = <Defaults as clap::Parser>::parse_from(["train", "--as", "rdt-demo"]).args;
    crate::cmd::train::run(ctx, args).await?;
    Ok(())
}

/// Generates and imports the demo cohort into an empty store, then shows a journey.
async fn prepare(ctx: &Context) -> anyhow::Result<ExitCode> {
    let store = ctx.store().await?;
    let counts = store.counts().await?;
    store.close().await;
    if counts.patients == 0 {
        let out = ctx.data_dir.join("demo-cohort");
        println!("The store is empty: generating the demo cohort of virtual patients into {}", out.display());
        let summary = tokio::task::spawn_blocking(move || synth::generate_demo(&out)).await??;
        println!("Generated {} patients; importing them.", summary.patients);
        let (report, seq) =
            import_and_record(ctx, Default::default(), &[summary.out_dir.clone()], Some("rdt-demo".into()), true).await?;
        print_summary(&report, ctx);
        println!("  audit entry: {seq}");
        if report.has_failures() {
            return Ok(ExitCode::from(1));
        }
    }

    let store = ctx.store().await?;
    print!("{}", store_counts(&ctx.database, &store.counts().await?));
    if let Some(p) = showcase(&store.patients().await?) {
        print!("{}", store.journey(&p.patient.id).await?.expect("listed patients exist").showcase_text(25));
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
