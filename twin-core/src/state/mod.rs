//! The disease-state model: a Markov chain over DAS28 activity states, one transition
//! matrix per treatment class, estimated from the cohort's consecutive readings.
//!
//! Stages: journey events -> [`Reading`]s (DAS28 with the treatment in force) ->
//! aligned bins of `step_days` -> [`Step`]s -> [`TransitionCounts`] -> smoothed
//! [`TransitionMatrix`] -> [`Forecast`] at 150/270/360 days with bootstrap intervals.
//!
//! - `activity.rs`: [`DiseaseState`] (remission < 2.6, low <= 3.2, moderate <= 5.1, high).
//! - `treatment.rs`: [`Treatment`] (none, csDMARD, TNF inhibitor, other advanced) from
//!   the medication courses active at a time.
//! - `series.rs`: readings and their alignment to the chain's step (why and how there).
//! - `transition.rs`: counts and Dirichlet-smoothed matrices.
//! - `forecast.rs`: matrix powers, fractional steps, time in state, intervals.
//! - `model.rs`: [`StateModel`] (fit on all patients or a subset, forecast, the JSON file
//!   whose SHA-256 is its version).
//! - `patient.rs`: [`patient_forecast`], one journey's forecast on a date (from its
//!   latest reading under its current treatment), or why there is none ([`NoForecast`]).
//!
//! ```no_run
//! # use twin_core::state::*;
//! # fn demo(data: Vec<PatientSteps>) {
//! let model = StateModel::fit(&data, StateModelConfig::default());
//! let f = model.forecast(DiseaseState::High, Treatment::Csdmard);
//! for h in &f.horizons {
//!     println!("{} days: remission {:.2}", h.days, h.states[0].probability.value);
//! }
//! # }
//! ```

mod activity;
mod forecast;
mod model;
mod patient;
mod series;
mod transition;
mod treatment;

#[cfg(test)]
pub(crate) mod testutil;

pub use activity::{state_index, state_name, state_of, DiseaseState, N_STATES, STATES};
pub use forecast::{
    distribution_at, expected_days, Estimate, Forecast, HorizonForecast, StateProbability, TimeInState, HORIZONS_DAYS,
};
pub use model::{StateModel, StateModelConfig, StateModelError, FORMAT, REGISTER_REASON};
pub use patient::{patient_forecast, starting_reading, NoForecast, PatientForecast, StartingReading, MAX_READING_AGE_DAYS};
pub use series::{align, patient_steps, readings, steps, PatientSteps, Reading, Step};
pub use transition::{point_mass, StateDistribution, TransitionCounts, TransitionMatrix};
pub use treatment::{treatment_at, Treatment, N_TREATMENTS};
