//! The golden cases of the shipped topologies: topology, application id, topic formats, input
//! order and streams config, shared by the golden tests and the driver-vs-worker tests.

use std::path::PathBuf;

use weir_engine::{StreamsConfig, StreamsError, Topology};
use weir_topologies::golden::{Format, Formats};
use weir_topologies::{message_filter, product_filter, user_interests, user_recommendations};

/// One golden case of a Rust DSL topology.
pub struct Case {
    /// The directory under `golden/`.
    pub name: &'static str,
    pub application: &'static str,
    pub build: fn(&str) -> Result<Topology, StreamsError>,
    pub formats: Formats,
    /// Input topics, in the order ties of timestamp are broken.
    pub inputs: &'static [&'static str],
    /// Streams properties beyond the defaults (error handlers, dead-letter topic).
    pub config: Vec<(String, String)>,
}

impl Case {
    pub fn dir(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("golden")
            .join(self.name)
    }

    pub fn topology(&self) -> Topology {
        (self.build)(self.application).unwrap()
    }

    /// The error handling the golden run uses (`None`: the first failure is the result).
    pub fn error_handling(&self) -> Option<StreamsConfig> {
        if self.config.is_empty() {
            return None;
        }
        let mut c = StreamsConfig::new(self.application);
        for (k, v) in &self.config {
            c.set(k, v).unwrap();
        }
        Some(c)
    }
}

fn formats(list: &[(&str, Format, Format)]) -> Formats {
    list.iter()
        .map(|(t, k, v)| ((*t).to_owned(), (k.clone(), v.clone())))
        .collect()
}

pub fn product_filter() -> Case {
    Case {
        name: "product-filter",
        application: "shop-filter",
        build: product_filter::topology,
        formats: formats(&[
            ("shop-products", Format::String, Format::Json),
            ("forbidden-products", Format::String, Format::String),
            ("products", Format::String, Format::Json),
        ]),
        inputs: &["forbidden-products", "shop-products"],
        config: product_filter::config(),
    }
}

pub fn user_recommendations() -> Case {
    Case {
        name: "user-recommendations",
        application: "user-recommendations",
        build: user_recommendations::topology,
        formats: formats(&[
            ("client-searches", Format::String, Format::Json),
            (
                "client-recommendation-requests",
                Format::String,
                Format::Json,
            ),
            ("forbidden-products", Format::String, Format::String),
            ("client-recommendations", Format::String, Format::Json),
        ]),
        inputs: &[
            "forbidden-products",
            "client-searches",
            "client-recommendation-requests",
        ],
        config: Vec::new(),
    }
}

pub fn message_filter() -> Case {
    Case {
        name: "message-filter",
        application: "message-filter",
        build: message_filter::topology,
        formats: formats(&[
            ("messages", Format::String, Format::Json),
            ("blocked-users", Format::String, Format::Json),
            ("forbidden-words", Format::String, Format::String),
            ("filtered-messages", Format::String, Format::Json),
        ]),
        inputs: &["blocked-users", "forbidden-words", "messages"],
        config: Vec::new(),
    }
}

pub fn user_interests() -> Case {
    Case {
        name: "user-interests",
        application: "user-interests",
        build: user_interests::topology,
        formats: formats(&[
            ("client-searches", Format::String, Format::Json),
            ("user-search-counts", Format::String, Format::I64),
            ("user-interests", Format::String, Format::Json),
        ]),
        inputs: &["client-searches"],
        config: Vec::new(),
    }
}
