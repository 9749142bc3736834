//! [`ToolContext`]: what tools read from, and the one door to a journey.

use std::path::Path;
use std::sync::Arc;

use audit_log::{Digest, ModelRegistry, Principal};
use twin_core::index::IndexConfig;
use twin_core::state::{StateModel, StateModelError};
use journey::{Journey, JourneyStore, PatientId};

use crate::cohort::{CohortHandles, CohortOnDemand, CohortState, CohortUnavailable};
use crate::error::ToolError;
use crate::scope::{check_role, Scope};
use crate::tool::Tool;

/// The handles a tool reads: the journey store, the state model and the cohort (twin,
/// neighbour index, population). Cheap to clone.
#[derive(Clone)]
pub struct ToolContext {
    store: JourneyStore,
    /// The fitted disease-state model and its version (SHA-256 of its file), when the
    /// install has one; `state_forecast` says so when it has not.
    state_model: Option<(Arc<StateModel>, Digest)>,
    /// Why the install's state model file was refused (not the registry's active
    /// version), for `state_forecast` to say instead of forecasting.
    state_model_refused: Option<String>,
    /// The twin, neighbour index and population the cohort tools read, or why this
    /// install has none (they then fail with that reason).
    cohort: CohortState,
}

impl ToolContext {
    pub fn new(store: JourneyStore) -> Self {
        let missing = CohortUnavailable("no twin model and neighbour index were loaded for these tools".into());
        ToolContext { store, state_model: None, state_model_refused: None, cohort: CohortState::Missing(missing) }
    }

    /// The tools of one install: `store` with what else `data_dir` holds, the state
    /// model ([`StateModel::install_path`]) and the cohort (the active twin in
    /// `registry`, the neighbour index `index`, the population read from `store`). A
    /// missing piece is not an error: the tools that need it say what is missing and
    /// where. A state model that is there but does not read is one; one the model
    /// registry refuses (not its active version: tampered, replaced, never registered)
    /// is left out, and `state_forecast` states the refusal instead of forecasting,
    /// while the other tools keep working.
    pub async fn for_install(
        store: JourneyStore,
        data_dir: &Path,
        index: &IndexConfig,
        registry: &ModelRegistry,
    ) -> Result<Self, StateModelError> {
        let tools = Self::for_install_on_demand(store, data_dir, index, registry).await?;
        Ok(tools.with_cohort_loaded().await)
    }

    /// [`Self::for_install`], the cohort (twin, neighbour index, every journey for
    /// the population) loaded only by the first cohort tool call: for a process that
    /// answers one question (`rdt ask`, `rdt tool`), which a patient's own record
    /// often answers. A missing or refused piece is then that call's error, as it is
    /// for [`Self::for_install`].
    pub async fn for_install_on_demand(
        store: JourneyStore,
        data_dir: &Path,
        index: &IndexConfig,
        registry: &ModelRegistry,
    ) -> Result<Self, StateModelError> {
        let mut tools = match ToolContext::new(store.clone()).with_install_state_model(data_dir, registry).await {
            Ok(tools) => tools,
            Err(refused @ StateModelError::Governance { .. }) => {
                let mut tools = ToolContext::new(store.clone());
                tools.state_model_refused = Some(refused.to_string());
                tools
            }
            Err(other) => return Err(other),
        };
        tools.cohort = CohortState::OnDemand(Arc::new(CohortOnDemand::new(store, data_dir, index, registry)));
        Ok(tools)
    }

    /// The same context with an on-demand cohort loaded now (or why it did not load,
    /// which the cohort tools then say). It stays on demand: [`Self::refresh_cohort`]
    /// reloads it for every clone of this context.
    pub async fn with_cohort_loaded(self) -> Self {
        if let CohortState::OnDemand(on_demand) = &self.cohort {
            // A failure is kept in the cell and returned by the cohort tools.
            let _ = on_demand.get().await;
        }
        self
    }

    /// Reloads an on-demand cohort after a write (the index caught up with the store
    /// first): `None` when this context's cohort is fixed (loaded by a caller, or
    /// missing), else whether the reload worked.
    pub async fn refresh_cohort(&self) -> Option<Result<(), CohortUnavailable>> {
        match &self.cohort {
            CohortState::OnDemand(on_demand) => Some(on_demand.refresh().await),
            CohortState::Loaded(_) | CohortState::Missing(_) => None,
        }
    }

    /// The same context with the cohort handles (twin, index, population).
    pub fn with_cohort(mut self, cohort: Arc<CohortHandles>) -> Self {
        self.cohort = CohortState::Loaded(cohort);
        self
    }

    /// The same context with the reason the cohort tools cannot run here.
    pub fn without_cohort(mut self, why: CohortUnavailable) -> Self {
        self.cohort = CohortState::Missing(why);
        self
    }

    /// The cohort handles (loaded now when on demand), or the error `tool` returns
    /// without them.
    pub async fn cohort(&self, tool: crate::registry::ToolName) -> Result<Arc<CohortHandles>, ToolError> {
        let unavailable = |why: &CohortUnavailable| ToolError::Unavailable { tool, reason: why.0.clone() };
        match &self.cohort {
            CohortState::Loaded(c) => Ok(c.clone()),
            CohortState::Missing(why) => Err(unavailable(why)),
            CohortState::OnDemand(on_demand) => on_demand.get().await.map_err(|why| unavailable(&why)),
        }
    }

    /// The same context with the state model `model` of version `version`.
    pub fn with_state_model(mut self, model: Arc<StateModel>, version: Digest) -> Self {
        self.state_model = Some((model, version));
        self
    }

    /// The same context with the state model fitted in `data_dir`
    /// ([`StateModel::install_path`]) when there is one; one that does not read, or
    /// whose bytes are not the registry's active state model, is an error
    /// ([`StateModel::load_active`]).
    pub async fn with_install_state_model(self, data_dir: &Path, registry: &ModelRegistry) -> Result<Self, StateModelError> {
        let path = StateModel::install_path(data_dir);
        if !path.exists() {
            return Ok(self);
        }
        let (model, version) = StateModel::load_active(&path, registry).await?;
        Ok(self.with_state_model(Arc::new(model), version))
    }

    /// Why the install's state model was refused, when it was.
    pub fn state_model_refused(&self) -> Option<&str> {
        self.state_model_refused.as_deref()
    }

    pub fn state_model(&self) -> Option<(&StateModel, Digest)> {
        self.state_model.as_ref().map(|(m, v)| (m.as_ref(), *v))
    }

    pub fn store(&self) -> &JourneyStore {
        &self.store
    }

    /// Checks the role tool `T` needs and that every patient of the call is in scope,
    /// before reading anything. Tools call this first, so the checks hold whoever
    /// calls the tool (the registry, the web, a test).
    pub fn authorize<'a, T: Tool>(
        &self,
        principal: &Principal,
        scope: &Scope,
        patients: impl IntoIterator<Item = &'a PatientId>,
    ) -> Result<(), ToolError> {
        check_role(T::NAME, T::REQUIRED_ROLE, principal)?;
        scope.check(principal, patients)
    }

    /// A journey for tool `T`: role, then scope, then the store. An out-of-scope
    /// patient is refused without a read, so a refusal never tells whether the
    /// patient exists.
    pub async fn journey<T: Tool>(
        &self,
        principal: &Principal,
        scope: &Scope,
        patient: &PatientId,
    ) -> Result<Journey, ToolError> {
        self.authorize::<T>(principal, scope, [patient])?;
        self.store.journey(patient).await?.ok_or_else(|| ToolError::UnknownPatient(patient.to_string()))
    }
}
