//! A minimal Kafka Fetch client that reads a topic's raw record batches, control markers
//! included, and applies read-committed visibility itself.
//!
//! Why: tansu 0.6 writes transaction markers but always answers a fetch with an empty
//! `aborted_transactions` list, so librdkafka's `read_committed` consumers (the engine's too)
//! see the records of aborted transactions. Tests that check exactly-once outputs need the
//! view a real Kafka broker gives; this reader computes it from the log:
//! * records outside transactions are visible;
//! * a transaction's records become visible at its COMMIT marker and are dropped at its ABORT
//!   marker (per producer id, markers in offset order);
//! * as with the last stable offset, nothing at or after the first record of a transaction that
//!   is still open is visible.
//!
//! Protocol: Fetch v4 (the first version with `isolation_level`, before flexible encodings),
//! request header v1, record batches v2 (uncompressed; compressed batches are reported as
//! errors). One broker: requests go to the bootstrap address.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::consume::Consumed;

const API_FETCH: i16 = 1;
const FETCH_VERSION: i16 = 4;
const ATTR_COMPRESSION: i16 = 0x07;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;

/// One record batch, decoded.
#[derive(Debug, Clone)]
struct Batch {
    base_offset: i64,
    last_offset: i64,
    producer_id: i64,
    transactional: bool,
    /// For a control batch: true for COMMIT, false for ABORT.
    control: Option<bool>,
    records: Vec<Consumed>,
}

/// Reads a topic's partitions incrementally; [`RawReader::visible`] gives the read-committed
/// view of everything read so far.
pub(crate) struct RawReader {
    stream: TcpStream,
    topic: String,
    correlation: i32,
    /// Per partition: the next offset to fetch and the batches read, by base offset.
    partitions: Vec<(i64, BTreeMap<i64, Batch>)>,
}

impl RawReader {
    pub(crate) fn connect(
        bootstrap: &str,
        topic: &str,
        partitions: usize,
    ) -> Result<RawReader, String> {
        let addr = bootstrap.split(',').next().unwrap_or(bootstrap).trim();
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(RawReader {
            stream,
            topic: topic.to_owned(),
            correlation: 0,
            partitions: vec![(0, BTreeMap::new()); partitions],
        })
    }

    /// One Fetch round over all partitions (waits up to `max_wait` for data); returns whether
    /// any new batch arrived.
    pub(crate) fn fetch(&mut self, max_wait: Duration) -> Result<bool, String> {
        self.correlation += 1;
        let wanted: Vec<(&str, i32, i64)> = self
            .partitions
            .iter()
            .enumerate()
            .map(|(p, (next, _))| (self.topic.as_str(), p as i32, *next))
            .collect();
        let fetched = fetch_v4(&mut self.stream, self.correlation, &wanted, max_wait)?;
        let mut progress = false;
        for f in fetched {
            if f.error != 0 {
                return Err(format!(
                    "fetch {}/{}: error code {}",
                    f.topic, f.partition, f.error
                ));
            }
            let Some(state) = usize::try_from(f.partition)
                .ok()
                .and_then(|p| self.partitions.get_mut(p))
            else {
                return Err(format!(
                    "fetch response for unknown partition {}/{}",
                    f.topic, f.partition
                ));
            };
            for batch in parse_batches(&f.records, f.partition)? {
                if batch.last_offset >= state.0 {
                    state.0 = batch.last_offset + 1;
                    progress = true;
                    state.1.insert(batch.base_offset, batch);
                }
            }
        }
        Ok(progress)
    }

    /// The records a read-committed consumer of a correct broker would see, per partition in
    /// offset order, partitions in order.
    pub(crate) fn visible(&self) -> Vec<Consumed> {
        self.view().visible
    }

