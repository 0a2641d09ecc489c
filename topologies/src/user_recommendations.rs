//! user-recommendations: every recommendation request answered with the user's top allowed
//! products.
//!
//! `client-searches` (value: JSON [`Search`]) → group by `user_id` (repartition
//! `searches-by-user`) → aggregate into the store `user-interests` ([`Interests`]: category
//! counts, recently searched products); grouped again by `user_id` (repartition
//! `recent-searches-by-user`) into sliding windows of one hour and aggregated into the window
//! store `user-recent-interests` (the same [`Interests`], per hour of searches).
//! `client-recommendation-requests` (key: user id, value: JSON [`RecommendationRequest`];
//! partitioned like the repartition topics) → left join with the interests table → left join
//! with the user's last-hour window (`left_join_window`: the window ending last at or before the
//! request, at most an hour before it) → look every product of both up in the global table
//! `forbidden-products` → [`Recommendations`] (the last hour's products and categories first,
//! at most [`Recommendations::TOP_N`] products, never a forbidden one) →
//! `client-recommendations`.
//!
//! The sliding windows have a grace of one hour (not none): a window store keeps a window until
//! its end plus grace, and a request must still see the window that ended up to an hour before
//! it (`left_join_window`'s rule).

use std::time::Duration;

use weir_engine::{
    Consumed, Grouped, Materialized, Produced, Serdes, SlidingWindows, StreamsBuilder,
    StreamsError, Topology,
};

use crate::model::{Interests, RecommendationRequest, Recommendations, Search};

pub const SEARCHES: &str = "client-searches";
pub const REQUESTS: &str = "client-recommendation-requests";
pub const FORBIDDEN: &str = "forbidden-products";
pub const OUTPUT: &str = "client-recommendations";
pub const INTEREST_STORE: &str = "user-interests";
pub const RECENT_INTEREST_STORE: &str = "user-recent-interests";
/// How far back "recent" interests reach: sliding windows of this time difference (and grace).
pub const RECENT: Duration = Duration::from_secs(3600);
pub const FORBIDDEN_STORE: &str = "forbidden-products";

/// A request with the user's interests of all time and of the last hour.
type Asked = (RecommendationRequest, Option<Interests>, Option<Interests>);

/// The user-recommendations topology for `application_id`.
pub fn topology(application_id: &str) -> Result<Topology, StreamsError> {
    let b = StreamsBuilder::new(application_id);
    let forbidden = b.global_table(
        FORBIDDEN,
        Consumed::with(Serdes::string(), Serdes::string()).named("forbidden-products-source"),
        Materialized::as_(FORBIDDEN_STORE),
    );
    let searches = b.stream(
        SEARCHES,
        Consumed::with(Serdes::string(), Serdes::json::<Search>()).named("client-searches-source"),
    );
    let interests = searches
        .group_by(
            |_, s| s.user_id.clone(),
            Grouped::as_("searches-by-user").with_key_serde(Serdes::string()),
        )
        .aggregate(
            Interests::default,
            |_, s, agg| agg.with_search(&s),
            Materialized::as_(INTEREST_STORE).with_value_serde(Serdes::json()),
        );
    let recent = searches
        .group_by(
            |_, s| s.user_id.clone(),
            Grouped::as_("recent-searches-by-user")
                .with(Serdes::string(), Serdes::json::<Search>()),
        )
        .windowed_by_sliding(SlidingWindows::of_time_difference_and_grace(RECENT, RECENT))
        .aggregate(
            Interests::default,
            |_, s, agg| agg.with_search(&s),
            Materialized::as_(RECENT_INTEREST_STORE).with_value_serde(Serdes::json()),
        );
    b.stream(
        REQUESTS,
        Consumed::with(Serdes::string(), Serdes::json::<RecommendationRequest>())
            .named("requests-source"),
    )
    .left_join(&interests, |req, interests| (req, interests))
    .named("lookup-interests")
    .left_join_window(&recent, |(req, interests), recent| (req, interests, recent))
    .named("lookup-recent-interests")
    .left_join_global_many(
        &forbidden,
        |_, (_, interests, recent): &Asked| {
            [recent, interests]
                .into_iter()
                .flatten()
                .flat_map(|i| i.recent_products.iter().cloned())
                .collect()
        },
        |(req, interests, recent), rows: Vec<(String, String)>| {
            Recommendations::answer(req, interests.as_ref(), recent.as_ref(), |p| {
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
