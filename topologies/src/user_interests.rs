//! user-interests: per-user search counts and interests from `client-searches`.
//!
//! `client-searches` (key: anything, value: JSON [`Search`]) → group by `user_id` (repartition
//! `searches-by-user`) → count into `search-counts` → `user-search-counts`; and aggregate into
//! `user-interests` ([`Interests`]) → `user-interests`.

use weir_engine::{
    Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, StreamsError, Topology,
};

use crate::model::{Interests, Search};

pub const INPUT: &str = "client-searches";
pub const COUNTS: &str = "user-search-counts";
pub const INTERESTS: &str = "user-interests";
pub const COUNT_STORE: &str = "search-counts";
pub const INTEREST_STORE: &str = "user-interests";

/// The user-interests topology for `application_id`.
pub fn topology(application_id: &str) -> Result<Topology, StreamsError> {
    let b = StreamsBuilder::new(application_id);
    let by_user = b
        .stream(
            INPUT,
            Consumed::with(Serdes::string(), Serdes::json::<Search>())
                .named("client-searches-source"),
        )
        .group_by(
            |_, s| s.user_id.clone(),
            Grouped::as_("searches-by-user").with_key_serde(Serdes::string()),
        );
    by_user
        .count(Materialized::as_(COUNT_STORE))
        .to_stream()
        .to(
            COUNTS,
            Produced::with(Serdes::string(), Serdes::i64()).named("counts-sink"),
        );
    by_user
        .aggregate(
            Interests::default,
            |_, s, agg| agg.with_search(&s),
            Materialized::as_(INTEREST_STORE).with_value_serde(Serdes::json()),
        )
        .to_stream()
        .to(
            INTERESTS,
            Produced::with(Serdes::string(), Serdes::json()).named("interests-sink"),
        );
    b.build()
}
