//! Unit tests of [`super`] (the sample-data generators): determinism, shares, id conventions and
//! that every value decodes into its model type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};

use super::*;
use crate::model::{BlockList, Message, Product, RecommendationRequest, Search};

fn take(d: Dataset, config: &GeneratorConfig, n: usize) -> Vec<Record> {
    d.records(config.clone()).take(n).collect()
}

#[test]
fn the_same_seed_gives_the_same_records_and_another_seed_others() {
    let a = GeneratorConfig::default();
    let b = GeneratorConfig {
        seed: 7,
        ..GeneratorConfig::default()
    };
    for d in [Dataset::Shop, Dataset::Client, Dataset::Messages] {
        assert_eq!(take(d, &a, 1000), take(d, &a, 1000), "{d:?}");
        assert_ne!(take(d, &a, 1000), take(d, &b, 1000), "{d:?}");
    }
}

#[test]
fn the_forbidden_set_is_every_tenth_product() {
    let c = GeneratorConfig {
        products: 35,
        ..GeneratorConfig::default()
    };
    assert_eq!(forbidden_ids(&c), vec!["p-00010", "p-00020", "p-00030"]);
    let records = forbidden_records(&c);
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].0, FORBIDDEN_PRODUCTS);
    assert_eq!(records[0].1, b"p-00010");
    assert_eq!(records[0].2.as_deref(), Some(FORBIDDEN_REASON.as_bytes()));
}

#[test]
fn shop_shares_are_within_tolerance_and_values_decode() {
    let c = GeneratorConfig {
        forbidden_share: 0.2,
        invalid_share: 0.05,
        ..GeneratorConfig::default()
    };
    let forbidden: BTreeSet<String> = forbidden_ids(&c).into_iter().collect();
    let (mut n_forbidden, mut n_invalid) = (0, 0);
    for (topic, key, value) in take(Dataset::Shop, &c, 10_000) {
        assert_eq!(topic, SHOP_PRODUCTS);
        let p: Product = serde_json::from_slice(&value.unwrap()).unwrap();
        assert_eq!(key, p.product_id.as_bytes());
        if !p.is_valid() {
            n_invalid += 1;
            continue;
        }
        let number: u32 = p.product_id[2..].parse().unwrap();
        assert!((1..=c.products).contains(&number), "{}", p.product_id);
        assert_eq!(p.category, category_of(&p.product_id));
        if forbidden.contains(&p.product_id) {
            n_forbidden += 1;
        }
    }
    assert!((1800..=2200).contains(&n_forbidden), "{n_forbidden}");
    assert!((400..=600).contains(&n_invalid), "{n_invalid}");
}

#[test]
fn default_shares_hold_too() {
    let c = GeneratorConfig::default();
    let forbidden: BTreeSet<String> = forbidden_ids(&c).into_iter().collect();
    let records = take(Dataset::Shop, &c, 10_000);
    let invalid = records
        .iter()
        .filter(|r| {
            !serde_json::from_slice::<Product>(r.2.as_deref().unwrap())
                .unwrap()
                .is_valid()
        })
        .count();
    let forbidden = records
        .iter()
        .filter(|r| forbidden.contains(std::str::from_utf8(&r.1).unwrap()))
        .count();
    assert!((60..=140).contains(&invalid), "{invalid}");
    assert!((850..=1150).contains(&forbidden), "{forbidden}");
}

#[test]
fn client_records_are_searches_with_every_kth_a_unique_request() {
    let c = GeneratorConfig {
        users: 50,
        request_every: 4,
        ..GeneratorConfig::default()
    };
    let mut request_ids = BTreeSet::new();
    let mut categories: HashMap<String, String> = HashMap::new();
    for (i, (topic, key, value)) in take(Dataset::Client, &c, 10_000).into_iter().enumerate() {
        let value = value.unwrap();
        let user = String::from_utf8(key).unwrap();
        let number: u32 = user[2..].parse().unwrap();
        assert!((1..=50).contains(&number), "{user}");
        if i % 4 == 3 {
            assert_eq!(topic, CLIENT_RECOMMENDATION_REQUESTS);
            let r: RecommendationRequest = serde_json::from_slice(&value).unwrap();
            assert_eq!(r.user_id, user);
            assert!(request_ids.insert(r.request_id.clone()), "{}", r.request_id);
        } else {
            assert_eq!(topic, CLIENT_SEARCHES);
            let s: Search = serde_json::from_slice(&value).unwrap();
            assert_eq!(s.user_id, user);
            let prev = categories.insert(s.product_id.clone(), s.category.clone());
            assert!(prev.is_none_or(|p| p == s.category), "{}", s.product_id);
        }
    }
    assert_eq!(request_ids.len(), 2500);
    let never = GeneratorConfig {
        request_every: 0,
        ..GeneratorConfig::default()
    };
    assert!(
        take(Dataset::Client, &never, 1000)
            .iter()
            .all(|r| r.0 == CLIENT_SEARCHES)
    );
}