    /// Everything read so far, sorted by transactional fate (see [`TxnView`]).
    pub(crate) fn view(&self) -> TxnView {
        let mut out = TxnView::default();
        for (_, batches) in &self.partitions {
            let mut visible: Vec<&Consumed> = Vec::new();
            let mut open: HashMap<i64, Vec<&Batch>> = HashMap::new();
            for b in batches.values() {
                match b.control {
                    Some(commit) => {
                        let pending = open.remove(&b.producer_id).unwrap_or_default();
                        let records = pending.iter().flat_map(|p| &p.records);
                        if commit {
                            visible.extend(records);
                        } else {
                            out.aborted.extend(records.cloned());
                        }
                    }
                    None if b.transactional => open.entry(b.producer_id).or_default().push(b),
                    None => visible.extend(&b.records),
                }
            }
            let stable = open
                .values()
                .filter_map(|bs| bs.first().map(|b| b.base_offset))
                .min()
                .unwrap_or(i64::MAX);
            let mut visible: Vec<Consumed> = visible
                .into_iter()
                .filter(|r| r.offset < stable)
                .cloned()
                .collect();
            visible.sort_by_key(|r| r.offset);
            out.visible.extend(visible);
            out.open.extend(
                open.values()
                    .flatten()
                    .flat_map(|b| b.records.iter().cloned()),
            );
        }
        out.aborted.sort_by_key(|r| (r.partition, r.offset));
        out.open.sort_by_key(|r| (r.partition, r.offset));
        out
    }
}

/// A topic's records as read so far, by transactional fate.
#[derive(Debug, Clone, Default)]
pub struct TxnView {
    /// What a read-committed consumer of a correct broker sees: records outside transactions
    /// and of committed transactions, below the last stable offset; per partition in offset
    /// order, partitions in order.
    pub visible: Vec<Consumed>,
    /// Records of aborted transactions (which a correct broker hides from read-committed
    /// consumers, and tansu 0.6 does not), by partition and offset.
    pub aborted: Vec<Consumed>,
    /// Records of transactions still open (no marker yet), by partition and offset.
    pub open: Vec<Consumed>,
}

/// One partition of a [`fetch_v4`] response.
#[derive(Debug, Clone)]
pub(crate) struct FetchedPartition {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) error: i16,
    /// The record batches, as sent (empty when the broker sent none).
    pub(crate) records: Vec<u8>,
}

/// One read-uncommitted Fetch v4 round trip on `stream` for `wanted` (topic, partition, offset)
/// — control batches and open transactions included — waiting up to `max_wait` for data.
pub(crate) fn fetch_v4(
    stream: &mut TcpStream,
    correlation: i32,
    wanted: &[(&str, i32, i64)],
    max_wait: Duration,
) -> Result<Vec<FetchedPartition>, String> {
    // Topics in first-seen order, each with its partitions.
    let mut topics: Vec<(&str, Vec<(i32, i64)>)> = Vec::new();
    for &(topic, partition, offset) in wanted {
        match topics.iter_mut().find(|(t, _)| *t == topic) {
            Some((_, ps)) => ps.push((partition, offset)),
            None => topics.push((topic, vec![(partition, offset)])),
        }
    }
    let mut body = Vec::new();
    put_i16(&mut body, API_FETCH);
    put_i16(&mut body, FETCH_VERSION);
    put_i32(&mut body, correlation);
    put_str(&mut body, "weir-tests-raw-reader");
    put_i32(&mut body, -1); // replica_id
    put_i32(
        &mut body,
        i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX),
    );
    put_i32(&mut body, 1); // min_bytes
    put_i32(&mut body, 8 * 1024 * 1024); // max_bytes
    body.push(0); // isolation_level: read_uncommitted — markers and open transactions too
    put_i32(&mut body, len_i32(topics.len()));
    for (topic, partitions) in &topics {
        put_str(&mut body, topic);
        put_i32(&mut body, len_i32(partitions.len()));
        for (partition, offset) in partitions {
            put_i32(&mut body, *partition);
            put_i64(&mut body, *offset);
            put_i32(&mut body, 1024 * 1024); // partition_max_bytes
        }
    }
    let mut frame = Vec::with_capacity(body.len() + 4);
    put_i32(&mut frame, len_i32(body.len()));
    frame.extend_from_slice(&body);
    stream
        .write_all(&frame)
        .map_err(|e| format!("send fetch: {e}"))?;

    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .map_err(|e| format!("read fetch response: {e}"))?;
    let len = usize::try_from(i32::from_be_bytes(len)).unwrap_or(0);
    if len > MAX_RESPONSE {
        return Err(format!("fetch response of {len} bytes"));
    }
    let mut resp = vec![0u8; len];
    stream
        .read_exact(&mut resp)
        .map_err(|e| format!("read fetch response: {e}"))?;
    let mut r = Buf::new(&resp);
    let got = r.i32()?;
    if got != correlation {
        return Err(format!(
            "fetch response for request {got}, expected {correlation}"
        ));
    }
    let _throttle = r.i32()?;
    let mut out = Vec::new();
    for _ in 0..r.i32()? {
        let topic = r.string()?;
        for _ in 0..r.i32()? {
            let partition = r.i32()?;
            let error = r.i16()?;
            let _high_watermark = r.i64()?;
            let _last_stable = r.i64()?;
            let aborted = r.i32()?;
            for _ in 0..aborted.max(0) {
                r.i64()?;
                r.i64()?;
            }
            let records = r.bytes()?.unwrap_or(&[]).to_vec();
            out.push(FetchedPartition {
                topic: topic.clone(),
                partition,
                error,
                records,
            });
        }
    }
    Ok(out)
}

