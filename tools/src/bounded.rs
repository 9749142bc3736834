//! [`Bounded`]: a tool's output with an explicit statement of what was cut.
//!
//! Every tool has a hard bound (items per list, bytes overall) so a long journey never
//! floods a small model's context. When a list is cut, the result says so
//! (`truncated`, `omitted`) instead of silently looking complete.

use schemars::JsonSchema;
use serde::Serialize;

/// A tool's output and whether it was cut to the tool's bound.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Bounded<T> {
    pub value: T,
    /// True when some items were left out to respect the tool's bound.
    pub truncated: bool,
    /// How many items were left out, over all lists of the output.
    pub omitted: usize,
}

impl<T> Bounded<T> {
    pub fn complete(value: T) -> Self {
        Bounded { value, truncated: false, omitted: 0 }
    }

    pub fn new(value: T, trimmer: Trimmer) -> Self {
        Bounded { value, truncated: trimmer.omitted > 0, omitted: trimmer.omitted }
    }
}

/// Cuts lists to their bounds and counts what it left out.
#[derive(Debug, Default)]
pub struct Trimmer {
    omitted: usize,
}

impl Trimmer {
    /// Keeps the last `max` items (the most recent, for time-ordered lists).
    pub fn keep_last<T>(&mut self, mut items: Vec<T>, max: usize) -> Vec<T> {
        if items.len() > max {
            let cut = items.len() - max;
            self.omitted += cut;
            items.drain(..cut);
        }
        items
    }

    /// Keeps the first `max` items.
    pub fn keep_first<T>(&mut self, mut items: Vec<T>, max: usize) -> Vec<T> {
        if items.len() > max {
            self.omitted += items.len() - max;
            items.truncate(max);
        }
        items
    }

    /// Counts items left out elsewhere (e.g. characters of a text cut to its bound are
    /// not counted here; a whole omitted item is).
    pub fn omitted(&self) -> usize {
        self.omitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_says_how_much_was_left_out() {
        let mut t = Trimmer::default();
        assert_eq!(t.keep_last(vec![1, 2, 3, 4, 5], 2), vec![4, 5]);
        assert_eq!(t.keep_first(vec![1, 2, 3], 1), vec![1]);
        assert_eq!(t.keep_first(vec![1, 2], 5), vec![1, 2]);
        let b = Bounded::new((), t);
        assert!(b.truncated);
        assert_eq!(b.omitted, 5);
        let whole = Bounded::new((), Trimmer::default());
        assert!(!whole.truncated);
        assert_eq!(whole.omitted, 0);
    }
}
