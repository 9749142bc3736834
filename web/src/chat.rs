//! The chat panel of a patient page: a clinician asks about the open patient, the
//! assistant's tokens stream back over Server-Sent Events, and the final answer
//! replaces them with its facts, the tools it called, the engine, model and prompt
//! versions, and the audit entry that holds it.
//!
//! Two requests per question, so the answer can stream while the form request ends at
//! once: `POST /patients/{id}/ask` checks role and scope, starts the question on the
//! assistant in a task and returns a fragment naming `/chat/{job}/events`; the page's
//! script opens that stream, which only the asking session may read, once. The
//! patient in scope is the page's patient, never one the model names; the assistant
//! audits every step itself.
//!
//! Follow-ups ("and the ESR?") are read against the turn before: each session keeps
//! one `assistant::Conversation` per patient page ([`ChatConversations`]), so a
//! question on one patient's page never carries into another's, and a session's
//! questions on one page are answered one after the other, in order.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use assistant::{AskContext, Conversation, GovernedAssistant, Outcome};
use audit_log::{EntryBody, NewEntry};
use journey::PatientId;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::Html;
use axum::Form;
use serde::Deserialize;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::{Stream, StreamExt as _};

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{render, AppError};
use crate::journey::readable_journey;

/// Longest question accepted, in characters (the model's context is small).
pub const MAX_QUESTION_CHARS: usize = 500;

/// A question whose stream nobody opened is dropped after this long.
const UNCLAIMED_AFTER: Duration = Duration::from_secs(600);

/// The assistant behind the chat panel. A GGUF model takes seconds to load, so the
/// server starts without it and the binary fills the slot once it is ready. Once
/// ready, each question is answered by the model registry's active LLM
/// ([`GovernedAssistant::for_question`]: a rollback or activation elsewhere switches
/// it, a retirement stops it).
#[derive(Clone, Default)]
pub enum AssistantSlot {
    /// Still loading (the panel says so; asking again later works).
    #[default]
    Loading,
    Ready(Arc<GovernedAssistant>),
    /// Not available on this install, with the reason (e.g. weights not set up).
    Unavailable(String),
}

/// Questions started but whose stream has not been opened yet, by job id.
#[derive(Default)]
pub struct ChatJobs {
    jobs: HashMap<String, PendingStream>,
}

struct PendingStream {
    /// The session that asked: only it may open the stream.
    session: String,
    started: Instant,
    events: UnboundedReceiver<Event>,
}

impl ChatJobs {
    fn insert(&mut self, id: String, session: String, events: UnboundedReceiver<Event>) {
        self.jobs.retain(|_, j| j.started.elapsed() < UNCLAIMED_AFTER);
        self.jobs.insert(id, PendingStream { session, started: Instant::now(), events });
    }

    /// The stream of job `id` when `session` started it; a second claim finds nothing.
    fn claim(&mut self, id: &str, session: &str) -> Option<UnboundedReceiver<Event>> {
        match self.jobs.get(id) {
            Some(j) if j.session == session => self.jobs.remove(id).map(|j| j.events),
            _ => None,
        }
    }
}

/// Each session's conversation on each patient page: what a follow-up is read
/// against. One dropped when idle as long as a login session may be.
#[derive(Default)]
pub struct ChatConversations {
    by_page: HashMap<(String, PatientId), PageConversation>,
}

struct PageConversation {
    used: Instant,
    /// Held by a question for as long as it runs, so the next one reads against it.
    conversation: Arc<tokio::sync::Mutex<Conversation>>,
}

impl ChatConversations {
    /// The conversation of `session` on `patient`'s page, new when there is none.
    fn of(&mut self, session: &str, patient: &PatientId) -> Arc<tokio::sync::Mutex<Conversation>> {
        self.by_page.retain(|_, c| c.used.elapsed() < crate::auth::store::IDLE_TIMEOUT);
        let page = self.by_page.entry((session.to_owned(), patient.clone())).or_insert_with(|| PageConversation {
            used: Instant::now(),
            conversation: Arc::new(tokio::sync::Mutex::new(Conversation::new())),
        });
        page.used = Instant::now();
        page.conversation.clone()
    }
}

#[derive(Deserialize)]
pub struct AskForm {
    question: String,
}

#[derive(Template)]
#[template(path = "chat_pending.html")]
struct PendingFragment {
    question: String,
    stream_url: String,
}

#[derive(Template)]
#[template(path = "chat_notice.html")]
struct NoticeFragment {
    question: String,
    notice: String,
}

/// One tool call as the panel shows it.
pub struct ToolRow {
    pub name: String,
    pub arguments: String,
    pub facts: String,
    pub audit_seq: u64,
}

/// A follow-up's line on the panel: the question it was read against, and as what.
pub struct FollowUpLine {
    pub question_seq: u64,
    pub read_as: String,
}

#[derive(Template)]
#[template(path = "chat_answer.html")]
struct AnswerFragment {
    text: String,
    follow_up: Option<FollowUpLine>,
    /// Why the record could not answer, when it could not.
    refusal: Option<String>,
    grounding: String,
    tools: Vec<ToolRow>,
    engine: String,
    model: String,
    prompts: String,
    answer_seq: u64,
    seconds: String,
}

