//! Sample data for the marketplace's topics: deterministic, seeded generators of the records the
//! SHOP API, the CLIENT API and the chat would publish, for demos, load tests and `weir produce`.
//!
//! Owns: the catalogue and user-id conventions, the forbidden set, and record generation. Does
//! not own: writing to Kafka (the `weir` binary does that), or the record types
//! ([`crate::model`]).
//!
//! Every generator is a pure, infinite [`Iterator`] of [`Record`]s — `(topic, key, value)`, value
//! `None` for a tombstone — with JSON values of the [`crate::model`] types. The same
//! [`GeneratorConfig`] (seed included) always yields the same records.
//!
//! Conventions:
//! * products are `p-00001` ..= `p-{products}`; the **forbidden set** is every product whose
//!   number is a multiple of 10 (`p-00010`, `p-00020`, ...: a tenth of the catalogue), see
//!   [`forbidden_ids`]; a product's category, name and shop follow from its id;
//! * users are `u-0001` ..= `u-{users}`;
//! * `forbidden-words`: key = the word, value = the reason (plain UTF-8); a tombstone removes it.

use serde::Serialize;

use crate::model::{BlockList, Message, Product, RecommendationRequest, Search};

/// One generated record: topic, key, value (`None` = tombstone).
pub type Record = (&'static str, Vec<u8>, Option<Vec<u8>>);

pub const SHOP_PRODUCTS: &str = "shop-products";
pub const FORBIDDEN_PRODUCTS: &str = "forbidden-products";
pub const CLIENT_SEARCHES: &str = "client-searches";
pub const CLIENT_RECOMMENDATION_REQUESTS: &str = "client-recommendation-requests";
pub const MESSAGES: &str = "messages";
pub const BLOCKED_USERS: &str = "blocked-users";
pub const FORBIDDEN_WORDS: &str = "forbidden-words";

/// The reason written with each id of the forbidden set.
pub const FORBIDDEN_REASON: &str = "sample data: forbidden product";

/// Timestamp (ms) of the first generated search; each next record is 250 ms later.
pub const BASE_TS: i64 = 1_700_000_000_000;

const CATEGORIES: &[&str] = &[
    "books", "garden", "kitchen", "music", "outdoor", "sports", "toys", "tools",
];
const ADJECTIVES: &[&str] = &[
    "red", "small", "sturdy", "vintage", "smart", "light", "classic", "quiet",
];
const NOUNS: &[&str] = &[
    "lamp", "kettle", "racket", "novel", "drill", "tent", "puzzle", "guitar",
];
/// Words forbidden in chat messages (the chat generator adds and removes them).
pub const CHAT_FORBIDDEN_WORDS: &[&str] = &["scam", "spam", "fraud"];
const CHAT_WORDS: &[&str] = &[
    "hello",
    "is",
    "this",
    "still",
    "available",
    "price",
    "can",
    "you",
    "ship",
    "today",
    "thanks",
    "great",
    "deal",
    "offer",
    "pay",
    "now",
    "later",
    "please",
    "ok",
    "bye",
];

/// What the generators draw; see the module doc for the id conventions.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Catalogue size: `p-00001` ..= `p-{products}`.
    pub products: u32,
    /// Users `u-0001` ..= `u-{users}`.
    pub users: u32,
    /// Share of `shop-products` records whose product is in the forbidden set (valid ones).
    pub forbidden_share: f64,
    /// Share of `shop-products` records that are invalid (empty id or negative price).
    pub invalid_share: f64,
    /// Every `request_every`-th client record is a recommendation request (0: never).
    pub request_every: u32,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            products: 1000,
            users: 100,
            forbidden_share: 0.1,
            invalid_share: 0.01,
            request_every: 10,
        }
    }
}

impl GeneratorConfig {
    /// Checks the numbers; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.products == 0 || self.products > 99_999 {
            return Err(format!(
                "products must be between 1 and 99999, not {}",
                self.products
            ));
        }
        if self.users == 0 || self.users > 9_999 {
            return Err(format!(
                "users must be between 1 and 9999, not {}",
                self.users
            ));
        }
        for (name, v) in [
            ("forbidden share", self.forbidden_share),
            ("invalid share", self.invalid_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, not {v}"));
            }
        }
        if self.forbidden_share + self.invalid_share > 1.0 {
            return Err(format!(
                "forbidden share ({}) + invalid share ({}) must not exceed 1",
                self.forbidden_share, self.invalid_share
            ));
        }
        if self.forbidden_share > 0.0 && self.products < 10 {
            return Err(format!(
                "a forbidden share needs at least 10 products (every 10th is forbidden), not {}",
                self.products
            ));
        }
        if self.forbidden_share + self.invalid_share < 1.0 && self.products < 2 {
            return Err("allowed products need a catalogue of at least 2".into());
        }
        Ok(())
    }
}

