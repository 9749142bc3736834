//! The readings the held-out set added (issue 21): a drug or class ever started, a trend
//! over the last N values, a change against an earlier value, the treatment options'
//! figures, a cohort figure of any kind. Each is read from a tool's output (the JSON the
//! system role gets, `judge::system_call`) by one function and checked against an
//! answer's text by another, so both are tested without a store or a model.

use chrono::{NaiveDate, NaiveTime};
use serde_json::Value;
use tools::drugs::{DrugClass, DRUGS};
use tools::trend::trend;
use tools::Trend;

use crate::judge::{has_any, states_number};

/// A measure's dated values, oldest first, as a tool listed them.
pub(crate) type Series = Vec<(NaiveDate, f64)>;

/// The dated values of a tool's list (`readings` of `disease_activity_history` with
/// `das28`, `values` of `lab_trend` with `value`).
pub(crate) fn series(output: &Value, list: &str, value: &str) -> Series {
    let mut s: Series = output[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["date"].as_str()?.parse().ok()?, p[value].as_f64()?)))
        .collect();
    s.sort_by_key(|(date, _)| *date);
    s
}

/// The direction of the tools' trend statistic over the last `n` values, with the
/// measure's stable threshold: the same reading the tools give over a window, over
/// a count of visits instead (a tool lists dates, so each value is placed at midnight).
pub(crate) fn trend_of_last(series: &[(NaiveDate, f64)], n: usize, stable_per_30_days: f64) -> Trend {
    let points: Vec<_> = series[series.len().saturating_sub(n)..]
        .iter()
        .map(|(date, v)| (date.and_time(NaiveTime::MIN).and_utc(), *v))
        .collect();
    trend(&points, stable_per_30_days).direction
}

/// The value the latest is compared with: the one before it, or the one nearest
/// `days_before` days before the latest (the earlier on a tie; never the latest itself).
pub(crate) fn earlier(series: &[(NaiveDate, f64)], days_before: Option<u32>) -> Option<(NaiveDate, f64)> {
    let (&(latest, _), before) = series.split_last()?;
    match days_before {
        None => before.last().copied(),
        Some(days) => {
            let target = latest - chrono::Duration::days(i64::from(days));
            before.iter().min_by_key(|(d, _)| ((*d - target).num_days().abs(), *d)).copied()
        }
    }
}

/// Which way the latest value lies from an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Higher,
    Lower,
    Same,
}

impl Direction {
    /// Values are stated to two decimals: closer than that is the same.
    pub(crate) fn of(latest: f64, earlier: f64) -> Direction {
        if (latest - earlier).abs() < 0.005 {
            Direction::Same
        } else if latest > earlier {
            Direction::Higher
        } else {
            Direction::Lower
        }
    }

    /// Words a reader takes for this direction. A lower DAS28 is better, so for DAS28
    /// "improved" and "worse" count too; for a lab, better and worse depend on the test
    /// and say nothing of the direction. RDT's trend words ("rising", "falling") are
    /// left out: its sentences state the trend over a window, not this comparison.
    fn words(self, das28: bool) -> Vec<&'static str> {
        let mut words = match self {
            Direction::Higher => vec!["higher", "rose", "risen", "increased", "went up", "gone up", "is up", "climbed"],
            Direction::Lower => vec!["lower", "fell", "fallen", "decreased", "dropped", "went down", "gone down", "is down"],
            Direction::Same => vec!["same", "unchanged", "no change", "not changed", "identical"],
        };
        if das28 {
            match self {
                Direction::Higher => words.extend(["worse", "worsened"]),
                Direction::Lower => words.extend(["improved", "better"]),
                Direction::Same => {}
            }
        }
        words
    }

    fn opposite(self) -> Option<Direction> {
        match self {
            Direction::Higher => Some(Direction::Lower),
            Direction::Lower => Some(Direction::Higher),
            Direction::Same => None,
        }
    }
}

/// Whether `text` states the change from `earlier` to `latest`: both values, or words
/// of its direction and none of the opposite one.
pub(crate) fn states_change(text: &str, latest: f64, earlier: f64, das28: bool) -> bool {
    let direction = Direction::of(latest, earlier);
    let both = direction != Direction::Same && states_number(text, latest) && states_number(text, earlier);
    let opposite = direction.opposite().is_some_and(|o| has_any(text, &o.words(das28)));
    both || (has_any(text, &direction.words(das28)) && !opposite)
}

