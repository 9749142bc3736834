//! `rdt audit` and `rdt models` end to end: the real binary in a temporary data
//! directory (SQLite). The audit-log crate's own suites (`audit-log/tests/`) cover
//! tampering, crashes and proofs on SQLite and PostgreSQL; these check the commands.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn rdt(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdt"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RDT_DATABASE_URL")
        .env_remove("RDT_USER")
        .output()
        .expect("run rdt")
}

fn ok_json(data_dir: &Path, args: &[&str]) -> Value {
    let out = rdt(data_dir, args);
    assert!(out.status.success(), "rdt {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("rdt {args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// An unpinned model file is refused with a clear message; pin, activate, a second
/// version, rollback: the first version is active again, the trail shows every
/// change with who and why, verifies, and proves each entry.
#[test]
fn models_pin_activate_rollback_and_the_trail_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v1 = dir.path().join("qwen-v1.gguf");
    let v2 = dir.path().join("qwen-v2.gguf");
    std::fs::write(&v1, b"weights one").unwrap();
    std::fs::write(&v2, b"weights two").unwrap();
    let (v1s, v2s) = (v1.to_str().unwrap(), v2.to_str().unwrap());

    let refused = rdt(&data, &["models", "check", v1s, "--kind", "llm"]);
    assert_eq!(refused.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("not pinned") && msg.contains("qwen-v1.gguf"), "{msg}");

    let who = ["--as", "grace", "--reason", "validated on the 2024 cohort"];
    let pin1 = ok_json(&data, &[&["models", "pin", v1s, "--kind", "llm", "--json"][..], &who].concat());
    let sha1 = pin1["pinned"]["sha256"].as_str().unwrap().to_owned();
    let pin2 = ok_json(&data, &[&["models", "pin", v2s, "--kind", "llm", "--json"][..], &who].concat());
    let sha2 = pin2["pinned"]["sha256"].as_str().unwrap().to_owned();
    assert_ne!(sha1, sha2);
    ok_json(&data, &["models", "check", v1s, "--kind", "llm", "--json"]);

    // Only the governance role may change the registry.
    let clinician = rdt(&data, &["models", "activate", &sha1, "--kind", "llm", "--as", "dr.a", "--role", "clinician", "--reason", "x"]);
    assert_eq!(clinician.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&clinician.stderr).contains("governance role"));

    ok_json(&data, &[&["models", "activate", &sha1, "--kind", "llm", "--json"][..], &who].concat());
    ok_json(&data, &[&["models", "activate", &sha2, "--kind", "llm", "--json"][..], &who].concat());
    let back = ok_json(
        &data,
        &["models", "rollback", "--kind", "llm", "--as", "grace", "--reason", "v2 misreads DAS28", "--json"],
    );
    assert_eq!(back["active"]["sha256"], sha1.as_str());
    let list = ok_json(&data, &["models", "list", "--json"]);
    let status_of = |sha: &str| list.as_array().unwrap().iter().find(|a| a["sha256"] == sha).unwrap()["status"].clone();
    assert_eq!(status_of(&sha1), "active");
    assert_eq!(status_of(&sha2), "pinned");

    // The trail: 5 changes, all under a signed head, verifying.
    let verify = ok_json(&data, &["audit", "verify", "--json"]);
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["report"]["size"], 5);
    assert_eq!(verify["report"]["unsigned_tail"], 0);
    let rollback_seq = back["audit_seq"].as_u64().unwrap();
    let shown = ok_json(&data, &["audit", "show", &rollback_seq.to_string(), "--json"]);
    assert_eq!(shown["verified"], true);
    assert_eq!(shown["entry"]["kind"], "model_rolled_back");
    assert_eq!(shown["entry"]["principal"]["user"], "grace");
    assert_eq!(shown["entry"]["change"]["reason"], "v2 misreads DAS28");
    assert_eq!(shown["entry"]["change"]["previous_active"], sha2.as_str());
    assert!(shown["signed_tree_head"].is_object());

    // FHIR export: one AuditEvent per entry (+ Provenance for registry changes).
    let out_path = dir.path().join("trail.ndjson");
    let exported = rdt(&data, &["audit", "export", "--format", "ndjson", "--out", out_path.to_str().unwrap(), "--as", "ada"]);
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let lines: Vec<Value> = std::fs::read_to_string(&out_path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events = lines.iter().filter(|r| r["resourceType"] == "AuditEvent").count();
    let provenances = lines.iter().filter(|r| r["resourceType"] == "Provenance").count();
    assert_eq!((events, provenances), (5, 5));
    // The export itself is in the trail.
    let after = ok_json(&data, &["audit", "show", "5", "--json"]);
    assert_eq!(after["entry"]["action"], "audit_export");
    assert_eq!(after["entry"]["principal"]["user"], "ada");

    let bundle = ok_json(&data, &["audit", "export", "--format", "json"]);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 11);
}

/// `rdt audit show` of an entry that does not exist exits 1; `sign` puts the tail
/// under a head; the key file is private.
#[test]
fn show_missing_entry_sign_and_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let missing = rdt(&data, &["audit", "show", "3"]);
    assert_eq!(missing.status.code(), Some(1));
    let head = ok_json(&data, &["audit", "sign", "--json"]);
    assert_eq!(head["size"], 0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("keys/audit-ed25519.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let verify = ok_json(&data, &["audit", "verify", "--json"]);
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["report"]["heads_checked"], 1);
}

