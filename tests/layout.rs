//! The architecture's dependency rule, checked on the workspace's manifests (what
//! `cargo tree` would show): web -> assistant -> tools -> twin-core -> journey, each
//! crate using only the rooms below it; audit-log used by all and using none of ours;
//! `synth` (the virtual hospital, a test harness for the product) reached by product
//! crates only as a dev-dependency. A new edge that breaks the rule fails here, naming
//! the crate and the dependency, before it spreads.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// The RDT crates each product crate may use in normal and build dependencies.
/// Crates not listed here (the `rdt` binary, the evaluation harness) may use any.
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let rooms: [(&str, &[&str]); 8] = [
        ("audit-log", &[]),
        ("journey", &["audit-log"]),
        ("synth", &["journey"]),
        ("twin-core", &["journey", "audit-log"]),
        ("tools", &["twin-core", "journey", "audit-log"]),
        ("prompts", &["audit-log"]),
        ("assistant", &["tools", "twin-core", "journey", "prompts", "audit-log"]),
        ("web", &["assistant", "tools", "twin-core", "journey", "prompts", "audit-log"]),
    ];
    rooms.into_iter().map(|(krate, uses)| (krate, uses.iter().copied().collect())).collect()
}

#[test]
fn dependencies_point_one_way() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let members: BTreeSet<String> =
        metadata["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    let allowed = allowed();
    for krate in allowed.keys() {
        assert!(members.contains(*krate), "the rule names `{krate}`, which is no longer a workspace member");
    }

    let mut broken = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let Some(may_use) = allowed.get(name) else { continue };
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            let kind = dep["kind"].as_str().unwrap_or("normal");
            if !members.contains(dep_name) || kind == "dev" {
                continue;
            }
            if !may_use.contains(dep_name) {
                broken.push(format!("{name} -> {dep_name} ({kind})"));
            }
        }
    }
    assert!(broken.is_empty(), "dependencies against the architecture's direction: {broken:?}");
}
