//! Joins through the test driver: stream–table, stream–global-table and table–table, inner and
//! left, with rows arriving before, after and deleted between stream records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use weir_engine::testkit::{TestInputTopic, TopologyTestDriver};
use weir_engine::{
    Consumed, GlobalKTable, KStream, KTable, Materialized, Produced, Repartitioned, Serdes,
    StreamsBuilder,
};

fn s(x: &str) -> String {
    x.to_owned()
}

fn kv(k: &str, v: &str) -> (String, Option<String>) {
    (s(k), Some(s(v)))
}

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn input(d: &TopologyTestDriver, topic: &str) -> TestInputTopic<String, String> {
    d.input_topic(topic, Serdes::string(), Serdes::string())
}

fn read(d: &mut TopologyTestDriver, topic: &str) -> Vec<(String, Option<String>)> {
    d.output_topic(topic, Serdes::string(), Serdes::string())
        .read_key_values(d)
        .unwrap()
}

/// `clicks` (user → page) and the `users` table (user → name).
fn clicks_and_users(b: &StreamsBuilder) -> (KStream<String, String>, KTable<String, String>) {
    let clicks = b.stream("clicks", strings());
    let users = b.table("users", strings(), Materialized::as_("users-store"));
    (clicks, users)
}

#[test]
fn stream_table_inner_join_drops_records_without_a_row() {
    let b = StreamsBuilder::new("app");
    let (clicks, users) = clicks_and_users(&b);
    clicks
        .join(&users, |page, name| format!("{name} viewed {page}"))
        .to("enriched", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let (c, u) = (input(&d, "clicks"), input(&d, "users"));
    c.pipe_at(&mut d, s("u1"), s("p0"), 1).unwrap(); // before any row: dropped
    u.pipe_at(&mut d, s("u1"), s("ann"), 2).unwrap(); // table updates emit nothing
    c.pipe_at(&mut d, s("u1"), s("p1"), 3).unwrap();
    c.pipe_at(&mut d, s("u2"), s("p1"), 4).unwrap(); // other key: no row
    u.pipe_at(&mut d, s("u1"), s("anna"), 5).unwrap();
    c.pipe_at(&mut d, s("u1"), s("p2"), 6).unwrap();
    u.pipe_tombstone(&mut d, s("u1")).unwrap();
    c.pipe_at(&mut d, s("u1"), s("p3"), 7).unwrap(); // after the delete: dropped
    let out = d.output_topic("enriched", Serdes::string(), Serdes::string());
    let got: Vec<(String, Option<String>, i64)> = out
        .read_records(&mut d)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            (s("u1"), Some(s("ann viewed p1")), 3),
            (s("u1"), Some(s("anna viewed p2")), 6)
        ]
    );
}

#[test]
fn stream_table_left_join_passes_none_without_a_row() {
    let b = StreamsBuilder::new("app");
    let (clicks, users) = clicks_and_users(&b);
    clicks
        .left_join(&users, |page, name: Option<String>| {
            format!("{} viewed {page}", name.unwrap_or_else(|| s("anon")))
        })
        .to("enriched", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let (c, u) = (input(&d, "clicks"), input(&d, "users"));
    c.pipe(&mut d, s("u1"), s("p0")).unwrap();
    u.pipe(&mut d, s("u1"), s("ann")).unwrap();
    c.pipe(&mut d, s("u1"), s("p1")).unwrap();
    u.pipe_tombstone(&mut d, s("u1")).unwrap();
    c.pipe(&mut d, s("u1"), s("p2")).unwrap();
    // A stream-side tombstone is dropped by the join, even a left join.
    c.pipe_tombstone(&mut d, s("u1")).unwrap();
    assert_eq!(
        read(&mut d, "enriched"),
        vec![
            kv("u1", "anon viewed p0"),
            kv("u1", "ann viewed p1"),
            kv("u1", "anon viewed p2")
        ]
    );
}

#[test]
fn stream_table_join_puts_both_topics_in_one_copartitioned_task() {
    let b = StreamsBuilder::new("app");
    let (clicks, users) = clicks_and_users(&b);
    clicks
        .join(&users, |p, n| format!("{n}{p}"))
        .to("out", Produced::value_serde(Serdes::string()));
    let topology = b.build().unwrap();
    assert_eq!(topology.subtopologies().len(), 1);
    let groups = topology.copartition_groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].topics, vec![s("clicks"), s("users")]);
}