/// `p-00042` for 42.
pub fn product_id(n: u32) -> String {
    format!("p-{n:05}")
}

/// `u-0007` for 7.
pub fn user_id(n: u32) -> String {
    format!("u-{n:04}")
}

/// The forbidden set of the catalogue: every product id whose number is a multiple of 10.
pub fn forbidden_ids(config: &GeneratorConfig) -> Vec<String> {
    (10..=config.products).step_by(10).map(product_id).collect()
}

/// The forbidden set as `forbidden-products` records (key = id, value = [`FORBIDDEN_REASON`]).
pub fn forbidden_records(config: &GeneratorConfig) -> Vec<Record> {
    forbidden_ids(config)
        .into_iter()
        .map(|id| {
            (
                FORBIDDEN_PRODUCTS,
                id.into_bytes(),
                Some(FORBIDDEN_REASON.as_bytes().to_vec()),
            )
        })
        .collect()
}

/// The category of a product id of the catalogue (any string gets one, the same every time).
pub fn category_of(product_id: &str) -> &'static str {
    let h = product_id.bytes().fold(0u64, |h, b| mix(h ^ u64::from(b)));
    CATEGORIES[(h % CATEGORIES.len() as u64) as usize]
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// splitmix64: tiny, fast, good enough for sample data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        Rng(mix(seed ^ mix(stream)))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [0, n); 0 when n is 0.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn json<T: Serialize>(v: &T) -> Option<Vec<u8>> {
    // Serializing these plain structs cannot fail; an empty value would show if it did.
    Some(serde_json::to_vec(v).unwrap_or_default())
}

/// `shop-products` records; see [`GeneratorConfig`] for the shares.
#[derive(Debug, Clone)]
pub struct ShopGenerator {
    config: GeneratorConfig,
    rng: Rng,
}

impl ShopGenerator {
    pub fn new(config: GeneratorConfig) -> Self {
        let rng = Rng::new(config.seed, 1);
        ShopGenerator { config, rng }
    }

    /// A random product number: forbidden (a multiple of 10) or not.
    fn number(&mut self, forbidden: bool) -> u32 {
        let products = u64::from(self.config.products);
        let n = if forbidden {
            10 * (1 + self.rng.below(products / 10))
        } else {
            // The k-th non-multiple of 10, k in [0, allowed).
            let allowed = products - products / 10;
            let k = self.rng.below(allowed);
            k / 9 * 10 + k % 9 + 1
        };
        u32::try_from(n).unwrap_or(1)
    }

    fn product(&mut self, n: u32) -> Product {
        let id = product_id(n);
        let h = mix(u64::from(n));
        Product {
            name: format!(
                "{} {}",
                ADJECTIVES[(h % ADJECTIVES.len() as u64) as usize],
                NOUNS[((h >> 8) % NOUNS.len() as u64) as usize]
            ),
            shop_id: format!("s-{:03}", 1 + (h >> 16) % 50),
            category: category_of(&id).to_owned(),
            price: (100 + self.rng.below(50_000)) as f64 / 100.0,
            product_id: id,
        }
    }
}

impl Iterator for ShopGenerator {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let r = self.rng.unit();
        let invalid = r < self.config.invalid_share;
        let forbidden = !invalid && r < self.config.invalid_share + self.config.forbidden_share;
        let n = self.number(forbidden);
        let mut p = self.product(n);
        if invalid {
            if self.rng.below(2) == 0 {
                p.product_id = String::new();
            } else {
                p.price = -p.price;
            }
        }
        Some((SHOP_PRODUCTS, p.product_id.clone().into_bytes(), json(&p)))
    }
}

/// `client-searches` records, with every `request_every`-th record a
/// `client-recommendation-requests` record instead (request ids unique per generator).
#[derive(Debug, Clone)]
pub struct ClientGenerator {
    config: GeneratorConfig,
    rng: Rng,
    seq: u64,
}

impl ClientGenerator {
    pub fn new(config: GeneratorConfig) -> Self {
        let rng = Rng::new(config.seed, 2);
        ClientGenerator {
            config,
            rng,
            seq: 0,
        }
    }
}