/// The largest fetch response [`fetch_v4`] accepts (it asks for at most 8 MiB).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The fixed fields of a v2 record batch, read without decoding (or decompressing) its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub(crate) base_offset: i64,
    pub(crate) last_offset: i64,
    pub(crate) producer_id: i64,
    pub(crate) transactional: bool,
    /// For a control batch: `Some(true)` for COMMIT, `Some(false)` for ABORT.
    pub(crate) control: Option<bool>,
    /// Where the batch ends in the data it was read from (exclusive).
    pub(crate) end: usize,
}

/// A complete v2 batch split into its header fields and its records section.
struct RawBatch<'a> {
    base_offset: i64,
    last_offset: i64,
    attributes: i16,
    base_timestamp: i64,
    producer_id: i64,
    count: i32,
    /// The records, after the batch's record count.
    records: &'a [u8],
    end: usize,
}

/// Splits a `records` field into its complete batches (a trailing partial batch is ignored, as
/// clients do).
fn raw_batches(all: &[u8]) -> Result<Vec<RawBatch<'_>>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(data) = all.get(at..).filter(|d| d.len() >= 12) {
        let mut head = Buf::new(data);
        let base_offset = head.i64()?;
        let length = usize::try_from(head.i32()?).unwrap_or(0);
        let Some(total) = length.checked_add(12).filter(|t| *t <= data.len()) else {
            break; // partial batch at the end of the response
        };
        let mut r = Buf::new(&data[12..total]);
        let _leader_epoch = r.i32()?;
        let magic = r.i8()?;
        if magic != 2 {
            return Err(format!(
                "record batch at offset {base_offset}: magic {magic}, expected 2"
            ));
        }
        let _crc = r.i32()?;
        let attributes = r.i16()?;
        let last_offset_delta = r.i32()?;
        let base_timestamp = r.i64()?;
        let _max_timestamp = r.i64()?;
        let producer_id = r.i64()?;
        let _producer_epoch = r.i16()?;
        let _base_sequence = r.i32()?;
        let count = r.i32()?;
        at += total;
        out.push(RawBatch {
            base_offset,
            last_offset: base_offset.saturating_add(i64::from(last_offset_delta)),
            attributes,
            base_timestamp,
            producer_id,
            count,
            records: r.data,
            end: at,
        });
    }
    Ok(out)
}

