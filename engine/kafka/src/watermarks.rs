//! The end offsets librdkafka already knows, without a request to the broker.
//!
//! A task that reads several partitions must know whether an empty one has data on the broker
//! not fetched yet (`max.task.idle.ms`, KIP-695). librdkafka updates a partition's high
//! watermark (the last stable offset under read_committed) from every fetch response and
//! exposes it through `rd_kafka_get_watermark_offsets`, which rust-rdkafka does not wrap; its
//! `fetch_watermarks` asks the broker and would cost a round trip per check. This module is the
//! one place weir calls librdkafka's C API directly.
#![allow(unsafe_code)]

use std::ffi::CString;

use rdkafka::bindings::{rd_kafka_get_watermark_offsets, rd_kafka_resp_err_t};
use rdkafka::client::{Client, ClientContext};

/// The (low, high) offsets of `topic`/`partition` as of the consumer's last fetch response
/// (the high one: the last stable offset under read_committed); `None` when not known yet (no
/// fetch answered) or the topic name cannot be given to C.
pub(crate) fn cached_watermarks<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    partition: i32,
) -> Option<(i64, i64)> {
    let topic = CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: `client.native_ptr()` is a live `rd_kafka_t` for as long as `client` is borrowed;
    // `topic` is a NUL-terminated string that outlives the call; `low` and `high` are valid,
    // writable i64s. The function only reads librdkafka's cached partition state under its own
    // lock and does no I/O.
    let err = unsafe {
        rd_kafka_get_watermark_offsets(
            client.native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low.max(0), high))
}