#[test]
fn a_join_after_a_key_change_works_once_repartitioned() {
    let b = StreamsBuilder::new("app");
    let users = b.table("users", strings(), Materialized::as_("users-store"));
    // `orders` are keyed by order id, valued by user id.
    b.stream("orders", strings())
        .select_key(|_, user| user.clone())
        .repartition(Repartitioned::as_("orders-by-user").with(Serdes::string(), Serdes::string()))
        .join(&users, |user, name| format!("{user}={name}"))
        .to("out", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    input(&d, "users").pipe(&mut d, s("u1"), s("ann")).unwrap();
    let orders = input(&d, "orders");
    orders.pipe(&mut d, s("o1"), s("u1")).unwrap();
    orders.pipe(&mut d, s("o2"), s("u2")).unwrap();
    assert_eq!(read(&mut d, "out"), vec![kv("u1", "u1=ann")]);
}

/// `orders` (order id → "product:qty") and the global `products` table (product → name).
fn orders_and_products(
    b: &StreamsBuilder,
) -> (KStream<String, String>, GlobalKTable<String, String>) {
    let orders = b.stream("orders", strings());
    let products = b.global_table("products", strings(), Materialized::as_("products-store"));
    (orders, products)
}

/// The key selector of the global joins: the product of a "product:qty" order.
fn product_of() -> impl Fn(&String, &String) -> String + Send + Sync + 'static {
    |_, v| v.split(':').next().unwrap_or_default().to_owned()
}

