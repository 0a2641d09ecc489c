//! What happens to a record that cannot be deserialized or processed: the configured handler
//! decides (a plain function, tested below); the stream thread carries the decision out.

use weir_core::config::{ErrorHandling, StreamsConfig};
use weir_core::error::StreamsError;
use weir_core::record::Headers;

/// What to do with a failed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Stop the thread (and the worker) with the error.
    Fail,
    /// Skip the record, count it.
    Skip,
    /// Produce the original record to this topic, with error headers, then skip it.
    DeadLetter(String),
}

/// The decision for `error` under `config`.
pub fn decide(config: &StreamsConfig, error: &StreamsError) -> Decision {
    let handling = match error {
        StreamsError::Deserialize { .. } => &config.deserialization_exception_handler,
        StreamsError::Process { .. } | StreamsError::Serialize { .. } => {
            &config.processing_exception_handler
        }
        _ => return Decision::Fail,
    };
    match handling {
        ErrorHandling::Fail => Decision::Fail,
        ErrorHandling::LogAndContinue => Decision::Skip,
        ErrorHandling::DeadLetter => Decision::DeadLetter(config.dead_letter_topic()),
    }
}

/// Headers of a dead letter: the original headers plus the error and the record's origin.
pub fn dead_letter_headers(
    original: &Headers,
    error: &StreamsError,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Headers {
    let mut h = original.clone();
    h.add("weir.error", Some(error.to_string().into_bytes()));
    h.add("weir.source.topic", Some(topic.as_bytes().to_vec()));
    h.add(
        "weir.source.partition",
        Some(partition.to_string().into_bytes()),
    );
    h.add("weir.source.offset", Some(offset.to_string().into_bytes()));
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_core::error::KeyOrValue;

    fn de_error() -> StreamsError {
        StreamsError::Deserialize {
            topic: "t".into(),
            what: KeyOrValue::Value,
            source: "bad".into(),
        }
    }

    #[test]
    fn each_handler_maps_to_its_decision() {
        let mut c = StreamsConfig::new("app");
        assert_eq!(decide(&c, &de_error()), Decision::Fail);
        c.deserialization_exception_handler = ErrorHandling::LogAndContinue;
        assert_eq!(decide(&c, &de_error()), Decision::Skip);
        c.deserialization_exception_handler = ErrorHandling::DeadLetter;
        assert_eq!(
            decide(&c, &de_error()),
            Decision::DeadLetter("app-dlq".into())
        );
        let internal = StreamsError::Internal("x".into());
        assert_eq!(
            decide(&c, &internal),
            Decision::Fail,
            "non-record errors always fail"
        );
    }

    #[test]
    fn dead_letter_headers_name_the_origin() {
        let h = dead_letter_headers(&Headers::new().with("a", "b"), &de_error(), "shop", 3, 42);
        assert_eq!(h.last("a"), Some(&b"b"[..]));
        assert_eq!(h.last("weir.source.topic"), Some(&b"shop"[..]));
        assert_eq!(h.last("weir.source.partition"), Some(&b"3"[..]));
        assert_eq!(h.last("weir.source.offset"), Some(&b"42"[..]));
        assert!(h.last("weir.error").is_some());
    }
}
