//! `rdt demo`: the main job on embedded defaults. On an empty store it generates the
//! demo cohort of virtual patients (`synth`, fixed seed) under the data directory and
//! imports it; then it shows what the store holds and one patient's journey; trains the
//! twin when no encoder is active yet (progress bars); creates one demo login per role
//! (passwords generated once, kept in `<data-dir>/demo-logins.txt`, mode 0600); and
//! serves the web pages (`--no-serve` stops after preparing).

use std::process::ExitCode;

use audit_log::{ArtifactKind, ModelRegistry, Role};
use clap::Args;
use journey::Modality;
use web::auth::UserStore;

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
    let logins = demo_logins(ctx).await?;
    if args.no_serve {
        print_logins(&logins, None);
        return Ok(ExitCode::SUCCESS);
    }
    print_logins(&logins, Some(args.serve.addr));
    crate::cmd::serve::run(ctx, args.serve).await
}

/// The demo's users, one per role: (name, role, password).
const DEMO_USERS: [(&str, Role); 4] =
    [("clinician", Role::Clinician), ("auditor", Role::Auditor), ("governance", Role::Governance), ("admin", Role::Admin)];

/// Creates the demo users on first start with fresh random passwords, kept in
/// `demo-logins.txt` so later starts can print them again.
async fn demo_logins(ctx: &Context) -> anyhow::Result<Vec<(String, String, String)>> {
    let file = ctx.data_dir.join("demo-logins.txt");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let rows: Vec<(String, String, String)> = text
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                Some((it.next()?.to_owned(), it.next()?.to_owned(), it.next()?.to_owned()))
            })
            .collect();
        if rows.len() == DEMO_USERS.len() {
            return Ok(rows);
        }
    }
    let users = UserStore::open(&UserStore::path_in(&ctx.data_dir)).await?;
    let mut rows = Vec::new();
    for (name, role) in DEMO_USERS {
        let mut bytes = [0u8; 9];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
        let password = format!("demo-{}", hex::encode(bytes));
        users.add(name, role, &password, &[], true).await?;
        rows.push((name.to_owned(), role.as_str().to_owned(), password));
    }
    users.close().await;
    let text: String = rows.iter().map(|(n, r, p)| format!("{n} {r} {p}\n")).collect();
    std::fs::write(&file, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(rows)
}

fn print_logins(rows: &[(String, String, String)], addr: Option<std::net::SocketAddr>) {
    match addr {
        Some(a) => println!("\nRDT demo at http://{a}/ — demo logins (user / password):"),
        None => println!("\nDemo logins for `rdt serve` (user / password):"),
    }
    for (name, role, password) in rows {
        println!("  {role:<11} {name:<11} {password}");
    }
}

/// Trains the twin with the command's defaults when no encoder is active yet.
async fn train_if_needed(ctx: &Context) -> anyhow::Result<()> {
    let log = crate::cmd::audit::open_signing(ctx).await?;
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
            import_and_record(ctx, &[summary.out_dir.clone()], Some("rdt-demo".into()), true).await?;
        print_summary(&report, ctx);
        println!("  audit entry: {seq}");
        if report.has_failures() {
            return Ok(ExitCode::from(1));
        }
    }

    let store = ctx.store().await?;
    let counts = store.counts().await?;
    let patients = store.patients().await?;
    println!("\n{} holds {} patients and {} events:", ctx.database, counts.patients, counts.events);
    for (modality, n) in &counts.events_by_modality {
        println!("  {:<18} {n:>10}", modality.as_str());
    }
    // A rheumatology journey worth showing: disease activity scores and notes.
    let shown = patients
        .iter()
        .filter(|p| p.events_by_modality.contains_key(&Modality::DiseaseActivity))
        .max_by_key(|p| p.events_by_modality.get(&Modality::Note).copied().unwrap_or(0))
        .or(patients.first());
    if let Some(p) = shown {
        let journey = store.journey(&p.patient.id).await?.expect("listed patients exist");
        println!(
            "\nJourney of {} ({}), {} events; the first 25:",
            p.patient.id,
            p.patient.name.as_deref().unwrap_or("no name"),
            journey.events.len()
        );
        for e in journey.events.iter().take(25) {
            let value = e.value.as_ref().map(|v| format!(" = {}", v.value)).unwrap_or_default();
            let display = e.code.display.as_deref().unwrap_or(&e.code.code);
            println!("  {}  {:<16} {:<5} {display}{value}", e.time.format("%Y-%m-%d"), e.modality.as_str(), e.phase.as_str());
        }
        println!("\nAlso: rdt journey {} | rdt patients | rdt audit verify", p.patient.id);
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
