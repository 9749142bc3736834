//! The README's main job: `rdt demo` on an empty install generates the demo cohort,
//! imports it and shows a journey; run again, it adds nothing.

mod common;

use common::Rdt;

#[test]
fn demo_fills_an_empty_store_once() {
    let rdt = Rdt::new();
    // `--no-serve`: prepare and stop instead of serving the pages; `--no-train`: the
    // twin's training is tested elsewhere (tests/twin_cli.rs).
    let out = rdt.run(&["demo", "--no-serve", "--no-train"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("generating the demo cohort"), "{stdout}");
    assert!(stdout.contains("Journey of "), "{stdout}");
    for role in ["clinician", "auditor", "governance", "admin"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(role)),
            "a demo login for {role}: {stdout}"
        );
    }

    let (patients, _) = rdt.run_json(&["patients", "--json"]);
    let patients = patients.as_array().unwrap();
    assert_eq!(patients.len(), synth::params::DEMO_PATIENTS);
    let with_das28 = patients.iter().filter(|p| {
        p["events_by_modality"]["disease_activity"]
            .as_u64()
            .unwrap_or(0)
            > 0
    });
    assert!(
        with_das28.count() > synth::params::DEMO_PATIENTS / 2,
        "most demo patients have disease activity scores"
    );

    let again = rdt.run(&["demo", "--no-serve", "--no-train"]);
    assert_eq!(again.status.code(), Some(0));
    let again_out = String::from_utf8_lossy(&again.stdout);
    assert!(
        !again_out.contains("generating"),
        "a second run reuses the store"
    );
    let logins = |s: &str| {
        s.lines()
            .filter(|l| l.starts_with("  ") && l.contains(" demo-"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        logins(&again_out),
        logins(&stdout),
        "the same demo logins are printed again"
    );
    let second = rdt.run(&["audit", "show", "1"]);
    assert_ne!(
        second.status.code(),
        Some(0),
        "only one import was recorded"
    );
    assert!(String::from_utf8_lossy(&second.stderr).contains("no entry #1"));
}
