//! Built-in MACs.

pub mod umac;
