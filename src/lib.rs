//! jrule: a typed language and embeddable engine for customer-journey rules.
#![forbid(unsafe_code)]

pub mod diagnostic;
pub mod source;
pub mod syntax;
pub mod types;
