//! One proxied client connection: two threads, one per direction, that move whole Kafka frames
//! (`i32` size, then the message).
//!
//! * Client → broker: each request's header (api key, version, correlation id) is noted —
//!   for Fetch also its isolation level and fetch offsets — before the frame is forwarded
//!   unchanged.
//! * Broker → client: each response is matched to its request by correlation id. A Fetch
//!   response to a `read_committed` request is rewritten (`filter`, with the `abort_index`
//!   caught up first); an ApiVersions response gets Fetch capped (`api_versions`); everything
//!   else goes through byte for byte.
//!
//! Nothing here panics on what the peers send: a frame that cannot be decoded is forwarded as
//! it came and counted (`TxnProxyStats::undecodable`); a stream that cannot be framed (a
//! negative or absurd size) is copied raw from there on and counted (`unframed`). Records whose
//! batches cannot be split are withheld (`index_errors`): the client fetches them again.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use super::abort_index::{AbortIndex, PartitionTxns};
use super::codec::{Reader, Writer};
use super::fetch::{self, FetchRequest, PartitionData};
use super::{Shared, api_versions, filter};

const API_FETCH: i16 = 1;
const API_VERSIONS: i16 = 18;
/// The largest frame the proxy buffers; larger sizes are taken for garbage.
const MAX_FRAME: usize = 512 * 1024 * 1024;

/// What the response to a request needs from it.
#[derive(Debug)]
enum Pending {
    ApiVersions { version: i16 },
    Fetch { version: i16, request: FetchRequest },
}

type PendingMap = Arc<Mutex<HashMap<i32, Pending>>>;

/// Starts forwarding between `client` and `broker` on two threads.
pub(super) fn spawn(shared: &Arc<Shared>, client: TcpStream, broker: TcpStream) -> io::Result<()> {
    client.set_nodelay(true)?;
    broker.set_nodelay(true)?;
    let pending: PendingMap = Arc::default();
    if let Ok(mut live) = shared.live.lock() {
        live.push(client.try_clone()?);
        live.push(broker.try_clone()?);
    }
    let (c_in, b_out) = (client.try_clone()?, broker.try_clone()?);
    if !shared.filtering.load(Ordering::SeqCst) {
        for (name, mut from, mut to) in [("requests", c_in, b_out), ("responses", broker, client)] {
            std::thread::Builder::new()
                .name(format!("txn-proxy-raw-{name}"))
                .spawn(move || {
                    let _ = io::copy(&mut from, &mut to);
                    close(&from, &to);
                })?;
        }
        return Ok(());
    }
    let (s, p) = (shared.clone(), pending.clone());
    std::thread::Builder::new()
        .name("txn-proxy-requests".into())
        .spawn(move || {
            requests(&s, &p, c_in, b_out);
        })?;
    let s = shared.clone();
    std::thread::Builder::new()
        .name("txn-proxy-responses".into())
        .spawn(move || {
            responses(&s, &pending, broker, client);
        })?;
    Ok(())
}

