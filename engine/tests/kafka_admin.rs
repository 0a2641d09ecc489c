//! Internal topics against a real Kafka-protocol broker (tansu, started per test on a free port).
//!
//! The broker binary comes from `weir_tansu::tansu_bin` (`WEIR_TANSU_BIN`, the venv under
//! `~/.cache/weir`, or installed there on first use); a test that cannot get one fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use weir_tansu::Tansu;

use std::net::TcpListener;
use std::time::Duration;

use weir_engine::kafka::admin::{
    CleanupPolicy, create_topics, ensure_internal_topics, partition_count,
};
use weir_engine::{
    Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, StreamsConfig, StreamsError,
    Topology,
};

const TIMEOUT: Duration = Duration::from_secs(20);

/// The broker's config for an application.
fn config(tansu: &Tansu, application_id: &str) -> StreamsConfig {
    StreamsConfig::new(application_id)
        .with("bootstrap.servers", tansu.bootstrap())
        .unwrap()
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

/// `clicks` and `views` merged, enriched from the global table `users`, re-keyed by page
/// (repartition `by-page`) and counted (store `page-counts`, logged).
fn page_counts(application_id: &str) -> Topology {
    let b = StreamsBuilder::new(application_id);
    let users = b.global_table("users", strings(), Materialized::as_("users-global"));
    let clicks = b.stream("clicks", strings());
    let views = b.stream("views", strings());
    clicks
        .merge(&views)
        .left_join_global(
            &users,
            |user, _| user.clone(),
            |page, name| format!("{page} by {}", name.unwrap_or_default()),
        )
        .group_by(
            |_, v| v.split(' ').next().unwrap_or_default().to_string(),
            Grouped::as_("by-page").with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("page-counts"))
        .to_stream()
        .to(
            "page-counts-out",
            Produced::with(Serdes::string(), Serdes::i64()),
        );
    b.build().unwrap()
}

fn create_sources(config: &StreamsConfig) {
    create_topics(
        config,
        &[
            ("clicks", 2, CleanupPolicy::Delete),
            ("views", 4, CleanupPolicy::Delete),
            ("users", 3, CleanupPolicy::Compact),
            ("page-counts-out", 1, CleanupPolicy::Delete),
        ],
        TIMEOUT,
    )
    .unwrap();
}

#[test]
fn internal_topics_are_created_with_their_writers_partition_counts() {
    let tansu = Tansu::start();
    let config = config(&tansu, "pages");
    create_sources(&config);
    let topology = page_counts("pages");
    let repartition = "pages-by-page-repartition";
    let changelog = "pages-page-counts-changelog";
    assert_eq!(
        topology.repartition_topics().collect::<Vec<_>>(),
        [repartition]
    );
    assert_eq!(topology.changelog_topics(), [changelog]);

    let layout = ensure_internal_topics(&config, &topology, TIMEOUT).unwrap();
    // The repartition topic is written by the sub-topology reading clicks (2) and views (4).
    assert_eq!(layout.partitions[repartition], 4);
    assert_eq!(layout.partitions[changelog], 4);
    assert_eq!(layout.partitions["users"], 3);
    assert_eq!(layout.partitions["clicks"], 2);
    assert_eq!(layout.tasks.values().copied().collect::<Vec<_>>(), [4, 4]);
    // What the broker's metadata says.
    for (topic, n) in [(repartition, 4), (changelog, 4), ("users", 3)] {
        assert_eq!(
            partition_count(&config, topic, TIMEOUT).unwrap(),
            Some(n),
            "{topic}"
        );
    }
    assert_eq!(
        partition_count(&config, "nope", TIMEOUT).unwrap(),
        None,
        "asking does not create"
    );

    // A second start finds everything in place.
    let again = ensure_internal_topics(&config, &topology, TIMEOUT).unwrap();
    assert_eq!(again, layout);
}

#[test]
fn an_internal_topic_with_another_partition_count_stops_start_up() {
    let tansu = Tansu::start();
    let config = config(&tansu, "pages");
    create_sources(&config);
    create_topics(
        &config,
        &[("pages-page-counts-changelog", 2, CleanupPolicy::Compact)],
        TIMEOUT,
    )
    .unwrap();
    let e = ensure_internal_topics(&config, &page_counts("pages"), TIMEOUT).unwrap_err();
    match &e {
        StreamsError::TopicMismatch {
            topic,
            expected,
            actual,
        } => {
            assert_eq!(
                (topic.as_str(), *expected, *actual),
                ("pages-page-counts-changelog", 4, 2)
            );
        }
        other => panic!("expected TopicMismatch, got {other:?}"),
    }
    assert_eq!(e.kind(), weir_engine::ErrorKind::Fatal);
    // Nothing else was created on the failed start.
    assert_eq!(
        partition_count(&config, "pages-by-page-repartition", TIMEOUT).unwrap(),
        None
    );
}

#[test]
fn a_missing_source_topic_is_named() {
    let tansu = Tansu::start();
    let config = config(&tansu, "pages");
    create_topics(
        &config,
        &[
            ("clicks", 2, CleanupPolicy::Delete),
            ("views", 2, CleanupPolicy::Delete),
        ],
        TIMEOUT,
    )
    .unwrap();
    let e = ensure_internal_topics(&config, &page_counts("pages"), TIMEOUT).unwrap_err();
    assert!(
        matches!(&e, StreamsError::MissingSourceTopic(t) if t == "users"),
        "{e:?}"
    );
    assert!(e.to_string().contains("`users`"), "{e}");
    assert_eq!(
        partition_count(&config, "users", TIMEOUT).unwrap(),
        None,
        "never auto-created"
    );
}

#[test]
fn joined_topics_must_have_equal_partition_counts() {
    let tansu = Tansu::start();
    let config = config(&tansu, "orders");
    create_topics(
        &config,
        &[
            ("orders", 2, CleanupPolicy::Delete),
            ("customers", 3, CleanupPolicy::Compact),
        ],
        TIMEOUT,
    )
    .unwrap();
    let b = StreamsBuilder::new("orders");
    let customers = b.table("customers", strings(), Materialized::as_("customers"));
    b.stream("orders", strings())
        .join(&customers, |order, customer| {
            format!("{order} for {customer}")
        })
        .to("enriched-orders", Produced::value_serde(Serdes::string()));
    let e = ensure_internal_topics(&config, &b.build().unwrap(), TIMEOUT).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, StreamsError::CopartitionMismatch { .. }),
        "{msg}"
    );
    assert!(
        msg.contains("`orders` has 2") && msg.contains("`customers` has 3"),
        "{msg}"
    );
}

#[test]
fn an_unreachable_broker_is_a_retriable_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let config = StreamsConfig::new("pages")
        .with("bootstrap.servers", &format!("127.0.0.1:{port}"))
        .unwrap();
    let e =
        ensure_internal_topics(&config, &page_counts("pages"), Duration::from_secs(1)).unwrap_err();
    assert!(matches!(e, StreamsError::Kafka { .. }), "{e:?}");
    assert_eq!(e.kind(), weir_engine::ErrorKind::Retriable, "{e}");
}
