//! The records of the marketplace's topics, as JSON (and later Avro) values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A product as the SHOP API publishes it to `shop-products` (key: product id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub product_id: String,
    pub name: String,
    pub shop_id: String,
    pub category: String,
    pub price: f64,
}

impl Product {
    /// A product the marketplace may list: it has an id and a non-negative price.
    pub fn is_valid(&self) -> bool {
        self.validate().is_ok()
    }

    /// Why the product cannot be listed, if it cannot (the text dead letters carry).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.product_id.is_empty() {
            Err("invalid product: missing product_id")
        } else if !(self.price >= 0.0 && self.price.is_finite()) {
            Err("invalid product: negative price")
        } else {
            Ok(())
        }
    }
}

/// A search as the CLIENT API publishes it to `client-searches` (key: user id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub user_id: String,
    pub query: String,
    pub product_id: String,
    pub category: String,
    pub ts: i64,
}

/// What weir knows of a user's interests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interests {
    /// Searches per category.
    pub categories: BTreeMap<String, i64>,
    /// Most recently searched product ids, newest first, without repeats.
    pub recent_products: Vec<String>,
    pub searches: i64,
}

impl Interests {
    /// How many recent products are kept.
    pub const RECENT: usize = 10;

    /// The interests after one more search.
    pub fn with_search(mut self, s: &Search) -> Self {
        *self.categories.entry(s.category.clone()).or_insert(0) += 1;
        self.recent_products.retain(|p| p != &s.product_id);
        self.recent_products.insert(0, s.product_id.clone());
        self.recent_products.truncate(Self::RECENT);
        self.searches += 1;
        self
    }
}

/// A request of the CLIENT API for a user's recommendations, on
/// `client-recommendation-requests` (key: user id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendationRequest {
    pub user_id: String,
    pub request_id: String,
}

/// The answer to a [`RecommendationRequest`], on `client-recommendations` (key: user id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendations {
    pub user_id: String,
    pub request_id: String,
    /// The products the user searched in the last hour, newest first, then the ones searched
    /// before, newest first: without repeats, none forbidden, at most
    /// [`Recommendations::TOP_N`].
    pub products: Vec<String>,
    /// The user's most searched categories of the last hour, most searched first (ties: by
    /// name), then the most searched of all time: without repeats, at most 3.
    pub top_categories: Vec<String>,
}

impl Recommendations {
    /// How many products an answer holds at most.
    pub const TOP_N: usize = 5;
    /// How many categories an answer holds at most.
    pub const TOP_CATEGORIES: usize = 3;

    /// The answer to `request` from the user's `interests` of all time and `recent` ones (the
    /// last hour's; none: no searches yet, or none in the hour), leaving out every product
    /// `forbidden` holds.
    pub fn answer(
        request: RecommendationRequest,
        interests: Option<&Interests>,
        recent: Option<&Interests>,
        forbidden: impl Fn(&str) -> bool,
    ) -> Recommendations {
        let sources = [recent, interests];
        let mut products: Vec<String> = Vec::new();
        for p in sources.iter().flatten().flat_map(|i| &i.recent_products) {
            if products.len() == Self::TOP_N {
                break;
            }
            if !forbidden(p) && !products.contains(p) {
                products.push(p.clone());
            }
        }
        let mut top_categories: Vec<String> = Vec::new();
        for i in sources.iter().flatten() {
            let mut cats: Vec<(&String, &i64)> = i.categories.iter().collect();
            cats.sort_by(|(na, ca), (nb, cb)| cb.cmp(ca).then_with(|| na.cmp(nb)));
            for (n, _) in cats {
                if top_categories.len() < Self::TOP_CATEGORIES && !top_categories.contains(n) {
                    top_categories.push(n.clone());
                }
            }
        }
        Recommendations {
            user_id: request.user_id,
            request_id: request.request_id,
            products,
            top_categories,
        }
    }
}

/// A chat message on `messages` (key: recipient, so it meets the recipient's block list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub sender: String,
    pub recipient: String,
    pub text: String,
}

/// A recipient's block list: the value of `blocked-users` (key: recipient; the latest list
/// wins, a tombstone unblocks everyone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockList {
    pub blocked: Vec<String>,
}

// `forbidden-words`: key = the word (lower case), value = why it is forbidden (a string);
// a tombstone removes the word again.
