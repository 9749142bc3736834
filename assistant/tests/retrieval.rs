//! Tool retrieval (`retrieval.rs`): with keyword vectors, the ranking's rules (allowed
//! tools only, required vocabularies, order); with the real MiniLM (skipped without
//! `rdt setup`), the right tool among the candidates for reworded questions and for
//! every question of the evaluation set.

use std::sync::Arc;

use assistant::session::RELEVANCE_FLOOR;
use assistant::ToolRetriever;
use assistant_eval::testing::{minilm, KeywordEmbedder};
use assistant_eval::QuestionSet;
use tools::ToolName;

#[test]
fn ranks_only_allowed_tools_by_their_best_text() {
    let specs = tools::specs();
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &specs).unwrap();
    let all: Vec<ToolName> = specs.iter().map(|s| s.name).collect();
    let ranked = retriever.rank("What is the latest CRP?", &all).unwrap();
    // The cohort tools and the forecast need their words; the others are ranked.
    let required: Vec<ToolName> = specs.iter().filter(|s| s.vocabulary.required).map(|s| s.name).collect();
    assert_eq!(ranked.len(), all.len() - required.len());
    assert!(ranked.iter().all(|r| !required.contains(&r.tool)), "{ranked:?}");
    assert_eq!(ranked[0].tool, ToolName::LabTrend, "{ranked:?}");
    let cohort = retriever.rank("How did similar patients do?", &all).unwrap();
    assert!(cohort.iter().any(|r| r.tool == ToolName::SimilarPatients), "{cohort:?}");
    assert!(ranked.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    let only = retriever.rank("What is the latest CRP?", &[ToolName::Glossary]).unwrap();
    assert_eq!(only.iter().map(|r| r.tool).collect::<Vec<_>>(), vec![ToolName::Glossary]);
}

/// With the real MiniLM (skipped without `rdt setup`): the right tool is among
/// the first three for questions unlike its examples.
#[tokio::test]
async fn minilm_puts_the_right_tool_in_the_top_three() {
    let Some(embedder) = minilm().await else {
        return;
    };
    let specs = tools::specs();
    let retriever = ToolRetriever::new(embedder, &specs).unwrap();
    let all: Vec<ToolName> = specs.iter().map(|s| s.name).collect();
    for (question, tool) in [
        ("What was the most recent haemoglobin?", ToolName::LabTrend),
        ("Is the C-reactive protein trending down?", ToolName::LabTrend),
        ("How active is the arthritis now?", ToolName::DiseaseActivityHistory),
        ("When did she start adalimumab?", ToolName::MedicationHistory),
        ("What does EULAR good response mean?", ToolName::Glossary),
        ("Give me an overview of this patient.", ToolName::PatientSummary),
    ] {
        let ranked = retriever.rank(question, &all).unwrap();
        assert!(ranked[..3].iter().any(|r| r.tool == tool), "{question}: {ranked:?}");
    }
}

/// The question set through real MiniLM and the vocabularies: every question that
/// needs a tool finds it among the candidates offered (the top three), with the
/// tools a session with a patient open can serve.
#[tokio::test]
async fn every_question_of_the_set_finds_its_tool_among_the_candidates() {
    let Some(embedder) = minilm().await else {
        return;
    };
    let specs = tools::specs();
    let retriever = ToolRetriever::new(embedder, &specs).unwrap();
    let one_patient: Vec<ToolName> = specs.iter().filter(|s| s.name != ToolName::ComparePatients).map(|s| s.name).collect();
    let mut misses = Vec::new();
    for q in QuestionSet::builtin().unwrap().questions {
        let ranked = retriever.rank(&q.question, &one_patient).unwrap();
        let top = ranked.first().map_or(0.0, |r| r.similarity);
        let far = ["Write a poem about spring.", "What is the capital of France?"].contains(&q.question.as_str());
        if far && top >= RELEVANCE_FLOOR {
            misses.push(format!("{}: outside the product, yet {top} >= the floor", q.question));
        }
        let Some(tool) = q.expect.tool() else { continue };
        if top < RELEVANCE_FLOOR {
            misses.push(format!("{}: answerable, yet {top} < the floor", q.question));
        }
        if !ranked.iter().take(3).any(|r| r.tool == tool) {
            misses.push(format!("{} -> {tool:?}: {ranked:?}", q.question));
        }
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

/// With the real MiniLM (skipped without `rdt setup`): what-if and which-option
/// questions go to `compare_treatments`, first and by retrieval's decisive lead (the
/// model is not asked), never to `similar_patients`; `similar_patients` still leads for
/// its own examples, and `compare_treatments` for its own.
#[tokio::test]
async fn minilm_sends_option_questions_to_compare_treatments() {
    let Some(embedder) = minilm().await else {
        return;
    };
    let specs = tools::specs();
    let retriever = ToolRetriever::new(embedder, &specs).unwrap();
    let one_patient: Vec<ToolName> =
        specs.iter().filter(|s| s.name != ToolName::ComparePatients).map(|s| s.name).collect();
    let spec = |name| specs.iter().find(|s| s.name == name).unwrap();
    let first = |question: &str| {
        let ranked = retriever.rank(question, &one_patient).unwrap();
        (ranked[0].tool, ranked.get(1).map_or(f32::INFINITY, |r| ranked[0].similarity - r.similarity), ranked)
    };
    for question in [
        "What if we switch her to a TNF inhibitor?",
        "On which option did patients like him do best?",
        "Would he do better on a JAK inhibitor instead?",
        "Which treatment option worked best for patients like her?",
    ] {
        let (tool, lead, ranked) = first(question);
        assert_eq!(tool, ToolName::CompareTreatments, "{question}: {ranked:?}");
        if spec(ToolName::CompareTreatments).examples.contains(&question) {
            assert!(lead >= assistant::session::DECISIVE_MARGIN, "{question}: retrieval decides: {ranked:?}");
        }
    }
    for name in [ToolName::SimilarPatients, ToolName::CompareTreatments] {
        for question in spec(name).examples {
            let (tool, _, ranked) = first(question);
            assert_eq!(tool, name, "{question}: {ranked:?}");
        }
    }
}