#[test]
fn stream_global_table_inner_join_uses_the_key_selector() {
    let b = StreamsBuilder::new("app");
    let (orders, products) = orders_and_products(&b);
    assert_eq!(products.store_name(), "products-store");
    orders
        .join_global(&products, product_of(), |order, name| {
            format!("{order} ({name})")
        })
        .to("out", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let (o, p) = (input(&d, "orders"), input(&d, "products"));
    o.pipe(&mut d, s("o1"), s("p1:2")).unwrap(); // before the product: dropped
    p.pipe(&mut d, s("p1"), s("pen")).unwrap();
    p.pipe(&mut d, s("p2"), s("ink")).unwrap();
    assert_eq!(
        d.read_store::<String, String>("products-store").unwrap(),
        vec![(s("p1"), s("pen")), (s("p2"), s("ink"))]
    );
    o.pipe(&mut d, s("o2"), s("p1:1")).unwrap();
    o.pipe(&mut d, s("o3"), s("p2:5")).unwrap();
    p.pipe(&mut d, s("p1"), s("fountain pen")).unwrap();
    o.pipe(&mut d, s("o4"), s("p1:1")).unwrap();
    p.pipe_tombstone(&mut d, s("p1")).unwrap();
    o.pipe(&mut d, s("o5"), s("p1:9")).unwrap(); // after the delete: dropped
    // Output keys are the stream's keys, not the selected table keys.
    assert_eq!(
        read(&mut d, "out"),
        vec![
            kv("o2", "p1:1 (pen)"),
            kv("o3", "p2:5 (ink)"),
            kv("o4", "p1:1 (fountain pen)")
        ]
    );
    // Global-table topics are inputs, not outputs.
    assert_eq!(d.output_topics(), Vec::<String>::new());
}

#[test]
fn stream_global_table_left_join_passes_none_without_a_row() {
    let b = StreamsBuilder::new("app");
    let (orders, products) = orders_and_products(&b);
    orders
        .left_join_global(&products, product_of(), |order, name: Option<String>| {
            format!("{order} ({})", name.as_deref().unwrap_or("?"))
        })
        .to("out", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let (o, p) = (input(&d, "orders"), input(&d, "products"));
    o.pipe(&mut d, s("o1"), s("p1:2")).unwrap();
    p.pipe(&mut d, s("p1"), s("pen")).unwrap();
    o.pipe(&mut d, s("o2"), s("p1:1")).unwrap();
    p.pipe_tombstone(&mut d, s("p1")).unwrap();
    o.pipe(&mut d, s("o3"), s("p1:3")).unwrap();
    assert_eq!(
        read(&mut d, "out"),
        vec![
            kv("o1", "p1:2 (?)"),
            kv("o2", "p1:1 (pen)"),
            kv("o3", "p1:3 (?)")
        ]
    );
}

#[test]
fn a_global_join_needs_no_repartition_after_a_key_change() {
    let b = StreamsBuilder::new("app");
    let (orders, products) = orders_and_products(&b);
    orders
        .select_key(|_, v| v.to_uppercase())
        .join_global(&products, product_of(), |o, n| format!("{o}/{n}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = b.build().unwrap();
    assert_eq!(topology.repartition_topics().count(), 0);
    let mut d = TopologyTestDriver::new(topology).unwrap();
    input(&d, "products")
        .pipe(&mut d, s("p1"), s("pen"))
        .unwrap();
    input(&d, "orders")
        .pipe(&mut d, s("o1"), s("p1:1"))
        .unwrap();
    assert_eq!(read(&mut d, "out"), vec![kv("P1:1", "p1:1/pen")]);
}

/// The `left` and `right` tables, both materialized.
fn two_tables(b: &StreamsBuilder) -> (KTable<String, String>, KTable<String, String>) {
    (
        b.table("left", strings(), Materialized::as_("left-store")),
        b.table("right", strings(), Materialized::as_("right-store")),
    )
}

#[test]
fn table_table_inner_join_reacts_to_both_sides() {
    let b = StreamsBuilder::new("app");
    let (left, right) = two_tables(&b);
    left.join(&right, |l, r| format!("{l}+{r}"))
        .to_stream()
        .to("joined", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let (l, r) = (input(&d, "left"), input(&d, "right"));
    l.pipe(&mut d, s("k"), s("a")).unwrap(); // no right row yet: nothing
    r.pipe(&mut d, s("k"), s("x")).unwrap(); // a+x
    l.pipe(&mut d, s("k"), s("b")).unwrap(); // b+x
    r.pipe(&mut d, s("k"), s("y")).unwrap(); // b+y
    r.pipe(&mut d, s("k2"), s("z")).unwrap(); // no left row: nothing
    r.pipe_tombstone(&mut d, s("k")).unwrap(); // the joined row is deleted
    l.pipe_tombstone(&mut d, s("k")).unwrap(); // nothing joined any more: nothing
    l.pipe(&mut d, s("k2"), s("c")).unwrap(); // c+z
    assert_eq!(
        read(&mut d, "joined"),
        vec![
            kv("k", "a+x"),
            kv("k", "b+x"),
            kv("k", "b+y"),
            (s("k"), None),
            kv("k2", "c+z")
        ]
    );
}

#[test]
fn table_table_left_join_keeps_left_rows_without_a_match() {
    let b = StreamsBuilder::new("app");
    let (left, right) = two_tables(&b);
    left.left_join(&right, |l, r: Option<&String>| {
        format!("{l}+{}", r.map_or("null", String::as_str))
    })
    .to_stream()
    .to("joined", Produced::value_serde(Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let (l, r) = (input(&d, "left"), input(&d, "right"));
    r.pipe(&mut d, s("k"), s("x")).unwrap(); // no left row: nothing
    l.pipe(&mut d, s("k"), s("a")).unwrap(); // a+x
    r.pipe_tombstone(&mut d, s("k")).unwrap(); // a+null
    l.pipe(&mut d, s("k"), s("b")).unwrap(); // b+null
    r.pipe(&mut d, s("k"), s("y")).unwrap(); // b+y
    l.pipe_tombstone(&mut d, s("k")).unwrap(); // deleted
    r.pipe(&mut d, s("k"), s("w")).unwrap(); // no left row: nothing
    assert_eq!(
        read(&mut d, "joined"),
        vec![
            kv("k", "a+x"),
            kv("k", "a+null"),
            kv("k", "b+null"),
            kv("k", "b+y"),
            (s("k"), None)
        ]
    );
}

#[test]
fn a_table_table_join_result_can_be_materialized() {
    let b = StreamsBuilder::new("app");
    let (left, right) = two_tables(&b);
    left.join(&right, |l, r| format!("{l}{r}"))
        .materialize(Materialized::as_("joined-store").with(Serdes::string(), Serdes::string()));
    let mut d = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    let (l, r) = (input(&d, "left"), input(&d, "right"));
    l.pipe(&mut d, s("a"), s("1")).unwrap();
    r.pipe(&mut d, s("a"), s("2")).unwrap();
    l.pipe(&mut d, s("b"), s("3")).unwrap();
    r.pipe(&mut d, s("b"), s("4")).unwrap();
    assert_eq!(
        d.read_store::<String, String>("joined-store").unwrap(),
        vec![(s("a"), s("12")), (s("b"), s("34"))]
    );
    r.pipe_tombstone(&mut d, s("a")).unwrap();
    assert_eq!(
        d.read_store::<String, String>("joined-store").unwrap(),
        vec![(s("b"), s("34"))]
    );
}

#[test]
fn left_join_global_many_sees_every_row_found_once() {
    let b = StreamsBuilder::new("app");
    let prices: GlobalKTable<String, String> =
        b.global_table("prices", strings(), Materialized::as_("prices-store"));
    b.stream("carts", strings())
        .left_join_global_many(
            &prices,
            |_, items: &String| items.split(',').map(str::to_owned).collect(),
            |items, rows: Vec<(String, String)>| {
                let found: Vec<String> = rows.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{items}:{}", found.join(";"))
            },
        )
        .named("price-items")
        .to("priced", Produced::with(Serdes::string(), Serdes::string()));
    let t = b.build().unwrap();
    assert!(
        t.describe()
            .contains("Processor: price-items (stores: [prices-store])")
    );
    let mut d = TopologyTestDriver::new(t).unwrap();
    input(&d, "prices").pipe(&mut d, s("a"), s("1")).unwrap();
    input(&d, "prices").pipe(&mut d, s("c"), s("3")).unwrap();
    // Repeated keys are looked up once; unknown keys are left out; the order is the keys'.
    input(&d, "carts")
        .pipe(&mut d, s("u1"), s("c,a,b,c"))
        .unwrap();
    input(&d, "carts").pipe(&mut d, s("u2"), s("x")).unwrap();
    input(&d, "prices").pipe_tombstone(&mut d, s("c")).unwrap();
    input(&d, "carts").pipe(&mut d, s("u3"), s("c,a")).unwrap();
    assert_eq!(
        read(&mut d, "priced"),
        vec![
            kv("u1", "c,a,b,c:c=3;a=1"),
            kv("u2", "x:"),
            kv("u3", "c,a:a=1")
        ]
    );
}
