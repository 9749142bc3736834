//! A process killed with SIGKILL in the middle of appending leaves a log that still
//! verifies, on SQLite and PostgreSQL.
//!
//! The test binary runs itself as the child (`crash_child`, which does nothing
//! unless `AUDIT_CRASH_CHILD_URL` is set): the child appends batches of `BATCH`
//! entries as fast as it can, signing a head every 1,000 entries, and prints a line
//! as it starts and after it commits each batch. The parent waits for a few commits,
//! then, as soon as the child says it is starting the next batch, kills it with
//! SIGKILL (`Child::kill` on Unix): inside that append (a batch takes milliseconds,
//! reading a line and killing microseconds). Three times over the same database. No sleeps: the kill lands
//! wherever the child is, and the checks hold wherever that is.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use audit_log::{AuditLog, EntryBody, HeadSigner, NewEntry, Principal, Role, SigningPolicy};
use common::{backends, TestDb};

const BATCH: usize = 400;
const CHILD_ENV: &str = "AUDIT_CRASH_CHILD_URL";

/// The child half: appends until killed. A no-op in a normal test run.
#[tokio::test]
async fn crash_child() {
    let Ok(url) = std::env::var(CHILD_ENV) else { return };
    let log = AuditLog::open(&url)
        .await
        .unwrap()
        .with_signer(HeadSigner::from_seed([1; 32]))
        .with_policy(SigningPolicy { every_entries: 1_000, every: std::time::Duration::MAX });
    let mut round = 0u64;
    loop {
        let batch: Vec<NewEntry> = (0..BATCH)
            .map(|i| {
                NewEntry::new(
                    Principal::new("importer", Role::System),
                    EntryBody::Question { question: format!("round {round} entry {i} {}", "x".repeat(200)), reading: None, follows: None },
                )
            })
            .collect();
        println!("appending {round}");
        log.append_batch(batch).await.unwrap();
        round += 1;
        println!("committed {round}");
    }
}

fn run_child_until_killed(url: &str, commits_before_kill: u64) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut commits = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("committed ") {
            commits += 1;
        }
        // The child has just entered its next append: kill it there.
        if line.starts_with("appending ") && commits >= commits_before_kill {
            break;
        }
    }
    assert!(commits >= commits_before_kill, "the child stopped before committing {commits_before_kill} batches");
    // Child::kill sends SIGKILL on Unix: no destructor, no rollback, no flush.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "the child must die of SIGKILL, not exit: {status:?}");
}

#[tokio::test]
async fn sigkill_mid_append_leaves_a_verifying_log() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        // Migrate once up front, so every child starts appending at once.
        let log = db.log().await;
        for (round, commits) in [(0, 3), (1, 5), (2, 4)] {
            run_child_until_killed(&db.url, commits);
            let report = log.verify(&HeadSigner::from_seed([1; 32]).trusted()).await.unwrap();
            eprintln!("{backend:?}: {} entries, {} heads after kill {round}", report.size, report.heads_checked);
            assert!(report.is_ok(), "{backend:?} after kill {round}: {:#?}", report.problems);
            // Batches are all or nothing: a torn batch would leave a size that is
            // not a multiple of BATCH.
            assert_eq!(report.size % BATCH as u64, 0, "{backend:?} after kill {round}: size {}", report.size);
            assert!(report.heads_checked > 0, "{backend:?}: the child signed heads");
        }
        // The log goes on after the crashes.
        log.append(NewEntry::new(Principal::new("a", Role::Auditor), EntryBody::Access { action: "verify".into(), detail: None }))
            .await
            .unwrap();
        log.sign_head().await.unwrap();
        let report = log.verify(&HeadSigner::from_seed([1; 32]).trusted()).await.unwrap();
        assert!(report.is_ok() && report.unsigned_tail == 0, "{backend:?}: {:#?}", report);
        log.close().await;
        db.drop_db().await;
    }
}