/// `POST /patients/{id}/ask`: starts the question and returns the fragment that streams it.
pub async fn ask(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<AskForm>,
) -> Result<Html<String>, AppError> {
    let question = form.question.trim().to_owned();
    if question.is_empty() {
        return Err(AppError::BadRequest("the question is empty: type a question about this patient".into()));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(AppError::BadRequest(format!(
            "the question is {} characters long; at most {MAX_QUESTION_CHARS} are accepted",
            question.chars().count()
        )));
    }
    let journey = readable_journey(&state, &user, &id).await?;
    let governed = match state.assistant() {
        AssistantSlot::Ready(a) => a,
        AssistantSlot::Loading => {
            let notice = "The assistant is still loading its model; ask again in a few seconds.".to_owned();
            return render(&NoticeFragment { question, notice });
        }
        AssistantSlot::Unavailable(why) => {
            return render(&NoticeFragment { question, notice: format!("The assistant is not available here: {why}") })
        }
    };
    // The registry decides which model answers, checked for every question.
    let assistant = match governed.for_question().await {
        Ok(assistant) => assistant,
        Err(why) => {
            let notice = format!("The assistant cannot answer: {why}");
            let refusal = NewEntry::new(user.principal(), EntryBody::Refusal { reason: notice.clone() })
                .session(user.session.clone())
                .patients([journey.patient.id.as_str()]);
            state.audit().append(refusal).await?;
            return render(&NoticeFragment { question, notice });
        }
    };
    let job = random_id()?;
    let (events, pending) = unbounded_channel::<Event>();
    state.chat_jobs().lock().map_err(AppError::internal)?.insert(job.clone(), user.session.clone(), pending);

    let conversation =
        state.chat_conversations().lock().map_err(AppError::internal)?.of(&user.session, &journey.patient.id);
    let ctx = AskContext { principal: user.principal(), patient: Some(journey.patient.id.clone()), session: user.session };
    tokio::spawn(async move {
        let (tokens, mut token_rx) = unbounded_channel::<String>();
        let forward = {
            let events = events.clone();
            tokio::spawn(async move {
                while let Some(piece) = token_rx.recv().await {
                    let event = Event::default().event("token").json_data(&piece).unwrap_or_default();
                    if events.send(event).is_err() {
                        break;
                    }
                }
            })
        };
        let result = conversation.lock().await.ask(&assistant, &question, &ctx, Some(tokens)).await;
        let _ = forward.await;
        let html = match result {
            Ok(answer) => answer_fragment(answer).render(),
            Err(e) => {
                tracing::error!(error = %e, "the assistant failed");
                NoticeFragment { question, notice: format!("The assistant failed: {e}") }.render()
            }
        };
        let html = html.unwrap_or_else(|e| format!("<p class=\"error\">cannot show the answer: {e}</p>"));
        let _ = events.send(Event::default().event("answer").data(html));
    });
    render(&PendingFragment { question: form.question.trim().to_owned(), stream_url: format!("/chat/{job}/events") })
}

/// `GET /chat/{job}/events`: the question's tokens (`token`, JSON strings), then the
/// rendered answer (`answer`). Only the asking session, only once.
pub async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(job): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let claimed = state.chat_jobs().lock().map_err(AppError::internal)?.claim(&job, &user.session);
    let events = claimed.ok_or(AppError::NotFound { what: "question", id: job })?;
    Ok(Sse::new(UnboundedReceiverStream::new(events).map(Ok)).keep_alive(KeepAlive::default()))
}

fn answer_fragment(answer: assistant::Answer) -> AnswerFragment {
    let refusal = match &answer.outcome {
        Outcome::Answered => None,
        other => Some(serde_json::to_value(other).ok().and_then(|v| describe_outcome(&v)).unwrap_or_default()),
    };
    let grounding = serde_json::to_value(&answer.grounding)
        .ok()
        .and_then(|v| v.get("grounding").and_then(|g| g.as_str()).map(|g| g.replace('_', " ")))
        .unwrap_or_default();
    let tools = answer
        .tools
        .iter()
        .map(|t| ToolRow {
            name: t.tool.to_string(),
            arguments: t.arguments.to_string(),
            facts: serde_json::to_string_pretty(t.result.get("value").unwrap_or(&t.result)).unwrap_or_default(),
            audit_seq: t.audit_seq.0,
        })
        .collect();
    let follow_up = answer.read_as.zip(answer.follows.as_ref()).map(|(read_as, link)| FollowUpLine {
        question_seq: link.read_against.unwrap_or(link.seq).0,
        read_as,
    });
    AnswerFragment {
        text: answer.text,
        follow_up,
        refusal,
        grounding,
        tools,
        engine: answer.engine.as_str().to_owned(),
        model: answer.model_sha256.chars().take(12).collect(),
        prompts: answer.prompt_set_version.short().to_string(),
        answer_seq: answer.answer_seq.0,
        seconds: format!("{:.1}", answer.timings.total),
    }
}

/// A short reason from the outcome's tagged JSON (`{"outcome": .., "why": ..}`).
fn describe_outcome(v: &serde_json::Value) -> Option<String> {
    let outcome = v.get("outcome")?.as_str()?;
    Some(match v.get("why").and_then(|w| w.as_str()) {
        Some(why) => format!("{} ({})", outcome.replace('_', " "), why.replace('_', " ")),
        None => outcome.replace('_', " "),
    })
}

fn random_id() -> Result<String, AppError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(AppError::internal)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_claimed_once_and_only_by_its_session() {
        let mut jobs = ChatJobs::default();
        let (_tx, rx) = unbounded_channel::<Event>();
        jobs.insert("job".into(), "session-a".into(), rx);
        assert!(jobs.claim("job", "session-b").is_none(), "another session must not read the answer");
        assert!(jobs.claim("job", "session-a").is_some());
        assert!(jobs.claim("job", "session-a").is_none(), "a stream is read once");
    }

    #[test]
    fn outcomes_are_described_in_words() {
        let v = serde_json::json!({"outcome": "cannot_answer", "why": "no_tool_applies"});
        assert_eq!(describe_outcome(&v).as_deref(), Some("cannot answer (no tool applies)"));
    }
}
