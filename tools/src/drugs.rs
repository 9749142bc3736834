//! The drugs the tools name and classify, by RxNorm ingredient code: the table lives
//! in `twin_core::clinical::drugs` (the cohort analytics classify with it too).

pub use twin_core::clinical::drugs::{lookup, Drug, DrugClass, DRUGS, RXNORM};
