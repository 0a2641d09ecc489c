//! user-recommendations: every recommendation request answered with the user's top allowed
//! products.
//!
//! `client-searches` (value: JSON [`Search`]) → group by `user_id` (repartition
//! `searches-by-user`) → aggregate into the store `user-interests` ([`Interests`]: category
//! counts, recently searched products). `client-recommendation-requests` (key: user id, value:
//! JSON [`RecommendationRequest`]; partitioned like the repartition topic) → left join with the
//! interests table → look every recent product up in the global table `forbidden-products` →
//! [`Recommendations`] (at most [`Recommendations::TOP_N`] products, never a forbidden one) →
//! `client-recommendations`.

use weir_engine::{
    Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, StreamsError, Topology,
};

use crate::model::{Interests, RecommendationRequest, Recommendations, Search};

pub const SEARCHES: &str = "client-searches";
pub const REQUESTS: &str = "client-recommendation-requests";
pub const FORBIDDEN: &str = "forbidden-products";
pub const OUTPUT: &str = "client-recommendations";
pub const INTEREST_STORE: &str = "user-interests";
pub const FORBIDDEN_STORE: &str = "forbidden-products";

/// The user-recommendations topology for `application_id`.
pub fn topology(application_id: &str) -> Result<Topology, StreamsError> {
    let b = StreamsBuilder::new(application_id);
    let forbidden = b.global_table(
        FORBIDDEN,
        Consumed::with(Serdes::string(), Serdes::string()).named("forbidden-products-source"),
        Materialized::as_(FORBIDDEN_STORE),
    );
    let interests = b
        .stream(
            SEARCHES,
            Consumed::with(Serdes::string(), Serdes::json::<Search>())
                .named("client-searches-source"),
        )
        .group_by(
            |_, s| s.user_id.clone(),
            Grouped::as_("searches-by-user").with_key_serde(Serdes::string()),
        )
        .aggregate(
            Interests::default,
            |_, s, agg| agg.with_search(&s),
            Materialized::as_(INTEREST_STORE).with_value_serde(Serdes::json()),
        );
    b.stream(
        REQUESTS,
        Consumed::with(Serdes::string(), Serdes::json::<RecommendationRequest>())
            .named("requests-source"),
    )
    .left_join(&interests, |req, interests| (req, interests))
    .named("lookup-interests")
    .left_join_global_many(
        &forbidden,
        |_, (_, interests): &(RecommendationRequest, Option<Interests>)| {
            interests
                .as_ref()
                .map(|i| i.recent_products.clone())
                .unwrap_or_default()
        },
        |(req, interests), rows: Vec<(String, String)>| {
            Recommendations::answer(req, interests.as_ref(), |p| {
                rows.iter().any(|(id, _)| id == p)
            })
        },
    )
    .named("recommend")
    .to(
        OUTPUT,
        Produced::with(Serdes::string(), Serdes::json()).named("recommendations-sink"),
    );
    b.build()
}
