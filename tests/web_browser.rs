//! End to end in a real headless Chromium (Debian's chromium + chromium-driver,
//! installed by scripts/chromium.sh) driven over WebDriver (fantoccini): a clinician
//! logs in, opens a patient's journey, asks the default model a question in the chat
//! panel and sees the streamed answer with its audit link, then the consult summary;
//! an auditor opens that answer's trace and its inclusion proof verifies; governance
//! rolls a model back; a clinician trying an auditor page gets 403. The install has a
//! tiny twin, its neighbour index and a state model (trained by the `rdt` binary), so
//! the consult summary shows its cohort, treatment options (with their plot) and
//! forecast. Screenshots of each page, at
//! 1280 px and on a 390 px phone (`NAME-phone.png`), go to
//! `$CARGO_TARGET_DIR/screenshots/` (or RDT_SCREENSHOT_DIR).
//!
//! Chance is removed: a fixed-seed virtual cohort, a fresh Chromium profile, waits on
//! elements (WebDriver's own polling) and on chromedriver's own "started" line, never
//! on time. Skipped when chromedriver is missing unless RDT_REQUIRE_BROWSER=1
//! (scripts/test.sh sets it); the chat step needs the models of `rdt setup` and is
//! skipped, saying so, without them unless RDT_REQUIRE_MODELS=1.

use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use assistant::install::{build_governed, ModelChoice, ModelPick};
use audit_log::{ArtifactKind, ArtifactRef, Digest, Principal, Role};
use fantoccini::{ClientBuilder, Locator};
use tools::ToolContext;
use journey::fhir::{Importer, NoProgress};
use twin_core::models::{cache, ModelCache, MINILM};
use assistant::gguf::{QWEN_CODER_1_5B};
use assistant::gguf::GgufCache as _;
use assistant::gguf as llm;
use twin_core::index::IndexConfig;
use journey::{Database, JourneyStore};

struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The chat panel's assistant: the default model over the install's own store and
/// audit log (weights pinned in its registry, as `rdt setup` does), or why not.
async fn chat_assistant(state: &web::AppState) -> web::AssistantSlot {
    let models = ModelCache::from_env().unwrap();
    let (minilm, gguf) = match (models.check(&MINILM), models.check_gguf(&QWEN_CODER_1_5B)) {
        (Ok(m), Ok(g)) => (m, g),
        (m, g) => {
            let why = format!("{:?} / {:?}", m.err().map(|e| e.to_string()), g.err().map(|e| e.to_string()));
            assert!(std::env::var("RDT_REQUIRE_MODELS").as_deref() != Ok("1"), "models missing: {why}");
            eprintln!("SKIPPED the chat step: models not in the cache ({why}); run `rdt setup`");
            return web::AssistantSlot::Unavailable(why);
        }
    };
    let registry = state.registry();
    let by = Principal::new("browser-test", Role::Governance);
    cache::pin_model(&registry, &by, &MINILM, &minilm, "browser test").await.unwrap();
    llm::pin_gguf(&registry, &by, &QWEN_CODER_1_5B, &gguf, "browser test").await.unwrap();
    // The chat answers with the registry's active LLM, as `rdt serve` does.
    registry.activate(&by, ArtifactKind::Llm, &gguf.sha256, "browser test").await.unwrap();
    let choice = ModelChoice { engine: None, pick: ModelPick::Active };
    let data_dir = state.config().data_dir.clone();
    let governed = build_governed(&data_dir, state.tools(), state.audit().clone(), &choice).await.unwrap();
    web::AssistantSlot::Ready(Arc::new(governed))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_four_roles_in_a_real_browser() {
    let driver_bin = std::env::var("RDT_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    if Command::new(&driver_bin).arg("--version").output().is_err() {
        assert!(std::env::var("RDT_REQUIRE_BROWSER").is_err(), "chromedriver missing: run scripts/chromium.sh");
        eprintln!("skipped: no chromedriver (scripts/chromium.sh installs it)");
        return;
    }
    let shots = std::env::var("RDT_SCREENSHOT_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("screenshots")
    });
    std::fs::create_dir_all(&shots).unwrap();

    // The install: 200 virtual patients (enough for 20 similar patients to have taken some options, and for the option head) with a tiny twin, its index and a state model,
    // one user per role, two more encoder activations for governance to roll back.
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    synth::generate(&synth::Params { patients: 200, seed: 11, ..Default::default() }, &export).unwrap();
    let database = Database::resolve(None, dir.path()).unwrap();
    let store = JourneyStore::open(&database).await.unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let patient = store
        .patients()
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|p| p.events_by_modality.get(&journey::Modality::DiseaseActivity).copied().unwrap_or(0))
        .unwrap()
        .patient
        .id;
    store.close().await;
    let rdt = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rdt"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("RDT_DATABASE_URL")
            .env_remove("RDT_QDRANT_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "rdt {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    rdt(&["train", "--pretrain-epochs", "1", "--fusion-epochs", "1", "--hidden", "16", "--max-events", "32"]);
    rdt(&["embed"]);
    rdt(&["forecast", "--patient", patient.as_str(), "--as", "browser-test"]);
    let state = web::AppState::open(web::WebConfig::new(dir.path().to_owned(), database)).await.unwrap();
    let index = IndexConfig::local(dir.path());
    let tools = ToolContext::for_install(state.store().clone(), dir.path(), &index, &state.registry()).await.unwrap();
    state.set_tools(tools);
    for (name, role) in [("clin", Role::Clinician), ("aud", Role::Auditor), ("gov", Role::Governance), ("adm", Role::Admin)] {
        state.users().add(name, role, "browser-test-password", &web::auth::PatientAccess::All, false).await.unwrap();
    }
    let gov = Principal::new("gov", Role::Governance);
    for name in ["twin-a", "twin-b"] {
        let sha256 = Digest::of(name.as_bytes());
        let a = ArtifactRef { kind: ArtifactKind::Encoder, sha256, name: name.into(), size_bytes: None };
        state.registry().pin(&gov, a, "browser test").await.unwrap();
        state.registry().activate(&gov, ArtifactKind::Encoder, &sha256, "browser test").await.unwrap();
    }
    let slot = chat_assistant(&state).await;
    let with_chat = matches!(slot, web::AssistantSlot::Ready(_));
    state.set_assistant(slot);
    let listener = web::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(web::serve_on(listener, state.clone()));

    let port = free_port();
    let mut child =
        Command::new(&driver_bin).arg(format!("--port={port}")).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    // chromedriver says when it listens; read up to that line (it ends the wait, not a timer).
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let started = lines.by_ref().map_while(Result::ok).any(|l| l.contains("started successfully"));
    assert!(started, "chromedriver exited before it said it had started");
    std::thread::spawn(move || lines.for_each(drop));
    let _driver = Driver(child);
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    let args = vec![
        "--headless".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1280,900".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut chrome = serde_json::json!({ "args": args });
    if let Ok(bin) = std::env::var("RDT_CHROMIUM") {
        chrome["binary"] = bin.into();
    }
    caps.insert("goog:chromeOptions".into(), chrome);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with chromedriver");
    // Each page at 1280 px, then on a 390 px phone (where nothing may widen the page
    // past the screen: wide tables and code scroll or wrap inside their boxes), then
    // back; `at` (a CSS selector) is scrolled into view first.
    let shot_at = |name: &'static str, at: Option<&'static str>| {
        let c = c.clone();
        let shots = shots.clone();
        async move {
            let scroll = || async {
                if let Some(at) = at {
                    c.execute("document.querySelector(arguments[0]).scrollIntoView()", vec![at.into()]).await.unwrap();
                }
            };
            scroll().await;
            std::fs::write(shots.join(format!("{name}.png")), c.screenshot().await.unwrap()).unwrap();
            c.set_window_size(390, 844).await.unwrap();
            scroll().await;
            std::fs::write(shots.join(format!("{name}-phone.png")), c.screenshot().await.unwrap()).unwrap();
            let widths = c
                .execute("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]", vec![])
                .await
                .unwrap();
            let [page, screen] = [widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap()];
            assert!(page <= screen, "{name} at 390 px is {page} px wide: it scrolls sideways on a phone");
            c.set_window_size(1280, 900).await.unwrap();
        }
    };
    let shot = |name: &'static str| shot_at(name, None);
    let login = |user: &'static str| {
        let c = c.clone();
        let base = base.clone();
        async move {
            c.goto(&format!("{base}/login")).await.unwrap();
            c.find(Locator::Id("name")).await.unwrap().send_keys(user).await.unwrap();
            c.find(Locator::Id("password")).await.unwrap().send_keys("browser-test-password").await.unwrap();
            c.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
        }
    };
    let logout = || {
        let c = c.clone();
        async move {
            c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
            c.wait().for_element(Locator::Id("login-form")).await.unwrap();
        }
    };

    // Clinician: list, journey with its plot, consult summary, and 403 on the audit trail.
    c.goto(&format!("{base}/login")).await.unwrap();
    shot("login").await;
    login("clin").await;
    c.wait().for_element(Locator::Id("patients")).await.unwrap();
    shot("patients").await;
    c.find(Locator::Css(&format!("a[href='/patients/{}']", patient.as_str()))).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("#journey-plot svg")).await.unwrap();
    shot("journey").await;

    // The chat panel: the answer streams in, then shows its tools, versions and audit entry.
    let mut answer_trace = None;
    if with_chat {
        c.find(Locator::Id("chat-question")).await.unwrap().send_keys("What is the latest CRP?").await.unwrap();
        c.find(Locator::Id("chat-ask")).await.unwrap().click().await.unwrap();
        // The default model on 2 cores takes seconds to a minute: WebDriver polls, bounded.
        let answer = c
            .wait()
            .at_most(Duration::from_secs(600))
            .for_element(Locator::Css(".chat-final"))
            .await
            .expect("the streamed answer arrives");
        let text = answer.find(Locator::Css(".chat-text")).await.unwrap().text().await.unwrap();
        assert!(text.contains("mg/L"), "a CRP answer names its unit: {text}");
        assert!(answer.find(Locator::Css(".chat-refusal")).await.is_err(), "the record has CRP values: {text}");
        let tools = answer.find(Locator::Css(".chat-tools summary")).await.unwrap().text().await.unwrap();
        assert!(tools.contains("lab_trend"), "the lab tool answered: {tools}");
        let link = answer.find(Locator::Css("a.audit-link")).await.unwrap();
        answer_trace = Some(link.attr("href").await.unwrap().expect("the answer links its audit entry"));
        shot_at("chat", Some(".chat-final")).await;
    }
    c.find(Locator::Id("consult-link")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("consult-title")).await.unwrap();
    // The install's twin finds the patient's neighbours; the state model forecasts.
    let cohort = c.find(Locator::Id("cohort-table")).await.expect("the consult shows the in silico cohort");
    let cohort_text = cohort.text().await.unwrap();
    assert!(cohort_text.contains("Snapshot baseline") && cohort_text.contains("Twin head"), "{cohort_text}");
    // `rdt embed` fitted the twin head: its reliability plots sit in the method section.
    let plots = c.find_all(Locator::Css("#cohort-method svg")).await.unwrap();
    assert!(!plots.is_empty(), "the consult's method section plots the twin head's reliability");
    assert!(c.find(Locator::Id("head-missing")).await.is_err(), "the install's head loads");
    c.find(Locator::Id("forecast-table")).await.expect("the consult shows the state-model forecast");
    // The treatment options (compare_treatments): every option in a row, the plot with
    // one line per option (marks for those with enough patients, "not enough patients"
    // for the others), the observational caveat and the method.
    let options = c.find(Locator::Id("options-table")).await.expect("the consult shows the treatment options");
    let options_text = options.text().await.unwrap();
    for option in ["methotrexate", "TNF inhibitor", "JAK inhibitor", "rituximab", "abatacept"] {
        assert!(options_text.contains(option), "{option} in {options_text}");
    }
    let caveat = c.find(Locator::Id("options-caveat")).await.unwrap().text().await.unwrap();
    assert!(caveat.contains("Observational") && caveat.contains("not randomised"), "{caveat}");
    c.find(Locator::Id("options-method")).await.expect("the method, collapsed");
    let plot = c.find(Locator::Css("#options-plot svg")).await.expect("the options plot");
    let title = plot.find(Locator::Css("title")).await.unwrap().prop("textContent").await.unwrap().unwrap_or_default();
    assert!(title.contains("EULAR response at 6 months"), "{title}");
    let rows = c.find_all(Locator::Css("#options-plot svg g.option")).await.unwrap();
    assert_eq!(rows.len(), 8, "one line per option on the plot");
    let marked = c.find_all(Locator::Css("#options-plot svg g.similar")).await.unwrap().len();
    let without = c.find_all(Locator::Css("#options-plot svg g.not-enough")).await.unwrap().len();
    assert!(options_text.matches("not enough comparable patients").count() == without, "{options_text}");
    eprintln!("options plot: {marked} options with marks, {without} without enough patients");
    assert!(without < 8, "200 patients give at least one option 20 similar patients who took it: {options_text}");
    // The DAS28 panel (the counterfactual head first), one line per option; the page
    // names the head's best option or says why there is no head.
    let das28 = c.find(Locator::Css("#options-das28-plot svg")).await.expect("the DAS28 panel");
    let title = das28.find(Locator::Css("title")).await.unwrap().prop("textContent").await.unwrap().unwrap_or_default();
    assert!(title.starts_with("DAS28 at day 270") && title.contains("counterfactual head"), "{title}");
    assert_eq!(c.find_all(Locator::Css("#options-das28-plot svg g.option")).await.unwrap().len(), 8);
    // An option with enough patients has its DAS28 at day 270 drawn: the head's (shown
    // first) or, without one, the similar patients' mean.
    let das28_marks = c.find_all(Locator::Css("#options-das28-plot svg g.head, #options-das28-plot svg g.weighted")).await.unwrap().len();
    eprintln!("DAS28 panel: {das28_marks} marks");
    assert!(das28_marks >= 1, "a DAS28 mark for an option with enough patients");
    let head_line = match c.find(Locator::Id("options-best-head-line")).await {
        Ok(line) => line.text().await.unwrap(),
        Err(_) => c.find(Locator::Id("options-head-missing")).await.expect("the head or why none").text().await.unwrap(),
    };
    assert!(head_line.contains("counterfactual head"), "{head_line}");
    shot("consult").await;
    shot_at("consult-cohort", Some("#cohort")).await;
    shot_at("consult-options", Some("#options")).await;
    shot_at("consult-options-plot", Some("#options-plot")).await;
    shot_at("consult-options-das28-plot", Some("#options-das28-plot")).await;
    c.goto(&format!("{base}/audit")).await.unwrap();
    let body = c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap();
    assert!(body.starts_with("403"), "a clinician on the audit trail sees: {body}");
    c.goto(&format!("{base}/patients")).await.unwrap();
    logout().await;

    // Auditor: the clinician's journey read is in the trail; its trace proof verifies.
    login("aud").await;
    c.wait().for_element(Locator::Id("audit-rows")).await.unwrap();
    c.find(Locator::Id("sign-head")).await.unwrap().click().await.unwrap();
    // The signing form reloads the page: wait for its confirmation, not the old button.
    c.wait().for_element(Locator::Id("signed-notice")).await.unwrap();
    c.find(Locator::Id("verify-all")).await.unwrap().click().await.unwrap();
    let report = c.wait().for_element(Locator::Id("verify-report")).await.unwrap().text().await.unwrap();
    assert!(report.contains("Verified"), "{report}");
    shot("audit").await;
    c.goto(&format!("{base}/audit?patient={}&kind=access", patient.as_str())).await.unwrap();
    c.find(Locator::Css("a.trace-link")).await.unwrap().click().await.unwrap();
    let status = c.wait().for_element(Locator::Id("proof-status")).await.unwrap().text().await.unwrap();
    assert_eq!(status, "verified");
    shot("audit-trace").await;
    if let Some(href) = answer_trace {
        c.goto(&format!("{base}{href}")).await.unwrap();
        let status = c.wait().for_element(Locator::Id("proof-status")).await.unwrap().text().await.unwrap();
        assert_eq!(status, "verified", "the answer's own entry is proven in the tree");
        let page = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        assert!(page.contains("lab_trend"), "the trace shows the tool call: {page}");
        shot("audit-trace-answer").await;
    }
    logout().await;

    // Governance: roll the encoder back with a reason.
    login("gov").await;
    c.wait().for_element(Locator::Id("rollback-encoder")).await.unwrap();
    c.find(Locator::Id("rollback-reason-encoder")).await.unwrap().send_keys("browser test: drift").await.unwrap();
    c.find(Locator::Id("rollback-encoder")).await.unwrap().click().await.unwrap();
    let done = c.wait().for_element(Locator::Id("governance-done")).await.unwrap().text().await.unwrap();
    assert!(done.contains("Rolled encoder back to twin-a"), "{done}");
    shot("governance").await;
    logout().await;

    // Admin: users, import and backups.
    login("adm").await;
    c.wait().for_element(Locator::Id("users")).await.unwrap();
    shot("admin").await;
    c.close().await.unwrap();
    assert_eq!(state.registry().state().await.unwrap().active(ArtifactKind::Encoder).unwrap().name, "twin-a");
}