/// The next frame's size, `None` at a clean end of stream.
fn frame_size(from: &mut impl Read) -> io::Result<Option<[u8; 4]>> {
    let mut size = [0u8; 4];
    match from.read_exact(&mut size) {
        Ok(()) => Ok(Some(size)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads one frame body after its size; `Err(size)` when the size is not one to buffer.
fn frame(from: &mut impl Read, size: [u8; 4]) -> io::Result<Result<Vec<u8>, [u8; 4]>> {
    let Some(n) = usize::try_from(i32::from_be_bytes(size))
        .ok()
        .filter(|n| *n <= MAX_FRAME)
    else {
        return Ok(Err(size));
    };
    let mut body = vec![0u8; n];
    from.read_exact(&mut body)?;
    Ok(Ok(body))
}

fn send(to: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.put_i32(i32::try_from(body.len()).unwrap_or(i32::MAX));
    out.extend_from_slice(body);
    to.write_all(&out)
}

/// Copies the rest of a stream that could not be framed, after the size already read.
fn raw(shared: &Shared, what: &str, size: [u8; 4], from: &mut impl Read, to: &mut TcpStream) {
    shared.counters.unframed.fetch_add(1, Ordering::Relaxed);
    shared.log(format_args!(
        "{what}: frame size {} not bufferable; copying the rest of this connection unchanged",
        i32::from_be_bytes(size)
    ));
    if to.write_all(&size).is_ok() {
        let _ = io::copy(from, to);
    }
}

fn close(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

fn requests(shared: &Shared, pending: &PendingMap, client: TcpStream, mut broker: TcpStream) {
    let mut from = BufReader::with_capacity(64 * 1024, &client);
    loop {
        let body = match frame_size(&mut from).and_then(|s| match s {
            Some(size) => frame(&mut from, size).map(Some),
            None => Ok(None),
        }) {
            Ok(Some(Ok(body))) => body,
            Ok(Some(Err(size))) => {
                raw(shared, "request", size, &mut from, &mut broker);
                break;
            }
            Ok(None) | Err(_) => break,
        };
        note_request(shared, pending, &body);
        if send(&mut broker, &body).is_err() {
            break;
        }
    }
    close(&client, &broker);
}

/// Records what the response to this request will need; a request it cannot read is counted
/// and forwarded all the same (its response then goes through unchanged).
fn note_request(shared: &Shared, pending: &PendingMap, body: &[u8]) {
    let mut r = Reader::new(body);
    let (Ok(key), Ok(version), Ok(correlation)) = (r.i16(), r.i16(), r.i32()) else {
        shared.undecodable(format_args!("request of {} bytes: no header", body.len()));
        return;
    };
    let entry = match key {
        API_VERSIONS => Pending::ApiVersions { version },
        API_FETCH => {
            // Request header v1/v2: the client id (an i16-length string in both).
            let decoded = r.nullable_string(false).and_then(|_| {
                fetch::decode_request(
                    version,
                    body.get(body.len() - r.remaining()..).unwrap_or_default(),
                )
            });
            match decoded {
                Ok(request) => Pending::Fetch { version, request },
                Err(e) => {
                    shared.undecodable(format_args!("Fetch request v{version}: {e}"));
                    return;
                }
            }
        }
        _ => return,
    };
    pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(correlation, entry);
}

fn responses(shared: &Shared, pending: &PendingMap, broker: TcpStream, mut client: TcpStream) {
    let mut from = BufReader::with_capacity(64 * 1024, &broker);
    loop {
        let body = match frame_size(&mut from).and_then(|s| match s {
            Some(size) => frame(&mut from, size).map(Some),
            None => Ok(None),
        }) {
            Ok(Some(Ok(body))) => body,
            Ok(Some(Err(size))) => {
                raw(shared, "response", size, &mut from, &mut client);
                break;
            }
            Ok(None) | Err(_) => break,
        };
        let body = rewrite_response(shared, pending, body);
        if send(&mut client, &body).is_err() {
            break;
        }
    }
    close(&broker, &client);
}

/// The response to forward: `body` itself, or its rewrite.
fn rewrite_response(shared: &Shared, pending: &PendingMap, mut body: Vec<u8>) -> Vec<u8> {
    let Some(correlation) = body.first_chunk::<4>().map(|c| i32::from_be_bytes(*c)) else {
        shared.undecodable(format_args!("response of {} bytes: no header", body.len()));
        return body;
    };
    let entry = pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&correlation);
    match entry {
        None => body,
        Some(Pending::ApiVersions { version }) => {
            // Response header v0: the body follows the correlation id.
            match body
                .get_mut(4..)
                .map(|b| api_versions::cap_fetch(version, b, *fetch::VERSIONS.end()))
            {
                Some(Ok(Some(offered))) => {
                    if shared.counters.fetch_capped.fetch_add(1, Ordering::Relaxed) == 0 {
                        shared.log(format_args!(
                        "ApiVersions v{version}: Fetch capped at v{} (broker offers v{offered})",
                            fetch::VERSIONS.end()
                        ));
                    }
                }
                Some(Ok(None)) | None => {}
                Some(Err(e)) => shared.undecodable(format_args!("ApiVersions v{version}: {e}")),
            }
            body
        }
        Some(Pending::Fetch { request, .. }) if request.isolation_level != 1 => {
            shared
                .counters
                .fetch_uncommitted
                .fetch_add(1, Ordering::Relaxed);
            body
        }
        Some(Pending::Fetch { version, request }) => {
            match rewrite_fetch(shared, version, &request, &body) {
                Ok(rewritten) => rewritten,
                Err(e) => {
                    shared.undecodable(format_args!("Fetch response v{version}: {e}"));
                    body
                }
            }
        }
    }
}

/// A read-committed Fetch response, rewritten (see `filter`).
fn rewrite_fetch(
    shared: &Shared,
    version: i16,
    request: &FetchRequest,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    // Response header v1 (flexible versions) ends in tagged fields.
    let mut r = Reader::new(body);
    r.i32().map_err(|e| e.to_string())?;
    if fetch::is_flexible(version) {
        r.skip_tagged_fields().map_err(|e| e.to_string())?;
    }
    let header_len = body.len() - r.remaining();
    let (header, rest) = body.split_at(header_len);
    let mut resp = fetch::decode_response(version, rest).map_err(|e| e.to_string())?;
    {
        let mut index = shared.index.lock().unwrap_or_else(PoisonError::into_inner);
        for topic in &mut resp.topics {
            for p in &mut topic.partitions {
                let offset = request
                    .offsets
                    .get(&(topic.name.clone(), p.partition_index))
                    .copied();
                rewrite_partition(shared, &mut index, &topic.name, p, offset);
            }
        }
    }
    shared
        .counters
        .fetch_committed
        .fetch_add(1, Ordering::Relaxed);
    let mut out = header.to_vec();
    out.extend(fetch::encode_response(version, &resp));
    Ok(out)
}

/// One partition of a read-committed Fetch response, rewritten with the index caught up.
fn rewrite_partition(
    shared: &Shared,
    index: &mut AbortIndex,
    topic: &str,
    p: &mut PartitionData,
    fetch_offset: Option<i64>,
) {
    if p.error_code != 0 {
        return;
    }
    // Catch up where the answer could depend on what the index has not read: new records, or
    // an open transaction that may have ended since.
    let stale = index.get(topic, p.partition_index).is_none_or(|t| {
        t.first_open().is_some()
            || t.next() < p.high_watermark
            || p.records.as_ref().is_some_and(|r| !r.is_empty())
    });
    if stale && let Err(e) = index.catch_up(topic, p.partition_index) {
        shared.counters.index_errors.fetch_add(1, Ordering::Relaxed);
        shared.log(format_args!("abort index: {e}"));
    }
    let empty = PartitionTxns::default();
    let txns = index.get(topic, p.partition_index).unwrap_or(&empty);
    let broker_lso = p.last_stable_offset;
    let c = &shared.counters;
    match filter::read_committed(p, fetch_offset, txns) {
        Ok(done) => {
            if p.last_stable_offset != broker_lso
                && c.lso_changed.fetch_add(1, Ordering::Relaxed) < 5
            {
                shared.log(format_args!(
                    "{topic}/{}: last stable offset {} (broker said {broker_lso})",
                    p.partition_index, p.last_stable_offset
                ));
            }
            c.aborted_listed
                .fetch_add(done.aborted_listed as u64, Ordering::Relaxed);
            c.batches_held_back
                .fetch_add(done.batches_held_back as u64, Ordering::Relaxed);
        }
        Err(e) => {
            // Records the proxy cannot split are not shown: the client asks again.
            c.index_errors.fetch_add(1, Ordering::Relaxed);
            shared.log(format_args!(
                "{topic}/{}: records withheld: {e}",
                p.partition_index
            ));
            p.records = Some(Vec::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::txn_proxy::fetch::tests::{request, sample};
    use crate::txn_proxy::{Counters, TxnProxyStats};

    /// A proxy's shared state whose abort index points at a port nothing listens on.
    fn shared() -> Shared {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let broker: SocketAddr = closed.local_addr().unwrap();
        drop(closed);
        Shared {
            port: 0,
            stop: AtomicBool::new(false),
            filtering: AtomicBool::new(true),
            live: Mutex::default(),
            index: Mutex::new(AbortIndex::new(broker)),
            counters: Counters::default(),
        }
    }

    fn stats(s: &Shared) -> TxnProxyStats {
        let c = &s.counters;
        TxnProxyStats {
            fetch_committed: c.fetch_committed.load(Ordering::Relaxed),
            undecodable: c.undecodable.load(Ordering::Relaxed),
            index_errors: c.index_errors.load(Ordering::Relaxed),
            fetch_capped: c.fetch_capped.load(Ordering::Relaxed),
            ..TxnProxyStats::default()
        }
    }

    /// A request frame body: header v1/v2 (client id "c"), then `body`.
    fn request_frame(key: i16, version: i16, correlation: i32, body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_i16(key);
        b.put_i16(version);
        b.put_i32(correlation);
        b.put_string("c", false);
        b.extend_from_slice(body);
        b
    }

    /// A response frame body: the correlation id, header tagged fields when flexible, `body`.
    fn response_frame(correlation: i32, flexible: bool, body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_i32(correlation);
        if flexible {
            b.put_tagged_fields(&[]);
        }
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn undecodable_responses_go_through_unchanged_and_are_counted() {
        let s = shared();
        let pending = PendingMap::default();
        note_request(
            &s,
            &pending,
            &request_frame(1, 12, 7, &request(12, 1, &[("t", 0, 0)])),
        );
        let garbage = response_frame(7, true, &[0xff; 40]);
        assert_eq!(rewrite_response(&s, &pending, garbage.clone()), garbage);
        assert_eq!(stats(&s).undecodable, 1);
        // An unknown correlation id, a read-uncommitted fetch, another API: untouched.
        let other = response_frame(8, false, &[1, 2, 3]);
        assert_eq!(rewrite_response(&s, &pending, other.clone()), other);
        note_request(
            &s,
            &pending,
            &request_frame(1, 12, 9, &request(12, 0, &[("t", 0, 0)])),
        );
        let body = crate::txn_proxy::fetch::encode_response(12, &sample(12, true));
        let uncommitted = response_frame(9, true, &body);
        assert_eq!(
            rewrite_response(&s, &pending, uncommitted.clone()),
            uncommitted
        );
        note_request(&s, &pending, &request_frame(3, 9, 10, &[]));
        assert_eq!(rewrite_response(&s, &pending, other.clone()), other);
        // Truncated requests are counted, never a panic.
        note_request(&s, &pending, &[0, 1]);
        note_request(&s, &pending, &request_frame(1, 12, 11, &[0]));
        assert_eq!(stats(&s).undecodable, 3);
    }

    #[test]
    fn without_an_index_records_are_withheld_not_shown() {
        let s = shared();
        let pending = PendingMap::default();
        for version in fetch::VERSIONS {
            note_request(
                &s,
                &pending,
                &request_frame(1, version, 5, &request(version, 1, &[("changelog", 2, 0)])),
            );
            let mut resp = sample(version, false);
            resp.topics[0].partitions[0].records =
                Some(crate::wire::tests::batch(0, -1, 0, &[(None, Some(b"v"))]));
            let out = rewrite_response(
                &s,
                &pending,
                response_frame(
                    5,
                    fetch::is_flexible(version),
                    &fetch::encode_response(version, &resp),
                ),
            );
            let header = if fetch::is_flexible(version) { 5 } else { 4 };
            let back = fetch::decode_response(version, &out[header..]).unwrap();
            let p = &back.topics[0].partitions[0];
            assert_eq!(p.records.as_deref(), Some(&[][..]), "v{version}");
            assert_eq!(p.aborted_transactions, Some(Vec::new()));
            // The errored partition is left alone.
            assert_eq!(back.topics[0].partitions[1], resp.topics[0].partitions[1]);
        }
        let st = stats(&s);
        assert_eq!(st.fetch_committed, 9);
        assert!(st.index_errors >= 9, "{st:?}");
        assert_eq!(st.undecodable, 0);
    }

    #[test]
    fn api_versions_responses_cap_fetch() {
        let s = shared();
        let pending = PendingMap::default();
        note_request(&s, &pending, &request_frame(18, 3, 1, &[]));
        let mut body = Vec::new();
        body.put_i16(0);
        body.put_array_len(Some(1), true);
        body.put_i16(1);
        body.put_i16(0);
        body.put_i16(17);
        body.put_tagged_fields(&[]);
        body.put_i32(0);
        body.put_tagged_fields(&[]);
        let out = rewrite_response(&s, &pending, response_frame(1, false, &body));
        assert_eq!(out[4 + 7..4 + 9], 12i16.to_be_bytes());
        assert_eq!(stats(&s).fetch_capped, 1);
    }
}