/// Whether a drug of `name` and `class` (snake_case, as the tools write it) is one of
/// `any_of`: a class, `biologic` (TNF inhibitors and other biologics) or a drug name.
fn in_group(name: &str, class: &str, any_of: &[String]) -> bool {
    let name = name.to_lowercase();
    any_of.iter().map(|e| e.to_lowercase()).any(|e| {
        e == class || (e == "biologic" && matches!(class, "tnf_inhibitor" | "other_biologic")) || name.contains(&e)
    })
}

fn class_name(class: DrugClass) -> String {
    serde_json::to_value(class).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The drugs of `medication_history`'s courses that are of the group: what the record
/// holds, each once.
pub(crate) fn courses_in_group(output: &Value, any_of: &[String]) -> Vec<String> {
    let mut held: Vec<String> = output["courses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            let (drug, class) = (c["drug"].as_str().unwrap_or_default(), c["class"].as_str().unwrap_or_default());
            in_group(drug, class, any_of)
        })
        .filter_map(|c| c["drug"].as_str().map(str::to_lowercase))
        .collect();
    held.sort();
    held.dedup();
    held
}

/// Every drug RDT knows of the group, by name: an answer saying "no" names none of them.
fn known_in_group(any_of: &[String]) -> Vec<&'static str> {
    DRUGS.iter().filter(|d| in_group(d.name, &class_name(d.class), any_of)).map(|d| d.name).collect()
}

/// Words saying a drug was never given.
const NEVER: [&str; 12] = [
    "never", "has not", "hasn't", "have not", "haven't", "was not", "wasn't", "not been", "no record", "not in the record",
    "did not", "didn't",
];

fn opens_with(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric()).find(|w| !w.is_empty()).is_some_and(|w| w.eq_ignore_ascii_case(word))
}

/// Whether `text` answers "was a drug of the group ever started?" as the record does:
/// with `held` (the record's drugs of the group) yes, opening with "yes" or naming one
/// of them, never opening with "no"; with none, no (opening with "no" or saying never),
/// naming no drug of the group.
pub(crate) fn says_ever(text: &str, held: &[String], any_of: &[String]) -> bool {
    let lower = text.to_lowercase();
    let names = |drug: &str| lower.contains(drug.split_whitespace().next().unwrap_or(drug));
    if held.is_empty() {
        // A drug named in a clause that negates it ("he has never had
        // hydroxychloroquine") is the answer no, not a course named.
        let affirmed: String = lower
            .split(['.', ';'])
            .filter(|clause| !(has_any(clause, &NEVER) || clause.trim_start().starts_with("no ")))
            .collect::<Vec<_>>()
            .join(". ");
        let names_affirmed = |drug: &str| affirmed.contains(drug.split_whitespace().next().unwrap_or(drug));
        (opens_with(text, "no") || has_any(text, &NEVER)) && !known_in_group(any_of).into_iter().any(names_affirmed)
    } else {
        !opens_with(text, "no") && (opens_with(text, "yes") || held.iter().any(|d| names(d)))
    }
}

/// The numbers a cohort figure (`similar_patients`' and `compare_treatments`' `Figure`)
/// states: a percent (also as a fraction) or a mean; `None` when it says there are not
/// enough comparable patients.
pub(crate) fn figure_numbers(figure: &Value) -> Option<Vec<f64>> {
    match figure["kind"].as_str()? {
        "rate" | "kaplan_meier" | "weighted_rate" => {
            let percent = figure["percent"].as_f64()?;
            Some(vec![percent, percent / 100.0])
        }
        "mean" | "weighted_mean" => Some(vec![figure["mean"].as_f64()?]),
        _ => None,
    }
}

/// The counterfactual head's figure of one outcome (`HeadOut`): a DAS28 or a percent.
fn head_numbers(head: &Value) -> Vec<f64> {
    let figure = &head["figure"];
    match (figure["das28"].as_f64(), figure["percent"].as_f64()) {
        (Some(das28), _) => vec![das28],
        (None, Some(percent)) => vec![percent, percent / 100.0],
        _ => Vec::new(),
    }
}

