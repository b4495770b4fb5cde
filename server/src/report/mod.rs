//! Counting: what each record contributes to the statistical totals, maintained
//! incrementally as records change, and the tree the totals roll up through.

pub mod build;
pub mod period;
pub mod span;
pub mod tally;
pub mod totals;
pub mod tree;
