//! A measure's latest value against an earlier one: the comparison reading
//! ([`crate::reading::Asks::Comparison`]) of `lab_trend` and `disease_activity_history`.
//!
//! Why its own fact: a trend over a window is not a comparison. "Is her CRP lower than
//! the last one?" or "Is the DAS28 better than a year ago?" ask two values and which
//! way the latest lies from the earlier, and a 1.5B model asked to read that off a
//! listed series copied the latest value twice ("gone up from 9.0 on 2021-07-26 to 9.0
//! on 2021-07-26"). The tool states the pair and the direction once, from the record.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use journey::clinical::Worse;

use crate::facts::said;
use crate::reading::{Asks, Reading, Window};

/// What the latest value is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompareTo {
    /// The value recorded before the latest ("than the last one", "since the previous
    /// visit").
    Previous,
    /// The value nearest this many days before the latest ("than a year ago": 365);
    /// of two equally near, the earlier.
    DaysBefore(u32),
}

/// Which way the latest value lies from the earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeDirection {
    Higher,
    Lower,
    /// Equal when stated to two decimals.
    Same,
}

/// The latest value against an earlier one.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Change {
    pub compared_to: CompareTo,
    pub earlier_date: NaiveDate,
    pub earlier_value: f64,
    pub latest_date: NaiveDate,
    pub latest_value: f64,
    /// Latest minus earlier, to two decimals.
    pub difference: f64,
    pub direction: ChangeDirection,
}

impl Change {
    /// The latest value of `series` (oldest first) against the one `compare` names;
    /// `None` with fewer than two values.
    pub fn of(series: &[(DateTime<Utc>, f64)], compare: CompareTo) -> Option<Change> {
        let (&(latest_time, latest_value), before) = series.split_last()?;
        let &(earlier_time, earlier_value) = match compare {
            CompareTo::Previous => before.last()?,
            CompareTo::DaysBefore(days) => {
                let target = latest_time.checked_sub_signed(Duration::days(i64::from(days)))?;
                before.iter().min_by_key(|(t, _)| ((*t - target).num_days().abs(), *t))?
            }
        };
        let difference = ((latest_value - earlier_value) * 100.0).round() / 100.0;
        let direction = match difference {
            d if d > 0.0 => ChangeDirection::Higher,
            d if d < 0.0 => ChangeDirection::Lower,
            _ => ChangeDirection::Same,
        };
        Some(Change {
            compared_to: compare,
            earlier_date: earlier_time.date_naive(),
            earlier_value,
            latest_date: latest_time.date_naive(),
            latest_value,
            difference,
            direction,
        })
    }

    /// The two values in RDT's words, earlier first: "from 1.82 on 2021-02-16 to 1.54
    /// on 2021-07-26" (`unit` after each value when given).
    pub fn span(&self, unit: &str) -> String {
        let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
        format!(
            "from {}{unit} on {} to {}{unit} on {}",
            said(&self.earlier_value),
            said(&self.earlier_date),
            said(&self.latest_value),
            said(&self.latest_date)
        )
    }

    /// RDT's sentence for it: "Against the value before it (0.9 mg/L on 2020-10-06),
    /// the latest (0.5 mg/L on 2021-02-16) is lower (better), by 0.4 mg/L." For a
    /// measure with a worse direction ([`Worse`]: DAS28, CRP, haemoglobin) the move is
    /// also said as better or worse, since a clinician asks it that way.
    pub fn sentence(&self, unit: &str, worse: Option<Worse>) -> String {
        let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
        let against = match self.compared_to {
            CompareTo::Previous => "the value before it".to_owned(),
            CompareTo::DaysBefore(days) => format!("the value nearest {days} days before"),
        };
        let how = match self.direction {
            ChangeDirection::Same => "is the same".to_owned(),
            direction => {
                let word = if direction == ChangeDirection::Higher { "higher" } else { "lower" };
                let judged = match (direction, worse) {
                    (_, None) => "",
                    (ChangeDirection::Higher, Some(Worse::Higher)) | (ChangeDirection::Lower, Some(Worse::Lower)) => {
                        " (worse)"
                    }
                    _ => " (better)",
                };
                format!("is {word}{judged}, by {}{unit}", said(&self.difference.abs()))
            }
        };
        format!(
            "Against {against} ({}{unit} on {}), the latest ({}{unit} on {}) {how}.",
            said(&self.earlier_value),
            said(&self.earlier_date),
            said(&self.latest_value),
            said(&self.latest_date),
        )
    }
}

