//! The Fetch API (key 1) as far as the transaction filter needs it: what a request asks for
//! (isolation level, fetch offset per partition) and the whole response, decoded and encoded
//! again, for versions 4 (the first with `isolation_level`, `last_stable_offset` and
//! `aborted_transactions`) to 12 (the first flexible one, and the last that names topics:
//! from 13 on topics are UUIDs, which the proxy avoids by capping Fetch at 12 in ApiVersions).
//!
//! Schema (Kafka's `FetchResponse.json`), by version:
//! ```text
//! throttle_time_ms i32 | error_code i16 (7+) | session_id i32 (7+)
//! responses [ topic string
//!             partitions [ partition_index i32 | error_code i16 | high_watermark i64
//!                          last_stable_offset i64 | log_start_offset i64 (5+)
//!                          aborted_transactions nullable [ producer_id i64 | first_offset i64 ]
//!                          preferred_read_replica i32 (11+) | records nullable bytes ] ]
//! ```
//! From 12 on strings, arrays and bytes are compact and every structure ends in tagged fields,
//! which are kept as they came. Invariant: for every supported version,
//! `encode(decode(b)) == b` for a well-formed `b` (tests below).

use std::collections::HashMap;

use super::codec::{DecodeError, Decoded, Reader, TaggedField, Writer};

/// The Fetch versions decoded.
pub(crate) const VERSIONS: std::ops::RangeInclusive<i16> = 4..=12;
/// The first flexible Fetch version.
const FLEXIBLE: i16 = 12;

pub(crate) fn is_flexible(version: i16) -> bool {
    version >= FLEXIBLE
}

/// What the proxy needs from a Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchRequest {
    /// 0 read_uncommitted, 1 read_committed.
    pub(crate) isolation_level: i8,
    /// The offset asked for, per (topic, partition).
    pub(crate) offsets: HashMap<(String, i32), i64>,
}

/// Decodes a Fetch request's body (the bytes after the request header's client id; for a
/// flexible version the header's tagged fields come first).
pub(crate) fn decode_request(version: i16, body: &[u8]) -> Decoded<FetchRequest> {
    if !VERSIONS.contains(&version) {
        return Err(DecodeError(format!(
            "Fetch request v{version} not supported"
        )));
    }
    let flexible = is_flexible(version);
    let mut r = Reader::new(body);
    if flexible {
        r.skip_tagged_fields()?; // request header v2
    }
    let _replica_id = r.i32()?;
    let _max_wait_ms = r.i32()?;
    let _min_bytes = r.i32()?;
    let _max_bytes = r.i32()?;
    let isolation_level = r.i8()?;
    if version >= 7 {
        let _session_id = r.i32()?;
        let _session_epoch = r.i32()?;
    }
    let mut offsets = HashMap::new();
    for _ in 0..r.len(flexible, 2)? {
        let topic = r.string(flexible)?;
        for _ in 0..r.len(flexible, 16)? {
            let partition = r.i32()?;
            if version >= 9 {
                let _current_leader_epoch = r.i32()?;
            }
            let fetch_offset = r.i64()?;
            if version >= 12 {
                let _last_fetched_epoch = r.i32()?;
            }
            if version >= 5 {
                let _log_start_offset = r.i64()?;
            }
            let _partition_max_bytes = r.i32()?;
            if flexible {
                r.skip_tagged_fields()?;
            }
            offsets.insert((topic.clone(), partition), fetch_offset);
        }
        if flexible {
            r.skip_tagged_fields()?;
        }
    }
    // The rest (forgotten topics, rack id, tagged fields) is not needed.
    Ok(FetchRequest {
        isolation_level,
        offsets,
    })
}

