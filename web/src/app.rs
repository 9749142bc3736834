//! The router and the state every handler shares.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use assistant::install::ModelChoice;
use audit_log::{AuditLog, ModelRegistry, Role, TrustedKeys};
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use tools::ToolContext;
use twin_core::index::IndexConfig;
use tower_http::trace::TraceLayer;
use ::journey::{Database, JourneyStore};

use crate::auth::{self, UserStore};
use crate::chat::{AssistantSlot, ChatConversations, ChatJobs};
use crate::error::WebError;
use crate::metrics::Metrics;
use crate::{admin, audit, chat, consult, governance, journey, login, patients, statics};

/// Largest FHIR upload accepted by the admin page.
/// The default upload limit: 1 GiB of FHIR.
pub const MAX_UPLOAD_BYTES: u64 = 1 << 30;

/// How to run the server. `rdt serve` fills it from flags; tests build it directly.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database: Database,
    /// Mark cookies `Secure` (set when serving behind TLS).
    pub secure_cookies: bool,
    /// How long a login lasts.
    pub session_ttl: Duration,
    /// The most an admin's FHIR upload may hold (all files together), streamed to
    /// disk as it arrives, never held in memory.
    pub max_upload_bytes: u64,
    /// The neighbour index the twins live in (in-process under the data directory, or
    /// Qdrant): every write through the server catches it up (`crate::twins`).
    pub index: IndexConfig,
}

impl WebConfig {
    pub fn new(data_dir: PathBuf, database: Database) -> Self {
        WebConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database,
            secure_cookies: false,
            session_ttl: Duration::from_secs(8 * 3600),
            max_upload_bytes: MAX_UPLOAD_BYTES,
            index: IndexConfig::local(&data_dir),
            data_dir,
        }
    }
}

/// Handles shared by every request (cheap to clone: pools and `Arc`s).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: WebConfig,
    store: JourneyStore,
    /// Replaced once the binary has loaded the twin, index and state model.
    tools: RwLock<ToolContext>,
    audit: AuditLog,
    trusted: TrustedKeys,
    users: UserStore,
    logins: crate::auth::throttle::LoginThrottle,
    metrics: Metrics,
    imports: Mutex<admin::ImportJobs>,
    store_writes: tokio::sync::Mutex<()>,
    assistant: RwLock<AssistantSlot>,
    chat_jobs: Mutex<ChatJobs>,
    chat_conversations: Mutex<ChatConversations>,
}

impl AppState {
    /// Opens the journey store, the audit log (with the install's signing key) and the
    /// users database of `config.data_dir`.
    pub async fn open(config: WebConfig) -> Result<Self, WebError> {
        let store = JourneyStore::open(&config.database).await?;
        let audit = AuditLog::open_for_data_dir(&config.database.url(), &config.data_dir).await?;
        let trusted = TrustedKeys::of_install(&config.data_dir)?;
        let users = UserStore::open(&UserStore::path_in(&config.data_dir)).await?;
        Ok(AppState {
            inner: Arc::new(Inner {
                tools: RwLock::new(ToolContext::new(store.clone())),
                store,
                audit,
                trusted,
                users,
                logins: crate::auth::throttle::LoginThrottle::default(),
                metrics: Metrics::default(),
                imports: Mutex::new(admin::ImportJobs::default()),
                store_writes: tokio::sync::Mutex::new(()),
                assistant: RwLock::new(AssistantSlot::Loading),
                chat_jobs: Mutex::new(ChatJobs::default()),
                chat_conversations: Mutex::new(ChatConversations::default()),
                config,
            }),
        })
    }