/// An auditor keeps heads outside the install (`rdt audit export-head`) and verifies
/// against them; the install's own witness file holds every head it signed.
#[test]
fn exported_heads_witness_the_log() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/synthea-r4");
    let out = rdt(dir, &["import", fixtures.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let head = ok_json(dir, &["audit", "export-head"]);
    assert!(head["size"].as_u64().unwrap() >= 1 && head["signature"].is_string(), "{head}");
    let kept = dir.join("auditor-heads.jsonl");
    std::fs::write(&kept, format!("{head}\n")).unwrap();
    let report = ok_json(dir, &["audit", "verify", "--witness", kept.to_str().unwrap(), "--json"]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["report"]["witnessed_heads"], 1, "{report}");
    let own = std::fs::read_to_string(dir.join("audit-heads.jsonl")).unwrap();
    assert_eq!(own.lines().count(), 1, "the install witnessed the head it signed");
}

/// Adding a user and replacing their role and scope are access decisions: each is in
/// the trail with the scope, a replacement with what it was before.
#[test]
fn user_changes_are_audited_with_their_scope() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let user = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rdt"))
            .arg("--data-dir")
            .arg(dir)
            .arg("user")
            .args(args)
            .env("RDT_PASSWORD", "a long enough password")
            .env("RDT_USER", "root-admin")
            .env_remove("RDT_DATABASE_URL")
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = user(args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    // Scope is explicit: no patients named and no --all-patients is refused.
    let unscoped = user(&["add", "bob", "--role", "clinician"]);
    assert_eq!(unscoped.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unscoped.stderr).contains("say which patients"));
    ok(&["add", "ann", "--role", "clinician", "--patient", "p-1"]);
    ok(&["add", "ann", "--role", "auditor", "--all-patients", "--replace"]);
    ok(&["disable", "ann"]);
    let listed = ok_json(dir, &["user", "list", "--json"]);
    assert!(listed[0]["disabled_at"].is_string(), "{listed}");
    ok(&["enable", "ann"]);
    let first = ok_json(dir, &["audit", "show", "0", "--json"]);
    assert_eq!(first["entry"]["action"], "user_added");
    assert_eq!(first["entry"]["detail"], "ann as clinician (patients: p-1)");
    assert_eq!(first["entry"]["principal"]["user"], "root-admin");
    let second = ok_json(dir, &["audit", "show", "1", "--json"]);
    assert_eq!(second["entry"]["action"], "user_replaced");
    assert_eq!(second["entry"]["detail"], "ann: clinician (patients: p-1) -> auditor (all patients)");
    let actions: Vec<Value> =
        (2..4).map(|seq| ok_json(dir, &["audit", "show", &seq.to_string(), "--json"])["entry"]["action"].clone()).collect();
    assert_eq!(actions, ["user_disabled", "user_enabled"]);
}

fn rdt_pinned(data_dir: &Path, pin: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdt"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RDT_DATABASE_URL")
        .env_remove("RDT_USER")
        .env("RDT_AUDIT_TRUSTED_KEYS", pin)
        .output()
        .expect("run rdt")
}

/// The trusted key pinned outside the data directory: whoever can write the data
/// directory swaps in their own signing key and re-signs; with the pin, the install
/// refuses to sign with that key, and verify and show reject heads it signed.
#[test]
fn a_pinned_trusted_key_outside_the_data_dir_defeats_a_swapped_signing_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let weights = dir.path().join("w.gguf");
    std::fs::write(&weights, b"weights").unwrap();
    let who = ["--as", "grace", "--reason", "validated"];
    ok_json(&data, &[&["models", "pin", weights.to_str().unwrap(), "--kind", "llm", "--json"][..], &who].concat());
    ok_json(&data, &["audit", "sign", "--json"]);

    // The auditor keeps the install's public key elsewhere (a comment line is fine).
    let pin = dir.path().join("auditor").join("trusted-keys.txt");
    std::fs::create_dir_all(pin.parent().unwrap()).unwrap();
    let public = std::fs::read_to_string(data.join("keys/audit-ed25519.pub")).unwrap();
    std::fs::write(&pin, format!("# RDT install at {}\n{public}", data.display())).unwrap();
    let out = rdt_pinned(&data, &pin, &["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let shown = rdt_pinned(&data, &pin, &["audit", "show", "0", "--json"]);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stdout));
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["signed_by_trusted_key"], true);

    // Someone with the data directory replaces the key (the next open makes a new one)
    // and re-signs without the pin.
    std::fs::remove_file(data.join("keys/audit-ed25519.key")).unwrap();
    std::fs::remove_file(data.join("keys/audit-ed25519.pub")).unwrap();
    ok_json(&data, &["audit", "sign", "--json"]);

    // With the pin, that key may not sign, and its heads are not trusted.
    let refused = rdt_pinned(&data, &pin, &["audit", "sign"]);
    assert_eq!(refused.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("not among the pinned trusted keys"), "{msg}");
    let verify = rdt_pinned(&data, &pin, &["audit", "verify", "--json"]);
    assert_eq!(verify.status.code(), Some(1), "{}", String::from_utf8_lossy(&verify.stdout));
    let shown = rdt_pinned(&data, &pin, &["audit", "show", "0", "--json"]);
    assert_eq!(shown.status.code(), Some(1));
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!((shown["signed_by_trusted_key"].clone(), shown["verified"].clone()), (Value::Bool(false), Value::Bool(false)));

    // A pin file that is not keys is refused naming the line.
    std::fs::write(&pin, "# keys\nnot-a-key\n").unwrap();
    let bad = rdt_pinned(&data, &pin, &["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("trusted-keys.txt, line 2"), "{msg}");
}