/// A Fetch response body (after the response header).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FetchResponse {
    pub(crate) throttle_time_ms: i32,
    /// v7+.
    pub(crate) error_code: i16,
    /// v7+.
    pub(crate) session_id: i32,
    pub(crate) topics: Vec<FetchableTopic>,
    /// v12+.
    pub(crate) tagged: Vec<TaggedField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FetchableTopic {
    pub(crate) name: String,
    pub(crate) partitions: Vec<PartitionData>,
    pub(crate) tagged: Vec<TaggedField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PartitionData {
    pub(crate) partition_index: i32,
    pub(crate) error_code: i16,
    pub(crate) high_watermark: i64,
    pub(crate) last_stable_offset: i64,
    /// v5+.
    pub(crate) log_start_offset: i64,
    pub(crate) aborted_transactions: Option<Vec<AbortedTransaction>>,
    /// v11+.
    pub(crate) preferred_read_replica: i32,
    /// The record batches, as the broker sent them.
    pub(crate) records: Option<Vec<u8>>,
    /// v12+: diverging epoch, current leader, snapshot id.
    pub(crate) tagged: Vec<TaggedField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct AbortedTransaction {
    pub(crate) producer_id: i64,
    pub(crate) first_offset: i64,
    /// v12+.
    pub(crate) tagged: Vec<TaggedField>,
}

impl AbortedTransaction {
    pub(crate) fn new(producer_id: i64, first_offset: i64) -> Self {
        AbortedTransaction {
            producer_id,
            first_offset,
            tagged: Vec::new(),
        }
    }
}

/// Decodes a Fetch response body of `version`; every byte must be used.
pub(crate) fn decode_response(version: i16, body: &[u8]) -> Decoded<FetchResponse> {
    if !VERSIONS.contains(&version) {
        return Err(DecodeError(format!(
            "Fetch response v{version} not supported"
        )));
    }
    let flexible = is_flexible(version);
    let mut r = Reader::new(body);
    let mut out = FetchResponse {
        throttle_time_ms: r.i32()?,
        ..FetchResponse::default()
    };
    if version >= 7 {
        out.error_code = r.i16()?;
        out.session_id = r.i32()?;
    }
    let topics = r.len(flexible, 2)?;
    out.topics.reserve(topics);
    for _ in 0..topics {
        let mut topic = FetchableTopic {
            name: r.string(flexible)?,
            ..FetchableTopic::default()
        };
        let partitions = r.len(flexible, 30)?;
        topic.partitions.reserve(partitions);
        for _ in 0..partitions {
            topic.partitions.push(decode_partition(&mut r, version)?);
        }
        if flexible {
            topic.tagged = r.tagged_fields()?;
        }
        out.topics.push(topic);
    }
    if flexible {
        out.tagged = r.tagged_fields()?;
    }
    if r.remaining() != 0 {
        return Err(DecodeError(format!(
            "Fetch response v{version}: {} bytes after the last field",
            r.remaining()
        )));
    }
    Ok(out)
}

fn decode_partition(r: &mut Reader<'_>, version: i16) -> Decoded<PartitionData> {
    let flexible = is_flexible(version);
    let mut p = PartitionData {
        partition_index: r.i32()?,
        error_code: r.i16()?,
        high_watermark: r.i64()?,
        last_stable_offset: r.i64()?,
        log_start_offset: -1,
        preferred_read_replica: -1,
        ..PartitionData::default()
    };
    if version >= 5 {
        p.log_start_offset = r.i64()?;
    }
    p.aborted_transactions = match r.array_len(flexible, 16)? {
        None => None,
        Some(n) => {
            let mut txns = Vec::with_capacity(n);
            for _ in 0..n {
                let mut t = AbortedTransaction::new(r.i64()?, r.i64()?);
                if flexible {
                    t.tagged = r.tagged_fields()?;
                }
                txns.push(t);
            }
            Some(txns)
        }
    };
    if version >= 11 {
        p.preferred_read_replica = r.i32()?;
    }
    p.records = r.nullable_bytes(flexible)?.map(<[u8]>::to_vec);
    if flexible {
        p.tagged = r.tagged_fields()?;
    }
    Ok(p)
}

/// Encodes a Fetch response body of `version` (one of [`VERSIONS`]); fields the version does
/// not have are left out.
pub(crate) fn encode_response(version: i16, resp: &FetchResponse) -> Vec<u8> {
    let flexible = is_flexible(version);
    let mut b = Vec::new();
    b.put_i32(resp.throttle_time_ms);
    if version >= 7 {
        b.put_i16(resp.error_code);
        b.put_i32(resp.session_id);
    }
    b.put_array_len(Some(resp.topics.len()), flexible);
    for t in &resp.topics {
        b.put_string(&t.name, flexible);
        b.put_array_len(Some(t.partitions.len()), flexible);
        for p in &t.partitions {
            b.put_i32(p.partition_index);
            b.put_i16(p.error_code);
            b.put_i64(p.high_watermark);
            b.put_i64(p.last_stable_offset);
            if version >= 5 {
                b.put_i64(p.log_start_offset);
            }
            b.put_array_len(p.aborted_transactions.as_ref().map(Vec::len), flexible);
            for a in p.aborted_transactions.iter().flatten() {
                b.put_i64(a.producer_id);
                b.put_i64(a.first_offset);
                if flexible {
                    b.put_tagged_fields(&a.tagged);
                }
            }
            if version >= 11 {
                b.put_i32(p.preferred_read_replica);
            }
            b.put_nullable_bytes(p.records.as_deref(), flexible);
            if flexible {
                b.put_tagged_fields(&p.tagged);
            }
        }
        if flexible {
            b.put_tagged_fields(&t.tagged);
        }
    }
    if flexible {
        b.put_tagged_fields(&resp.tagged);
    }
    b
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A response with two topics, one partition with aborted transactions and records, one
    /// with an error and nulls; tagged fields where the version has them.
    pub(crate) fn sample(version: i16, with_aborted: bool) -> FetchResponse {
        let flexible = is_flexible(version);
        let tags = |tag: u32| {
            if flexible {
                vec![TaggedField {
                    tag,
                    data: vec![0xab; tag as usize + 1],
                }]
            } else {
                Vec::new()
            }
        };
        let aborted = with_aborted.then(|| {
            vec![
                AbortedTransaction {
                    tagged: tags(4),
                    ..AbortedTransaction::new(7, 100)
                },
                AbortedTransaction::new(9, 140),
            ]
        });
        FetchResponse {
            throttle_time_ms: 3,
            error_code: 0,
            session_id: if version >= 7 { 42 } else { 0 },
            topics: vec![
                FetchableTopic {
                    name: "changelog".into(),
                    partitions: vec![
                        PartitionData {
                            partition_index: 2,
                            error_code: 0,
                            high_watermark: 200,
                            last_stable_offset: 180,
                            log_start_offset: if version >= 5 { 0 } else { -1 },
                            aborted_transactions: aborted.or(Some(Vec::new())),
                            preferred_read_replica: -1,
                            records: Some((0..=255).collect()),
                            tagged: tags(1),
                        },
                        PartitionData {
                            partition_index: 0,
                            error_code: 6,
                            high_watermark: -1,
                            last_stable_offset: -1,
                            log_start_offset: -1,
                            aborted_transactions: None,
                            preferred_read_replica: -1,
                            records: None,
                            tagged: Vec::new(),
                        },
                    ],
                    tagged: tags(0),
                },
                FetchableTopic {
                    name: "ünïcode".into(),
                    partitions: Vec::new(),
                    tagged: Vec::new(),
                },
            ],
            tagged: tags(2),
        }
    }

    #[test]
    fn responses_round_trip_in_every_version() {
        for version in VERSIONS {
            for with_aborted in [false, true] {
                let resp = sample(version, with_aborted);
                let bytes = encode_response(version, &resp);
                let back =
                    decode_response(version, &bytes).unwrap_or_else(|e| panic!("v{version}: {e}"));
                assert_eq!(back, resp, "v{version}, aborted {with_aborted}");
                assert_eq!(encode_response(version, &back), bytes, "v{version}");
            }
        }
    }

    #[test]
    fn versions_differ_where_the_schema_does() {
        let len = |v| encode_response(v, &sample(v, true)).len();
        // v5 adds log_start_offset (2 partitions x 8 bytes), v7 error_code + session_id
        // (6 bytes), v11 preferred_read_replica (2 x 4 bytes).
        assert_eq!(len(5) - len(4), 16);
        assert_eq!(len(7) - len(6), 6);
        assert_eq!(len(11) - len(10), 8);
        assert_eq!(len(6), len(5));
    }

    #[test]
    fn truncated_padded_and_unsupported_responses_are_errors() {
        for version in VERSIONS {
            let bytes = encode_response(version, &sample(version, true));
            for cut in [0, 1, 7, bytes.len() / 2, bytes.len() - 1] {
                assert!(
                    decode_response(version, &bytes[..cut]).is_err(),
                    "v{version} cut at {cut}"
                );
            }
            let mut padded = bytes.clone();
            padded.push(0);
            assert!(decode_response(version, &padded).is_err());
        }
        assert!(decode_response(3, &[0; 64]).is_err());
        assert!(decode_response(13, &[0; 64]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        // A cheap deterministic fuzz: random bytes and bit flips of valid frames.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for version in VERSIONS {
            let valid = encode_response(version, &sample(version, true));
            for _ in 0..2000 {
                let mut b = valid.clone();
                let i = (next() as usize) % b.len();
                b[i] ^= 1 << (next() % 8);
                let _ = decode_response(version, &b);
                let junk: Vec<u8> = (0..(next() % 64)).map(|_| next() as u8).collect();
                let _ = decode_response(version, &junk);
                let _ = decode_request(version, &junk);
            }
        }
    }

    /// Encodes a Fetch request body (after the client id) for the tests.
    pub(crate) fn request(version: i16, isolation: i8, parts: &[(&str, i32, i64)]) -> Vec<u8> {
        let flexible = is_flexible(version);
        let mut b = Vec::new();
        if flexible {
            b.put_tagged_fields(&[]);
        }
        b.put_i32(-1);
        b.put_i32(500);
        b.put_i32(1);
        b.put_i32(1 << 20);
        b.extend_from_slice(&isolation.to_be_bytes());
        if version >= 7 {
            b.put_i32(0);
            b.put_i32(-1);
        }
        b.put_array_len(Some(parts.len()), flexible);
        for (topic, partition, offset) in parts {
            b.put_string(topic, flexible);
            b.put_array_len(Some(1), flexible);
            b.put_i32(*partition);
            if version >= 9 {
                b.put_i32(-1);
            }
            b.put_i64(*offset);
            if version >= 12 {
                b.put_i32(-1);
            }
            if version >= 5 {
                b.put_i64(-1);
            }
            b.put_i32(1 << 20);
            if flexible {
                b.put_tagged_fields(&[]); // partition
                b.put_tagged_fields(&[]); // topic
            }
        }
        if version >= 7 {
            b.put_array_len(Some(0), flexible);
        }
        if version >= 11 {
            b.put_string("", flexible);
        }
        if flexible {
            b.put_tagged_fields(&[]);
        }
        b
    }

    #[test]
    fn requests_give_isolation_and_offsets() {
        for version in VERSIONS {
            let body = request(version, 1, &[("a", 0, 5), ("b", 3, 9)]);
            let req = decode_request(version, &body).unwrap_or_else(|e| panic!("v{version}: {e}"));
            assert_eq!(req.isolation_level, 1, "v{version}");
            assert_eq!(req.offsets.get(&("a".into(), 0)), Some(&5));
            assert_eq!(req.offsets.get(&("b".into(), 3)), Some(&9));
        }
        assert!(decode_request(13, &request(12, 1, &[])).is_err());
    }
}