    pub fn config(&self) -> &WebConfig {
        &self.inner.config
    }
    pub fn store(&self) -> &JourneyStore {
        &self.inner.store
    }
    /// The tools the pages call (a cheap clone of the current context).
    pub fn tools(&self) -> ToolContext {
        self.inner.tools.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Gives the pages' tools what else the install holds (state model, twin and
    /// neighbour index); until then the cohort and forecast tools say what is missing.
    pub fn set_tools(&self, tools: ToolContext) {
        *self.inner.tools.write().unwrap_or_else(|e| e.into_inner()) = tools;
    }
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }
    pub fn registry(&self) -> ModelRegistry {
        ModelRegistry::new(self.inner.audit.clone())
    }
    pub fn trusted(&self) -> &TrustedKeys {
        &self.inner.trusted
    }
    pub fn users(&self) -> &UserStore {
        &self.inner.users
    }
    /// Failed-login backoff and the password-hash semaphore.
    pub fn logins(&self) -> &crate::auth::throttle::LoginThrottle {
        &self.inner.logins
    }
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
    pub(crate) fn imports(&self) -> &Mutex<admin::ImportJobs> {
        &self.inner.imports
    }
    /// Held by every write to the journey store through the server (an admin's upload,
    /// a FHIR post): writes apply one at a time, in the order they arrive (tokio's
    /// mutex is fair), and each one's twins catch up before the next write starts.
    pub(crate) fn store_writes(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.store_writes
    }
    /// The assistant behind the chat panel, as it stands now.
    pub fn assistant(&self) -> AssistantSlot {
        self.inner.assistant.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Fills the chat panel's assistant (the binary loads it after the server starts).
    pub fn set_assistant(&self, slot: AssistantSlot) {
        *self.inner.assistant.write().unwrap_or_else(|e| e.into_inner()) = slot;
    }
    /// Gives the pages what else the install holds, in the background once the server
    /// is up (a GGUF takes seconds; the pages work meanwhile): the tools' state model
    /// and cohort (twin, `index`), then the chat panel's assistant on `model` (an
    /// `Err`: the panel stays off, saying why): by default the model registry's active
    /// LLM, which it then follows question by question. Failures are printed and shown
    /// on the panel.
    pub async fn load_assistant(&self, index: &IndexConfig, model: Result<ModelChoice, String>) {
        let data_dir = &self.inner.config.data_dir;
        match ToolContext::for_install(self.store().clone(), data_dir, index, &self.registry()).await {
            Ok(tools) => self.set_tools(tools),
            Err(e) => eprintln!("The pages' cohort and forecast tools are off: {}", tools::cause_chain(&e)),
        }
        let slot = match model {
            Err(why_not) => AssistantSlot::Unavailable(why_not),
            Ok(model) => match assistant::install::build_governed(data_dir, self.tools(), self.audit().clone(), &model).await {
                Ok(assistant) => {
                    match assistant.running() {
                        Some(running) => {
                            eprintln!("The chat answers with llm {}.", running.model().model_sha256())
                        }
                        None => eprintln!(
                            "The chat waits: no LLM is active in the model registry (a governance user activates one)."
                        ),
                    }
                    AssistantSlot::Ready(Arc::new(assistant))
                }
                Err(e) => {
                    let reason = tools::cause_chain(&e);
                    eprintln!("The chat panel is off: {reason}");
                    AssistantSlot::Unavailable(reason)
                }
            },
        };
        self.set_assistant(slot);
    }
    pub(crate) fn chat_jobs(&self) -> &Mutex<ChatJobs> {
        &self.inner.chat_jobs
    }
    pub(crate) fn chat_conversations(&self) -> &Mutex<ChatConversations> {
        &self.inner.chat_conversations
    }

    pub async fn close(&self) {
        self.inner.users.close().await;
        self.inner.audit.close().await;
        self.inner.store.close().await;
    }
}

/// Every route with the role it needs. Layers wrap inside out: a request meets the
/// trace span, then the metrics timer, then the security headers, then (protected
/// routes) `authenticate` (session + CSRF), then `require_role`, then the handler.
pub fn app(state: AppState) -> Router {
    let clinician = Router::new()
        .route("/patients", get(patients::patients_list))
        .route("/patients/{id}", get(journey::journey_show))
        .route("/patients/{id}/plot.svg", get(journey::journey_plot))
        .route("/patients/{id}/consult", get(consult::consult_show))
        .route("/patients/{id}/ask", post(chat::ask))
        .route("/patients/{id}/alerts/{alert}/acknowledge", post(journey::alert_acknowledge))
        .route("/chat/{job}/events", get(chat::events))
        .route_layer(from_fn_with_state(Role::Clinician, auth::require_role));
    let auditor = Router::new()
        .route("/audit", get(audit::audit_search))
        .route("/audit/entries/{seq}", get(audit::audit_trace))
        .route("/audit/verify", post(audit::audit_verify))
        .route("/audit/sign", post(audit::audit_sign))
        .route_layer(from_fn_with_state(Role::Auditor, auth::require_role));
    let governance = Router::new()
        .route("/governance", get(governance::registry_show))
        .route("/governance/activate", post(governance::registry_activate))
        .route("/governance/rollback", post(governance::registry_rollback))
        .route("/governance/pin", post(governance::registry_pin))
        .route("/governance/retire", post(governance::registry_retire))
        .route_layer(from_fn_with_state(Role::Governance, auth::require_role));
    let admin = Router::new()
        .route("/admin", get(admin::admin_show))
        .route("/admin/users", post(admin::users_create))
        .route("/admin/users/unlock", post(admin::users_unlock))
        .route("/admin/users/disable", post(admin::users_disable))
        .route(
            "/admin/import",
            // Uploads of FHIR exports are large; every other route keeps axum's 2 MB limit.
            // The handler counts the files' bytes against the same limit as it streams.
            post(admin::import_create).layer(DefaultBodyLimit::max(
                usize::try_from(state.config().max_upload_bytes).unwrap_or(usize::MAX).saturating_add(1 << 20),
            )),
        )
        .route("/admin/import/status", get(admin::import_status))
        .route("/admin/terminology", post(admin::terminology_create))
        .route("/admin/backup", post(admin::backup_create))
        .route("/metrics", get(crate::metrics::metrics_show))
        .route_layer(from_fn_with_state(Role::Admin, auth::require_role));
    let any_role = Router::new().route("/", get(login::home)).route("/logout", post(login::logout));

    let protected = Router::new()
        .merge(clinician)
        .merge(auditor)
        .merge(governance)
        .merge(admin)
        .merge(any_role)
        .route_layer(from_fn_with_state(state.clone(), auth::authenticate));

    // A hospital system's pushes: authenticated by an integration token on each request
    // (`fhir::Integration`), never by a session, so outside `authenticate`.
    let upload_limit = usize::try_from(state.config().max_upload_bytes).unwrap_or(usize::MAX).saturating_add(1 << 20);
    let integration = Router::new()
        .route("/fhir", post(crate::fhir::post_bundle))
        .route("/fhir/$import", post(crate::fhir::post_ndjson))
        .layer(DefaultBodyLimit::max(upload_limit));

    let public = Router::new()
        .route("/login", get(login::login_form).post(login::login_submit))
        .route("/healthz", get(crate::metrics::healthz))
        .route("/static/{file}", get(statics::static_file));

    Router::new()
        .merge(protected)
        .merge(public)
        .merge(integration)
        .layer(from_fn(security_headers))
        .layer(from_fn_with_state(state.clone(), crate::metrics::record))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Headers on every response: no framing, no sniffing, no referrer, scripts and styles
/// from this server only, and patient pages never cached.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; \
             form-action 'self'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