/// What a right answer about the treatment options can state: the figures of the named
/// option (or of every option when none is named) among options with enough comparable
/// patients; none when no such option has one.
pub(crate) fn option_figures(output: &Value, option: Option<&str>) -> Vec<f64> {
    output["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| option.is_none_or(|key| o["option"] == key) && o["enough_patients"] == true)
        .flat_map(|o| {
            let heads = o["counterfactual_head"].as_array().into_iter().flatten().flat_map(head_numbers);
            let rows = o["outcomes"].as_array().into_iter().flatten().flat_map(|r| {
                [&r["weighted"], &r["similar_patients"]].into_iter().filter_map(figure_numbers).flatten()
            });
            heads.chain(rows).collect::<Vec<f64>>()
        })
        // A figure of 0 (no neighbour flared, none stopped) cannot be told from any zero
        // in a text (a date, "0 of 20"): stating it is not taken as stating a figure.
        .filter(|f| *f != 0.0)
        .collect()
}

/// Words saying the cohort has too few patients for a figure.
pub(crate) const NOT_ENOUGH: [&str; 4] = ["not enough", "too few", "insufficient", "no option has enough"];

/// Whether `text` states one of `figures`, or, when there is none, that there are not
/// enough comparable patients.
pub(crate) fn states_a_figure(text: &str, figures: &[f64]) -> bool {
    if figures.is_empty() {
        has_any(text, &NOT_ENOUGH)
    } else {
        figures.iter().any(|f| states_number(text, *f))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn strings(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_series_is_read_from_a_tools_list_oldest_first() {
        let out = json!({"readings": [
            {"date": "2023-05-01", "das28": 3.1}, {"date": "2023-01-01", "das28": 4.2}, {"date": "bad", "das28": 1.0}
        ]});
        assert_eq!(series(&out, "readings", "das28"), vec![(d("2023-01-01"), 4.2), (d("2023-05-01"), 3.1)]);
        assert!(series(&json!({}), "values", "value").is_empty());
    }

    /// A series that falls over the record and rises over its last three values: the
    /// last-N reading follows the last three only, and three is the fewest it reads.
    #[test]
    fn the_trend_over_the_last_values_reads_only_those_values() {
        let s = vec![
            (d("2022-01-01"), 6.0),
            (d("2022-04-01"), 5.0),
            (d("2022-07-01"), 2.0),
            (d("2022-10-01"), 3.0),
            (d("2023-01-01"), 4.0),
        ];
        assert_eq!(trend_of_last(&s, 3, 0.1), Trend::Rising);
        assert_eq!(trend_of_last(&s, 5, 0.1), Trend::Falling);
        assert_eq!(trend_of_last(&s, 2, 0.1), Trend::InsufficientData);
        assert_eq!(trend_of_last(&s, 30, 0.1), trend_of_last(&s, 5, 0.1), "n beyond the series reads it all");
    }

    #[test]
    fn the_earlier_value_is_the_previous_or_the_nearest_to_the_days_before() {
        let s = vec![(d("2022-01-01"), 5.0), (d("2022-07-01"), 4.0), (d("2022-12-01"), 3.5), (d("2023-01-01"), 3.0)];
        assert_eq!(earlier(&s, None), Some((d("2022-12-01"), 3.5)));
        assert_eq!(earlier(&s, Some(180)), Some((d("2022-07-01"), 4.0)));
        assert_eq!(earlier(&s, Some(365)), Some((d("2022-01-01"), 5.0)));
        assert_eq!(earlier(&s[..1], None), None, "one value has nothing to compare with");
    }

    #[test]
    fn a_change_is_stated_by_both_values_or_by_its_direction_alone() {
        // DAS28 from 4.1 to 3.2: lower, better.
        assert!(states_change("It fell from 4.1 to 3.2.", 3.2, 4.1, true));
        assert!(states_change("Her DAS28 has improved since the previous visit.", 3.2, 4.1, true));
        assert!(states_change("DAS28 3.2, previously 4.1.", 3.2, 4.1, true));
        assert!(!states_change("Her DAS28 is higher than before.", 3.2, 4.1, true));
        assert!(!states_change("It is lower, though higher than at baseline.", 3.2, 4.1, true), "both directions");
        assert!(!states_change("The latest DAS28 is 3.2. Trend: falling.", 3.2, 4.1, true), "a trend is not the change");
        // A lab: "better" says nothing of the direction.
        assert!(!states_change("The CRP is better.", 5.0, 12.0, false));
        assert!(states_change("The CRP is lower than the previous value.", 5.0, 12.0, false));
        assert!(states_change("Unchanged at 5 mg/L.", 5.0, 5.0, false));
        assert!(!states_change("CRP 5, previously 5.", 5.0, 5.0, false), "equal values say no direction");
    }

    fn courses() -> Value {
        json!({"courses": [
            {"drug": "methotrexate", "class": "csdmard"},
            {"drug": "adalimumab", "class": "tnf_inhibitor"},
            {"drug": "prednisone", "class": "glucocorticoid"},
        ]})
    }

    #[test]
    fn the_record_holds_a_group_by_class_biologic_or_name() {
        let held = |any_of: &[&str]| courses_in_group(&courses(), &strings(any_of));
        assert_eq!(held(&["biologic"]), ["adalimumab"]);
        assert_eq!(held(&["tnf_inhibitor"]), ["adalimumab"]);
        assert_eq!(held(&["methotrexate"]), ["methotrexate"]);
        assert_eq!(held(&["csdmard", "glucocorticoid"]), ["methotrexate", "prednisone"]);
        assert!(held(&["jak_inhibitor"]).is_empty() && held(&["rituximab"]).is_empty());
        assert!(known_in_group(&strings(&["jak_inhibitor"])).contains(&"tofacitinib"));
    }

    #[test]
    fn ever_started_is_yes_naming_a_drug_held_or_no_naming_none() {
        let yes = strings(&["adalimumab"]);
        let biologic = strings(&["biologic"]);
        assert!(says_ever("Yes, she has had a biologic.", &yes, &biologic));
        assert!(says_ever("She was on adalimumab from 2019.", &yes, &biologic));
        assert!(!says_ever("No biologic is on record.", &yes, &biologic), "a false no about a drug held");
        assert!(!says_ever("The record can't answer that.", &yes, &biologic));
        let jak = strings(&["jak_inhibitor"]);
        assert!(says_ever("No, no JAK inhibitor on record.", &[], &jak));
        assert!(says_ever("She has never had a JAK inhibitor.", &[], &jak));
        assert!(!says_ever("Yes, tofacitinib.", &[], &jak));
        assert!(!says_ever("No; she took tofacitinib briefly.", &[], &jak), "names a drug of the class");
        assert!(!says_ever("Current drugs: methotrexate.", &[], &jak), "a list is not a no");
        let hcq = vec!["hydroxychloroquine".to_owned()];
        assert!(says_ever("He has never had hydroxychloroquine.", &[], &hcq), "the drug named in the no itself");
        assert!(says_ever("Ever started hydroxychloroquine: no, never on record; current: methotrexate.", &[], &hcq));
        assert!(!says_ever("Never on record. He took hydroxychloroquine in 2019.", &[], &hcq), "named apart from the no");
        let steroid = strings(&["glucocorticoid"]);
        assert!(says_ever("No, she did not receive prednisolone or any other corticosteroid.", &[], &steroid));
        assert!(!says_ever("No, she took prednisolone in 2019.", &[], &steroid), "a drug of the group affirmed");
    }

    #[test]
    fn cohort_figures_of_every_kind_give_their_numbers() {
        assert_eq!(figure_numbers(&json!({"kind": "rate", "percent": 40, "n": 20})), Some(vec![40.0, 0.4]));
        assert_eq!(figure_numbers(&json!({"kind": "kaplan_meier", "percent": 25})), Some(vec![25.0, 0.25]));
        assert_eq!(figure_numbers(&json!({"kind": "weighted_mean", "mean": 3.4})), Some(vec![3.4]));
        assert_eq!(figure_numbers(&json!({"kind": "not_enough_comparable_patients", "n": 3, "min_n": 20})), None);
    }

    fn options() -> Value {
        json!({"options": [
            {"option": "jak_inhibitor", "enough_patients": true,
             "counterfactual_head": [{"figure": {"kind": "value", "das28": 3.05}}],
             "outcomes": [{"weighted": {"kind": "weighted_rate", "percent": 55},
                           "similar_patients": {"kind": "rate", "percent": 48}},
                          {"weighted": {"kind": "weighted_rate", "percent": 0},
                           "similar_patients": {"kind": "rate", "percent": 0}}]},
            {"option": "rituximab", "enough_patients": false, "counterfactual_head": [],
             "outcomes": [{"weighted": {"kind": "not_enough_comparable_patients"},
                           "similar_patients": {"kind": "rate", "percent": 12}}]},
        ]})
    }

    #[test]
    fn an_options_answer_states_a_figure_of_the_option_or_says_too_few() {
        let jak = option_figures(&options(), Some("jak_inhibitor"));
        assert!(jak.contains(&3.05) && jak.contains(&55.0) && jak.contains(&48.0));
        assert!(states_a_figure("Among similar patients on a JAK inhibitor, 55% responded.", &jak));
        assert!(!states_a_figure("A JAK inhibitor may help.", &jak));
        assert!(!jak.contains(&0.0) && !states_a_figure("0 of 20 stopped on a JAK inhibitor.", &jak), "no zero figure");
        let rituximab = option_figures(&options(), Some("rituximab"));
        assert!(rituximab.is_empty(), "an option with too few patients has no figure to state");
        assert!(states_a_figure("Not enough comparable patients started rituximab.", &rituximab));
        assert!(!states_a_figure("12% responded on rituximab.", &rituximab));
        assert_eq!(option_figures(&options(), None), jak, "no option named: any option with enough patients");
    }
}
