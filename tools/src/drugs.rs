//! The drugs the tools name and classify, by RxNorm ingredient code: the table lives
//! in `journey::clinical::drugs` (the cohort analytics classify with it too).

pub use journey::clinical::drugs::{by_brand, by_word, lookup, Drug, DrugClass, Target, BRANDS, DRUGS, RXNORM};
