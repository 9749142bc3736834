//! The four DAS28 disease-activity states the Markov model moves between: DESIGN.md's
//! categories (remission < 2.6, low <= 3.2, moderate <= 5.1, high > 5.1), defined once
//! in [`journey::clinical::das28`] and used here as they are.

pub use journey::clinical::das28::ActivityCategory as DiseaseState;

/// How many states there are: the side of every transition matrix.
pub const N_STATES: usize = 4;

/// The states in matrix order: row and column `i` of a transition matrix is `STATES[i]`.
pub const STATES: [DiseaseState; N_STATES] =
    [DiseaseState::Remission, DiseaseState::Low, DiseaseState::Moderate, DiseaseState::High];

/// The state of a DAS28 score; `None` for a score that is not a number.
pub fn state_of(das28: f64) -> Option<DiseaseState> {
    das28.is_finite().then(|| DiseaseState::of(das28))
}

/// Row/column of `state` in a transition matrix.
pub fn state_index(state: DiseaseState) -> usize {
    STATES.iter().position(|s| *s == state).expect("STATES lists every state")
}

/// The state's name as JSON spells it.
pub fn state_name(state: DiseaseState) -> &'static str {
    match state {
        DiseaseState::Remission => "remission",
        DiseaseState::Low => "low",
        DiseaseState::Moderate => "moderate",
        DiseaseState::High => "high",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_in_matrix_order() {
        for (i, s) in STATES.into_iter().enumerate() {
            assert_eq!(state_index(s), i);
            assert_eq!(serde_json::to_value(s).unwrap(), state_name(s));
        }
        assert_eq!(state_of(5.11), Some(DiseaseState::High));
        assert_eq!(state_of(f64::NAN), None);
    }
}