/// The batch headers of a `records` field, control markers decoded; compressed batches are
/// fine (their records are not read), a compressed control batch is an error.
pub(crate) fn batch_headers(data: &[u8]) -> Result<Vec<BatchHeader>, String> {
    raw_batches(data)?
        .into_iter()
        .map(|b| {
            let control = if b.attributes & ATTR_CONTROL != 0 {
                if b.attributes & ATTR_COMPRESSION != 0 {
                    return Err(format!(
                        "control batch at offset {} is compressed",
                        b.base_offset
                    ));
                }
                let records = decode_records(&b, 0)?;
                Some(control_type(&records, b.base_offset)?)
            } else {
                None
            };
            Ok(BatchHeader {
                base_offset: b.base_offset,
                last_offset: b.last_offset,
                producer_id: b.producer_id,
                transactional: b.attributes & ATTR_TRANSACTIONAL != 0,
                control,
                end: b.end,
            })
        })
        .collect()
}

/// A control batch's marker: true for COMMIT, false for ABORT (the control record's key is
/// version i16, type i16: 0 abort, 1 commit).
fn control_type(records: &[Consumed], base_offset: i64) -> Result<bool, String> {
    match records.first().and_then(|r| r.key.as_deref()) {
        Some([_, _, t0, t1, ..]) => Ok(i16::from_be_bytes([*t0, *t1]) == 1),
        _ => Err(format!(
            "control batch at offset {base_offset} without a marker key"
        )),
    }
}

/// Decodes the records of an uncompressed batch.
fn decode_records(b: &RawBatch<'_>, partition: i32) -> Result<Vec<Consumed>, String> {
    if b.attributes & ATTR_COMPRESSION != 0 {
        return Err(format!(
            "record batch at offset {} is compressed (codec {}); the harness reads uncompressed batches only",
            b.base_offset,
            b.attributes & ATTR_COMPRESSION
        ));
    }
    let mut r = Buf::new(b.records);
    let mut records = Vec::with_capacity(usize::try_from(b.count).unwrap_or(0).min(4096));
    for _ in 0..b.count.max(0) {
        let len = r.varint()?;
        let mut rec = Buf::new(r.take(len.max(0) as usize)?);
        let _attributes = rec.i8()?;
        let timestamp_delta = rec.varlong()?;
        let offset_delta = rec.varint()?;
        let key = rec.varbytes()?.map(<[u8]>::to_vec);
        let value = rec.varbytes()?.map(<[u8]>::to_vec);
        let mut headers = Vec::new();
        for _ in 0..rec.varint()?.max(0) {
            let hk = rec.varbytes()?.unwrap_or_default();
            let hv = rec.varbytes()?.map(<[u8]>::to_vec);
            headers.push((String::from_utf8_lossy(hk).into_owned(), hv));
        }
        records.push(Consumed {
            partition,
            offset: b.base_offset.saturating_add(i64::from(offset_delta)),
            key,
            value,
            headers,
            timestamp: Some(b.base_timestamp.saturating_add(timestamp_delta)),
        });
    }
    Ok(records)
}

/// Decodes the record batches of one partition's `records` field (a trailing partial batch is
/// ignored, as clients do).
fn parse_batches(data: &[u8], partition: i32) -> Result<Vec<Batch>, String> {
    let mut out = Vec::new();
    for b in raw_batches(data)? {
        let records = decode_records(&b, partition)?;
        let control = if b.attributes & ATTR_CONTROL != 0 {
            Some(control_type(&records, b.base_offset)?)
        } else {
            None
        };
        out.push(Batch {
            base_offset: b.base_offset,
            last_offset: b.last_offset,
            producer_id: b.producer_id,
            transactional: b.attributes & ATTR_TRANSACTIONAL != 0,
            records: if control.is_some() {
                Vec::new()
            } else {
                records
            },
            control,
        });
    }
    Ok(out)
}

