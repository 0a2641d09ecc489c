//! The marketplace's topologies, written with weir's Rust DSL:
//!
//! * [`product_filter`]: `shop-products` minus the products in the `forbidden-products` global
//!   table → `products`;
//! * [`user_recommendations`]: per-user interests aggregated from `client-searches`, and every
//!   request on `client-recommendation-requests` answered with the user's top allowed products;
//! * [`message_filter`]: chat messages minus blocked senders, forbidden words masked;
//! * [`user_interests`]: per-user search counts and interests (the runtime tests' topology).
//!
//! [`avro`] runs product-filter with Schema Registry Avro on both topics and encodes generated
//! products to match (`weir demo`).
//!
//! [`generate`] makes deterministic sample records for their input topics (`weir produce`).
//!
//! [`golden`] replays recorded inputs through the test driver and compares the outputs with the
//! recorded expectations in `golden/`.

pub mod avro;
pub mod generate;
pub mod golden;
pub mod message_filter;
pub mod model;
pub mod product_filter;
pub mod user_interests;
pub mod user_recommendations;
