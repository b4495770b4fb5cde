//! Counting: what each record contributes to the statistical totals, maintained
//! incrementally as records change, and the tree the totals roll up through.

pub mod tally;
pub mod tree;