/// The arguments of a measure's tool (`lab_trend`, `disease_activity_history`) for the
/// span a question names, read once for both: a comparison compares the latest value
/// with the previous one, or with the one nearest the days it names ("than a year
/// ago"); any other reading takes the span as a look-back in days or the last N values.
pub(crate) fn span_arguments(reading: &Reading) -> serde_json::Map<String, serde_json::Value> {
    let mut named = serde_json::Map::new();
    if reading.asks == Asks::Comparison {
        let to = match reading.window {
            Some(Window::Days(days)) => CompareTo::DaysBefore(days),
            _ => CompareTo::Previous,
        };
        named.insert("compare_to".to_owned(), serde_json::json!(to));
        return named;
    }
    match reading.window {
        Some(Window::Days(days)) => named.insert("window_days".to_owned(), serde_json::json!(days)),
        Some(Window::LastVisits(n)) => named.insert("last_n".to_owned(), serde_json::json!(n.clamp(1, 100))),
        None => None,
    };
    named
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
    }

    fn series() -> Vec<(DateTime<Utc>, f64)> {
        vec![(at(2020, 1, 10), 62.8), (at(2020, 7, 1), 12.0), (at(2020, 10, 6), 0.9), (at(2021, 2, 16), 0.5)]
    }

    /// Against the previous value, and against the value nearest a span before: the
    /// pair, the difference and its direction; too few values: none.
    #[test]
    fn the_latest_against_the_previous_or_a_span_before() {
        let previous = Change::of(&series(), CompareTo::Previous).unwrap();
        assert_eq!((previous.earlier_value, previous.latest_value), (0.9, 0.5));
        assert_eq!((previous.difference, previous.direction), (-0.4, ChangeDirection::Lower));
        let year = Change::of(&series(), CompareTo::DaysBefore(365)).unwrap();
        assert_eq!((year.earlier_date, year.earlier_value), (NaiveDate::from_ymd_opt(2020, 1, 10).unwrap(), 62.8));
        let half = Change::of(&series(), CompareTo::DaysBefore(180)).unwrap();
        assert_eq!(half.earlier_value, 0.9, "180 days before is 2020-08-20: 2020-10-06 is 47 days off, 2020-07-01 50");
        let earlier = Change::of(&series(), CompareTo::DaysBefore(230)).unwrap();
        assert_eq!(earlier.earlier_value, 12.0);
        assert!(Change::of(&series()[..1], CompareTo::Previous).is_none());
        let same = Change::of(&[(at(2020, 1, 1), 3.2), (at(2020, 2, 1), 3.2)], CompareTo::Previous).unwrap();
        assert_eq!(same.direction, ChangeDirection::Same);
    }

    /// The sentence states both values with their dates and the direction, and for a
    /// measure with a worse direction, whether the move is better or worse.
    #[test]
    fn the_sentence_states_both_values_and_the_direction() {
        let c = Change::of(&series(), CompareTo::Previous).unwrap();
        assert_eq!(
            c.sentence("mg/L", None),
            "Against the value before it (0.9 mg/L on 2020-10-06), the latest (0.5 mg/L on 2021-02-16) is lower, by 0.4 mg/L."
        );
        assert!(c.sentence("g/dL", Some(Worse::Lower)).contains("is lower (worse), by 0.4 g/dL."));
        assert!(c.sentence("mg/L", Some(Worse::Higher)).contains("is lower (better), by 0.4 mg/L."));
        let das = Change::of(&[(at(2019, 7, 10), 5.96), (at(2019, 8, 16), 3.25)], CompareTo::DaysBefore(30)).unwrap();
        assert_eq!(
            das.sentence("", Some(journey::clinical::das28::WORSE)),
            "Against the value nearest 30 days before (5.96 on 2019-07-10), the latest (3.25 on 2019-08-16) is lower (better), by 2.71."
        );
    }
}
