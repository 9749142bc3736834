//! After a write: the twins catch up, then the pages' cohort is reloaded.
//!
//! Every write through the server (an admin's upload, a FHIR post) calls
//! [`catch_up_after_write`] while it still holds the store's write turn
//! ([`AppState::store_writes`]): the touched patients' index points are fresh before the
//! next write starts and before a FHIR post is answered. The cohort the pages and the
//! chat read (twin, index, population, held in memory) is then reloaded in the
//! background; questions meanwhile are answered from the previous one.

use twin_core::index::catch_up::{catch_up_install, CatchUp};

use crate::app::AppState;

/// Catches the install's index up with the store's change feed and starts the
/// reload of the pages' cohort; returns what the catch-up did, or why it failed (the
/// write itself is committed either way, and the feed keeps the patients for the next
/// catch-up).
pub async fn catch_up_after_write(state: &AppState) -> Result<CatchUp, String> {
    let config = state.config();
    let caught = catch_up_install(state.store(), &config.data_dir, &state.registry(), &config.index, |_| {})
        .await
        .map_err(|e| tools::cause_chain(&e));
    let tools = state.tools();
    tokio::spawn(async move {
        if let Some(Err(why)) = tools.refresh_cohort().await {
            eprintln!("The pages' cohort did not reload after a write: {why}");
        }
    });
    caught
}
