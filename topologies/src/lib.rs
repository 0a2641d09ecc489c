//! The marketplace's topologies, written with weir's Rust DSL:
//!
//! * [`product_filter`]: `shop-products` minus the products in the `forbidden-products` global
//!   table → `products`;
//! * [`user_interests`]: per-user search counts and interests aggregated from `client-searches`.
//!
//! [`generate`] makes deterministic sample records for their input topics (`weir produce`).
//!
//! [`golden`] replays recorded inputs through the test driver and compares the outputs with the
//! recorded expectations in `golden/`.

pub mod generate;
pub mod golden;
pub mod model;
pub mod product_filter;
pub mod user_interests;
