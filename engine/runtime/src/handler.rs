//! What happens to a record that cannot be deserialized or processed: the configured handler
//! decides (a plain function, tested below); the stream thread carries the decision out.
//!
//! A dead letter keeps the original key, value and headers and adds two sets of provenance
//! headers: weir's own (`weir.error`, `weir.source.topic`, `.partition`, `.offset`) and Kafka
//! Streams 4.2's (KIP-1034: `__streams.errors.exception`, `.message`, `.stacktrace`, `.topic`,
//! `.partition`, `.offset`), so tools built for Kafka Streams' dead-letter queues read weir's.

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
        StreamsError::Deserialize { .. } | StreamsError::InvalidTimestamp { .. } => {
            &config.deserialization_exception_handler
        }
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

/// The topic operators send records they drop on purpose to (late records): the dead-letter
/// topic when the processing handler is `dead_letter`, else none.
pub fn dead_letter_topic(config: &StreamsConfig) -> Option<String> {
    matches!(
        config.processing_exception_handler,
        ErrorHandling::DeadLetter
    )
    .then(|| config.dead_letter_topic())
}

/// KIP-1034's header names (Kafka Streams 4.2, `ExceptionHandlerUtils`).
pub mod kip1034 {
    /// The error's type: for weir, `weir.StreamsError.<variant>`.
    pub const EXCEPTION: &str = "__streams.errors.exception";
    /// The error's message.
    pub const MESSAGE: &str = "__streams.errors.message";
    /// Kafka Streams' stack trace; weir's error chain, one cause per line.
    pub const STACKTRACE: &str = "__streams.errors.stacktrace";
    /// The failed record's topic.
    pub const TOPIC: &str = "__streams.errors.topic";
    /// Its partition, as decimal text.
    pub const PARTITION: &str = "__streams.errors.partition";
    /// Its offset, as decimal text.
    pub const OFFSET: &str = "__streams.errors.offset";
}

/// The error's type as KIP-1034's `exception` header gives it.
fn exception_name(error: &StreamsError) -> &'static str {
    match error {
        StreamsError::Deserialize { .. } => "weir.StreamsError.Deserialize",
        StreamsError::InvalidTimestamp { .. } => "weir.StreamsError.InvalidTimestamp",
        StreamsError::Serialize { .. } => "weir.StreamsError.Serialize",
        StreamsError::Process { .. } => "weir.StreamsError.Process",
        _ => "weir.StreamsError",
    }
}

/// The error and its causes, outermost first, one per line (what a stack trace is to Java).
fn error_chain(error: &StreamsError) -> String {
    let mut chain = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        chain.push_str("\ncaused by: ");
        chain.push_str(&c.to_string());
        cause = c.source();
    }
    chain
}

/// Headers of a dead letter: the original headers plus the error and the record's origin
/// (weir's and KIP-1034's, see the module's doc).
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
    h.add(
        kip1034::EXCEPTION,
        Some(exception_name(error).as_bytes().to_vec()),
    );
    h.add(kip1034::MESSAGE, Some(error.to_string().into_bytes()));
    h.add(kip1034::STACKTRACE, Some(error_chain(error).into_bytes()));
    h.add(kip1034::TOPIC, Some(topic.as_bytes().to_vec()));
    h.add(kip1034::PARTITION, Some(partition.to_string().into_bytes()));
    h.add(kip1034::OFFSET, Some(offset.to_string().into_bytes()));
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

    #[test]
    fn dead_letter_headers_carry_kip_1034s_names() {
        let h = dead_letter_headers(&Headers::new(), &de_error(), "shop", 3, 42);
        let text = |k: &str| String::from_utf8(h.last(k).unwrap().to_vec()).unwrap();
        assert_eq!(
            text("__streams.errors.exception"),
            "weir.StreamsError.Deserialize"
        );
        assert_eq!(
            text("__streams.errors.message"),
            "cannot deserialize value from topic `t`: bad"
        );
        assert_eq!(
            text("__streams.errors.stacktrace"),
            "cannot deserialize value from topic `t`: bad\ncaused by: bad"
        );
        assert_eq!(text("__streams.errors.topic"), "shop");
        assert_eq!(text("__streams.errors.partition"), "3");
        assert_eq!(text("__streams.errors.offset"), "42");
    }
}
