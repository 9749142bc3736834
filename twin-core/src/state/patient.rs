//! One patient's forecast: their latest DAS28 state and current treatment, carried
//! forward with the model.
//!
//! The latest reading may be older than the forecast date: the chain starts at the
//! reading and runs `age + h` days, so "150 days" always means 150 days after the
//! date asked about, and a reading 60 days old is not taken for today's state. The
//! treatment is the one in force on the date asked about, held for the whole horizon.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use journey::clinical::courses;
use journey::event::Event;
use crate::state::activity::DiseaseState;
use crate::state::forecast::{Forecast, HORIZONS_DAYS};
use crate::state::model::StateModel;
use crate::state::series::readings;
use crate::state::treatment::{treatment_at, Treatment};

/// A reading older than this (days before the forecast date) is too old to start from.
pub const MAX_READING_AGE_DAYS: i64 = 180;

/// The reading a forecast starts from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StartingReading {
    pub date: NaiveDate,
    pub das28: f64,
    pub state: DiseaseState,
    /// Days from the reading to the forecast date.
    pub age_days: i64,
}

/// A forecast for one patient on one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientForecast {
    pub as_of: NaiveDate,
    pub start: StartingReading,
    pub treatment: Treatment,
    /// Horizons are days after `as_of`.
    pub forecast: Forecast,
}

/// Why a patient has no forecast: expected outcomes, not failures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NoForecast {
    #[error("no DAS28 reading on or before {as_of}")]
    NoReading { as_of: NaiveDate },
    #[error("the latest DAS28 ({date}) is {age_days} days before {as_of}, more than {MAX_READING_AGE_DAYS}")]
    ReadingTooOld { date: NaiveDate, age_days: i64, as_of: NaiveDate },
}

/// The forecast for a journey (events in any order) as of the end of `as_of` (default:
/// the day of the journey's last event).
pub fn patient_forecast(
    model: &StateModel,
    events: &[Event],
    as_of: Option<NaiveDate>,
) -> Result<PatientForecast, NoForecast> {
    let (as_of, start) = starting_reading(events, as_of)?;
    let cut: DateTime<Utc> = as_of.and_hms_opt(23, 59, 59).expect("a valid time").and_utc();
    let treatment = treatment_at(&courses(events), cut);
    let shifted: Vec<i64> = HORIZONS_DAYS.iter().map(|h| h + start.age_days).collect();
    let mut forecast = model.forecast_at(start.state, treatment, &shifted);
    for (h, days) in forecast.horizons.iter_mut().zip(HORIZONS_DAYS) {
        h.days = days;
    }
    Ok(PatientForecast { as_of, start, treatment, forecast })
}

/// The reading a forecast of a journey as of the end of `as_of` (default: the day of
/// its last event) starts from, and that date: the latest DAS28 by then, at most
/// [`MAX_READING_AGE_DAYS`] old.
pub fn starting_reading(events: &[Event], as_of: Option<NaiveDate>) -> Result<(NaiveDate, StartingReading), NoForecast> {
    let last_day = events.iter().map(|e| e.time).max().map(|t| t.date_naive());
    let as_of = as_of.or(last_day).unwrap_or_default();
    let cut: DateTime<Utc> = as_of.and_hms_opt(23, 59, 59).expect("a valid time").and_utc();
    let latest = readings(events).into_iter().rev().find(|r| r.time <= cut).ok_or(NoForecast::NoReading { as_of })?;
    let date = latest.time.date_naive();
    let age_days = (as_of - date).num_days();
    if age_days > MAX_READING_AGE_DAYS {
        return Err(NoForecast::ReadingTooOld { date, age_days, as_of });
    }
    Ok((as_of, StartingReading { date, das28: latest.das28, state: latest.state, age_days }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::event::{PatientId, Phase};
    use crate::state::model::StateModelConfig;
    use crate::state::series::{PatientSteps, Step};
    use crate::state::testutil::{das28, day, med};

    #[test]
    fn starts_from_the_latest_reading_under_the_current_treatment() {
        let step = Step { treatment: Treatment::Csdmard, from: DiseaseState::High, to: DiseaseState::Moderate };
        let data = vec![PatientSteps { patient: PatientId::new("a").unwrap(), steps: vec![step; 5] }];
        let model = StateModel::fit(&data, StateModelConfig { resamples: 3, ..Default::default() });
        let events = vec![das28(0, 6.0), med("mtx", "6851", day(10), Phase::Start), das28(300, 2.0)];
        let f = patient_forecast(&model, &events, Some(day(30).date_naive())).unwrap();
        assert_eq!((f.start.state, f.start.age_days, f.treatment), (DiseaseState::High, 30, Treatment::Csdmard));
        assert_eq!(f.forecast.horizons.iter().map(|h| h.days).collect::<Vec<_>>(), vec![150, 270, 360]);
        // The reading of day 300 is used when asked on day 300.
        let f = patient_forecast(&model, &events, None).unwrap();
        assert_eq!(f.start.state, DiseaseState::Remission);
        assert!(matches!(
            patient_forecast(&model, &events, Some(day(-1).date_naive())),
            Err(NoForecast::NoReading { .. })
        ));
        assert!(matches!(
            patient_forecast(&model, &events, Some(day(250).date_naive())),
            Err(NoForecast::ReadingTooOld { age_days: 250, .. })
        ));
    }
}