#[test]
fn chat_starts_with_the_forbidden_words_then_mixes_messages_lists_and_word_changes() {
    let c = GeneratorConfig::default();
    let records = take(Dataset::Messages, &c, 10_000);
    for (i, w) in CHAT_FORBIDDEN_WORDS.iter().enumerate() {
        assert_eq!(records[i].0, FORBIDDEN_WORDS);
        assert_eq!(records[i].1, w.as_bytes());
        assert!(records[i].2.is_some());
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let (mut tombstones, mut with_forbidden_word) = (0, 0);
    for (topic, key, value) in &records {
        *counts.entry(topic).or_default() += 1;
        match *topic {
            MESSAGES => {
                let m: Message = serde_json::from_slice(value.as_deref().unwrap()).unwrap();
                assert_eq!(m.recipient.as_bytes(), key.as_slice());
                if m.text.split(' ').any(|w| CHAT_FORBIDDEN_WORDS.contains(&w)) {
                    with_forbidden_word += 1;
                }
            }
            BLOCKED_USERS => {
                let _: BlockList = serde_json::from_slice(value.as_deref().unwrap()).unwrap();
            }
            FORBIDDEN_WORDS => {
                assert!(CHAT_FORBIDDEN_WORDS.contains(&std::str::from_utf8(key).unwrap()));
                match value {
                    None => tombstones += 1,
                    Some(v) => assert!(std::str::from_utf8(v).unwrap().contains("not allowed")),
                }
            }
            other => panic!("unexpected topic {other}"),
        }
    }
    assert!(counts[MESSAGES] > 9000, "{counts:?}");
    assert!((100..=300).contains(&counts[BLOCKED_USERS]), "{counts:?}");
    assert!((100..=300).contains(&counts[FORBIDDEN_WORDS]), "{counts:?}");
    assert!(tombstones > 20, "{tombstones}");
    assert!(with_forbidden_word > 500, "{with_forbidden_word}");
}

#[test]
fn validate_names_the_bad_field() {
    let ok = GeneratorConfig::default();
    assert_eq!(ok.validate(), Ok(()));
    let bad = |c: GeneratorConfig| c.validate().unwrap_err();
    assert!(
        bad(GeneratorConfig {
            products: 0,
            ..ok.clone()
        })
        .contains("products")
    );
    assert!(
        bad(GeneratorConfig {
            users: 0,
            ..ok.clone()
        })
        .contains("users")
    );
    assert!(
        bad(GeneratorConfig {
            forbidden_share: 1.5,
            ..ok.clone()
        })
        .contains("forbidden share")
    );
    assert!(
        bad(GeneratorConfig {
            invalid_share: -0.1,
            ..ok.clone()
        })
        .contains("invalid share")
    );
    assert!(
        bad(GeneratorConfig {
            forbidden_share: 0.9,
            invalid_share: 0.2,
            ..ok.clone()
        })
        .contains("must not exceed 1")
    );
    assert!(
        bad(GeneratorConfig {
            products: 5,
            ..ok.clone()
        })
        .contains("at least 10 products")
    );
    let tiny = GeneratorConfig {
        products: 5,
        forbidden_share: 0.0,
        ..ok
    };
    assert_eq!(tiny.validate(), Ok(()));
    let all_allowed = take(Dataset::Shop, &tiny, 100);
    assert!(
        all_allowed
            .iter()
            .all(|r| r.1.is_empty() || r.1 < b"p-00006".to_vec())
    );
}
