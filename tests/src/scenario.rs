//! What the reliability scenarios share: their size (a short version for CI, the full one with
//! `WEIR_RELIABILITY_FULL=1`), a seeded random source for fault points (the seed is printed,
//! `WEIR_RELIABILITY_SEED` replays it), the products they feed and the figures they print.
//!
//! Products are generated here, not by weir: id `p-NNNNNN`; every 10th id is forbidden; every
//! 40th product (none forbidden) has a negative price and is invalid (a dead letter).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::verify::Input;

/// Whether the full run was asked for (`WEIR_RELIABILITY_FULL=1`).
pub fn full() -> bool {
    std::env::var("WEIR_RELIABILITY_FULL").is_ok_and(|v| v == "1")
}

/// `short` in CI, `long` in the full run.
pub fn scale<T>(short: T, long: T) -> T {
    if full() { long } else { short }
}

/// A small deterministic random source (SplitMix64): fault points a failing run can replay.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `WEIR_RELIABILITY_SEED`, else the clock; prints the seed under `name`.
    pub fn for_scenario(name: &str) -> Rng {
        let seed = std::env::var("WEIR_RELIABILITY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(7)
            });
        eprintln!("{name}: WEIR_RELIABILITY_SEED={seed}");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            lo
        } else {
            lo + (self.next_u64() % (hi - lo) as u64) as usize
        }
    }

    /// `k` sorted distinct points in `lo..hi`, at least `gap` apart where the range allows.
    pub fn points(&mut self, k: usize, lo: usize, hi: usize) -> Vec<usize> {
        let span = (hi.saturating_sub(lo)) / k.max(1);
        (0..k)
            .map(|i| {
                let start = lo + i * span;
                self.range(start + span / 4, start + span * 3 / 4)
            })
            .collect()
    }
}

/// The id of product `i`.
pub fn product_id(i: usize) -> String {
    format!("p-{i:06}")
}

/// Whether product `i` is in the forbidden table.
pub fn forbidden(i: usize) -> bool {
    i % 10 == 7
}

/// Whether product `i` is invalid (a negative price: a dead letter).
pub fn invalid(i: usize) -> bool {
    i % 40 == 13
}

/// Product `i` as product-filter's JSON (`topologies/src/model.rs` `Product`).
pub fn product_json(i: usize) -> Vec<u8> {
    let price = if invalid(i) {
        -1.0 - i as f64
    } else {
        0.5 + (i % 1000) as f64
    };
    let category = ["toys", "books", "garden", "tools"][i % 4];
    json!({
        "product_id": product_id(i),
        "name": format!("product number {i}"),
        "shop_id": format!("shop-{}", i % 17),
        "category": category,
        "price": price,
    })
    .to_string()
    .into_bytes()
}

/// Products `0..n` as (key, value) inputs.
pub fn products(n: usize) -> Vec<Input> {
    (0..n)
        .map(|i| (product_id(i).into_bytes(), product_json(i)))
        .collect()
}

/// The forbidden table for products `0..n`: (id, reason).
pub fn forbidden_table(n: usize) -> Vec<(Option<Vec<u8>>, Option<Vec<u8>>)> {
    (0..n)
        .filter(|&i| forbidden(i))
        .map(|i| {
            (
                Some(product_id(i).into_bytes()),
                Some(format!("counterfeit #{i}").into_bytes()),
            )
        })
        .collect()
}

/// Whether a product (by key) must come out of product-filter: valid and not forbidden.
pub fn product_passes(key: &[u8], _value: &[u8]) -> bool {
    let Some(i) = std::str::from_utf8(key)
        .ok()
        .and_then(|k| k.strip_prefix("p-"))
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return false;
    };
    !forbidden(i) && !invalid(i)
}

/// Sets up product-filter's input on a broker: its topics (3 partitions each; the forbidden
/// table compacted, 1 partition), the forbidden ids among products `0..n`, then the products.
/// Returns the products and how many of them must come out.
pub fn product_filter_input(bootstrap: &str, n: usize) -> (Vec<Input>, usize) {
    use weir_topologies::product_filter as pf;
    crate::create_topic(bootstrap, pf::INPUT, 3, false);
    crate::create_topic(bootstrap, pf::FORBIDDEN, 1, true);
    crate::create_topic(bootstrap, pf::OUTPUT, 3, false);
    crate::create_topic(bootstrap, pf::DEAD_LETTERS, 3, false);
    crate::produce(bootstrap, pf::FORBIDDEN, forbidden_table(n));
    let inputs = products(n);
    crate::produce(
        bootstrap,
        pf::INPUT,
        inputs
            .iter()
            .map(|(k, v)| (Some(k.clone()), Some(v.clone()))),
    );
    let expected = inputs.iter().filter(|(k, v)| product_passes(k, v)).count();
    (inputs, expected)
}

/// How many distinct keys `records` hold.
pub fn distinct_keys(records: &[crate::Consumed]) -> usize {
    records
        .iter()
        .filter_map(|r| r.key.as_deref())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// Reads a count table's output topic (8-byte big-endian counts, as `count()` writes them)
/// until its verdict against `expected` holds at least once (nothing lost), or `timeout`
/// passes; returns the last verdict. Input offsets alone do not tell when a topology with a
/// repartition topic is done: the second sub-topology may still be behind.
pub fn await_counts(
    bootstrap: &str,
    topic: &str,
    expected: &std::collections::BTreeMap<String, i64>,
    timeout: std::time::Duration,
) -> crate::Verdict {
    let until = std::time::Instant::now() + timeout;
    loop {
        let out = crate::consume_all(
            bootstrap,
            topic,
            crate::ConsumeOpts::until_idle(std::time::Duration::from_secs(1)),
        );
        let verdict = crate::verify::expect_latest(expected, &out, |v| {
            Some(i64::from_be_bytes(v.try_into().ok()?))
        });
        if verdict.at_least_once() || std::time::Instant::now() >= until {
            return verdict;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// One figure line of a scenario, `RELIABILITY <scenario>: key=value ...`, greppable from the
/// test log into RELIABILITY.md.
pub fn report(scenario: &str, figures: &[(&str, String)]) {
    let body: Vec<String> = figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
    eprintln!("RELIABILITY {scenario}: {}", body.join(" "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_sorted_and_inside_the_range() {
        let mut r = Rng(1);
        for _ in 0..100 {
            let p = r.points(5, 1000, 20_000);
            assert_eq!(p.len(), 5);
            assert!(p.windows(2).all(|w| w[0] < w[1]), "{p:?}");
            assert!(p.iter().all(|&x| (1000..20_000).contains(&x)), "{p:?}");
        }
    }

    #[test]
    fn the_generator_agrees_with_itself() {
        assert!(product_passes(b"p-000001", b""));
        assert!(!product_passes(b"p-000007", b""), "forbidden");
        assert!(!product_passes(b"p-000013", b""), "invalid");
        assert!(!product_passes(b"x", b""));
    }
}
