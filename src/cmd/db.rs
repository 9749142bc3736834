//! `rdt db migrate --owner-url URL [--app-role ROLE]`: on PostgreSQL, the schema owner
//! migrates every table and grants the application role (the one `RDT_DATABASE_URL`
//! serves as) only what serving needs: it may read and append the audit trail, never
//! change, delete or drop it.

use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Migrate as the schema owner and grant the application role (PostgreSQL).
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
struct MigrateArgs {
    /// The schema owner's connection (postgres://owner:password@host/db).
    #[arg(long, env = "RDT_DATABASE_OWNER_URL", value_name = "URL", hide_env_values = true)]
    owner_url: String,
    /// The role the product serves as: granted SELECT and INSERT on the audit trail,
    /// read and write on the journey tables, nothing on the schema.
    #[arg(long, value_name = "ROLE")]
    app_role: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(args: DbArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DbCommand::Migrate(args) => {
            let setup = journey::store::owner::migrate_as_owner(&args.owner_url, args.app_role.as_deref()).await?;
            super::print(args.json, &setup, || setup.text())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