impl Iterator for ClientGenerator {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let seq = self.seq;
        self.seq += 1;
        let user = user_id(1 + self.rng.below(u64::from(self.config.users)) as u32);
        let every = u64::from(self.config.request_every);
        if every > 0 && (seq + 1).is_multiple_of(every) {
            let r = RecommendationRequest {
                user_id: user.clone(),
                request_id: format!("r-{:x}-{seq:010}", self.config.seed),
            };
            return Some((CLIENT_RECOMMENDATION_REQUESTS, user.into_bytes(), json(&r)));
        }
        let product = product_id(1 + self.rng.below(u64::from(self.config.products)) as u32);
        let category = category_of(&product);
        let s = Search {
            query: format!("{} {}", self.rng.pick(ADJECTIVES), category),
            user_id: user.clone(),
            category: category.to_owned(),
            product_id: product,
            ts: BASE_TS + (seq as i64) * 250,
        };
        Some((CLIENT_SEARCHES, user.into_bytes(), json(&s)))
    }
}

/// Chat records: first one `forbidden-words` add per word of [`CHAT_FORBIDDEN_WORDS`], then
/// mostly `messages` (key = recipient), with about 2% `blocked-users` lists (key = recipient)
/// and 2% `forbidden-words` changes (an add, or a tombstone that removes the word).
#[derive(Debug, Clone)]
pub struct ChatGenerator {
    config: GeneratorConfig,
    rng: Rng,
    seq: usize,
}

impl ChatGenerator {
    pub fn new(config: GeneratorConfig) -> Self {
        let rng = Rng::new(config.seed, 3);
        ChatGenerator {
            config,
            rng,
            seq: 0,
        }
    }

    fn user(&mut self) -> String {
        user_id(1 + self.rng.below(u64::from(self.config.users)) as u32)
    }

    fn word_add(word: &str) -> Record {
        let reason = format!("sample data: `{word}` is not allowed in chat");
        (
            FORBIDDEN_WORDS,
            word.as_bytes().to_vec(),
            Some(reason.into_bytes()),
        )
    }
}

impl Iterator for ChatGenerator {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let seq = self.seq;
        self.seq += 1;
        if let Some(word) = CHAT_FORBIDDEN_WORDS.get(seq) {
            return Some(Self::word_add(word));
        }
        let r = self.rng.unit();
        let recipient = self.user();
        if r < 0.02 {
            let blocked = (0..self.rng.below(4)).map(|_| self.user()).collect();
            return Some((
                BLOCKED_USERS,
                recipient.into_bytes(),
                json(&BlockList { blocked }),
            ));
        }
        if r < 0.04 {
            let word = self.rng.pick(CHAT_FORBIDDEN_WORDS);
            return Some(if self.rng.unit() < 0.6 {
                Self::word_add(word)
            } else {
                (FORBIDDEN_WORDS, word.as_bytes().to_vec(), None)
            });
        }
        let mut sender = self.user();
        if sender == recipient && self.config.users > 1 {
            sender = self.user();
        }
        let words = 3 + self.rng.below(6);
        let text: Vec<&str> = (0..words)
            .map(|_| {
                if self.rng.unit() < 0.05 {
                    self.rng.pick(CHAT_FORBIDDEN_WORDS)
                } else {
                    self.rng.pick(CHAT_WORDS)
                }
            })
            .collect();
        let m = Message {
            sender,
            recipient: recipient.clone(),
            text: text.join(" "),
        };
        Some((MESSAGES, recipient.into_bytes(), json(&m)))
    }
}

/// The three sample data sets, for tools that pick one by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// SHOP API: [`ShopGenerator`].
    Shop,
    /// CLIENT API: [`ClientGenerator`].
    Client,
    /// Chat: [`ChatGenerator`].
    Messages,
}

impl Dataset {
    /// Every topic the data set's generator writes.
    pub fn topics(self) -> &'static [&'static str] {
        match self {
            Dataset::Shop => &[SHOP_PRODUCTS],
            Dataset::Client => &[CLIENT_SEARCHES, CLIENT_RECOMMENDATION_REQUESTS],
            Dataset::Messages => &[MESSAGES, BLOCKED_USERS, FORBIDDEN_WORDS],
        }
    }

    /// The data set's (infinite) generator.
    pub fn records(self, config: GeneratorConfig) -> Box<dyn Iterator<Item = Record> + Send> {
        match self {
            Dataset::Shop => Box::new(ShopGenerator::new(config)),
            Dataset::Client => Box::new(ClientGenerator::new(config)),
            Dataset::Messages => Box::new(ChatGenerator::new(config)),
        }
    }
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;