fn put_i16(b: &mut Vec<u8>, v: i16) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put_i32(b: &mut Vec<u8>, v: i32) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put_i64(b: &mut Vec<u8>, v: i64) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put_str(b: &mut Vec<u8>, s: &str) {
    put_i16(b, s.len() as i16);
    b.extend_from_slice(s.as_bytes());
}

/// A cursor over a response.
struct Buf<'a> {
    data: &'a [u8],
}

impl<'a> Buf<'a> {
    fn new(data: &'a [u8]) -> Self {
        Buf { data }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.data.len() < n {
            return Err(format!(
                "truncated response: wanted {n} bytes, {} left",
                self.data.len()
            ));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn i8(&mut self) -> Result<i8, String> {
        Ok(self.take(1)?[0] as i8)
    }
    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().map_err(|_| "i16")?,
        ))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().map_err(|_| "i32")?,
        ))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().map_err(|_| "i64")?,
        ))
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.i16()?;
        Ok(String::from_utf8_lossy(self.take(n.max(0) as usize)?).into_owned())
    }

    /// Nullable bytes with an i32 length.
    fn bytes(&mut self) -> Result<Option<&'a [u8]>, String> {
        let n = self.i32()?;
        if n < 0 {
            Ok(None)
        } else {
            self.take(n as usize).map(Some)
        }
    }

    /// An unsigned LEB128 value of up to 64 bits.
    fn uvarint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    /// A zigzag-encoded varint.
    fn varlong(&mut self) -> Result<i64, String> {
        let u = self.uvarint()?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    fn varint(&mut self) -> Result<i32, String> {
        let v = self.varlong()?;
        i32::try_from(v).map_err(|_| format!("varint {v} out of i32 range"))
    }

    /// Nullable bytes with a varint length.
    fn varbytes(&mut self) -> Result<Option<&'a [u8]>, String> {
        let n = self.varint()?;
        if n < 0 {
            Ok(None)
        } else {
            self.take(n as usize).map(Some)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn varint(out: &mut Vec<u8>, v: i64) {
        let mut u = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let b = (u & 0x7f) as u8;
            u >>= 7;
            if u == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// Encodes a v2 batch of (key, value) records.
    pub(crate) fn batch(
        base: i64,
        pid: i64,
        attributes: i16,
        records: &[(Option<&[u8]>, Option<&[u8]>)],
    ) -> Vec<u8> {
        let mut body = Vec::new();
        put_i32(&mut body, 0); // leader epoch
        body.push(2); // magic
        put_i32(&mut body, 0); // crc (unchecked)
        put_i16(&mut body, attributes);
        put_i32(&mut body, records.len() as i32 - 1);
        put_i64(&mut body, 1000);
        put_i64(&mut body, 1000);
        put_i64(&mut body, pid);
        put_i16(&mut body, 0);
        put_i32(&mut body, 0);
        put_i32(&mut body, records.len() as i32);
        for (i, (k, v)) in records.iter().enumerate() {
            let mut rec = vec![0u8];
            varint(&mut rec, i as i64); // timestamp delta
            varint(&mut rec, i as i64); // offset delta
            for field in [k, v] {
                match field {
                    Some(b) => {
                        varint(&mut rec, b.len() as i64);
                        rec.extend_from_slice(b);
                    }
                    None => varint(&mut rec, -1),
                }
            }
            varint(&mut rec, 1); // one header
            varint(&mut rec, 1);
            rec.push(b'h');
            varint(&mut rec, -1);
            varint(&mut body, rec.len() as i64);
            body.extend(rec);
        }
        let mut out = Vec::new();
        put_i64(&mut out, base);
        put_i32(&mut out, body.len() as i32);
        out.extend(body);
        out
    }

    /// Encodes a COMMIT (`commit`) or ABORT marker of producer `pid`.
    pub(crate) fn marker(base: i64, pid: i64, commit: bool) -> Vec<u8> {
        let key = [0, 0, 0, u8::from(commit)];
        batch(
            base,
            pid,
            ATTR_TRANSACTIONAL | ATTR_CONTROL,
            &[(Some(&key), Some(&[0, 0, 0, 0, 0, 0]))],
        )
    }

    fn reader_with(data: &[u8]) -> Vec<Consumed> {
        let batches = parse_batches(data, 0).unwrap();
        let mut map = BTreeMap::new();
        for b in batches {
            map.insert(b.base_offset, b);
        }
        // A reader without a connection: only `visible` is used.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let r = RawReader {
            stream,
            topic: "t".into(),
            correlation: 0,
            partitions: vec![(0, map)],
        };
        r.visible()
    }

    fn values(rs: &[Consumed]) -> Vec<String> {
        rs.iter()
            .map(|r| r.value_str().unwrap_or_default())
            .collect()
    }

    #[test]
    fn aborted_and_open_transactions_are_invisible() {
        let t = ATTR_TRANSACTIONAL;
        let mut log = Vec::new();
        log.extend(batch(
            0,
            7,
            t,
            &[
                (Some(b"k"), Some(b"aborted-0")),
                (Some(b"k"), Some(b"aborted-1")),
            ],
        ));
        log.extend(batch(2, -1, 0, &[(Some(b"k"), Some(b"plain-2"))]));
        log.extend(marker(3, 7, false));
        log.extend(batch(4, 7, t, &[(Some(b"k"), Some(b"committed-4"))]));
        log.extend(batch(5, 8, t, &[(Some(b"k"), Some(b"other-5"))]));
        log.extend(marker(6, 7, true));
        log.extend(batch(7, -1, 0, &[(None, None)]));
        // producer 8 is still open: nothing from offset 5 on is stable
        assert_eq!(values(&reader_with(&log)), vec!["plain-2", "committed-4"]);
        log.extend(marker(8, 8, true));
        let all = reader_with(&log);
        assert_eq!(values(&all), vec!["plain-2", "committed-4", "other-5", ""]);
        assert_eq!(
            all.iter().map(|r| r.offset).collect::<Vec<_>>(),
            vec![2, 4, 5, 7]
        );
        assert_eq!(all[3].key, None);
        assert_eq!(all[0].headers, vec![("h".to_string(), None)]);
        // a trailing partial batch is ignored
        let mut partial = log.clone();
        partial.extend(&batch(9, -1, 0, &[(Some(b"k"), Some(b"v"))])[..20]);
        assert_eq!(reader_with(&partial).len(), 4);
    }

    #[test]
    fn batch_headers_skip_records_and_read_markers() {
        let t = ATTR_TRANSACTIONAL;
        let mut log = Vec::new();
        log.extend(batch(0, 7, t, &[(Some(b"k"), Some(b"a")), (None, None)]));
        // A compressed batch: its records are never read, so garbage is fine.
        let mut gz = batch(2, -1, 0, &[(Some(b"k"), Some(b"zzz"))]);
        gz[22] = 1; // attributes (low byte): gzip
        log.extend(&gz);
        log.extend(marker(3, 7, false));
        log.extend(marker(4, 8, true));
        let headers = batch_headers(&log).unwrap();
        let summary: Vec<_> = headers
            .iter()
            .map(|h| {
                (
                    h.base_offset,
                    h.last_offset,
                    h.producer_id,
                    h.transactional,
                    h.control,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, 1, 7, true, None),
                (2, 2, -1, false, None),
                (3, 3, 7, true, Some(false)),
                (4, 4, 8, true, Some(true)),
            ]
        );
        assert_eq!(headers.last().unwrap().end, log.len());
        assert!(
            parse_batches(&log, 0).is_err(),
            "compressed records are not decoded"
        );
        // A partial trailing batch is left out; garbage lengths never panic.
        assert_eq!(batch_headers(&log[..log.len() - 3]).unwrap().len(), 3);
        let mut bad = log.clone();
        bad[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(batch_headers(&bad).is_err());
        bad[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(batch_headers(&bad).unwrap().is_empty());
    }
}
