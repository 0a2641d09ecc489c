//! The on-disk format of a RocksDB store's checkpoint: the changelog offsets its data has reached.
//!
//! Format, version 1: the column family [`CHECKPOINT_CF`] holds one entry per changelog
//! partition; the key is the partition as a 4-byte big-endian `i32`, the value the offset of the
//! last changelog record contained in the store as an 8-byte big-endian `i64`. Entries are
//! written in the same RocksDB `WriteBatch` as the data they cover, so after a crash the
//! checkpoint and the data always agree. Any other key or value length is [`StateError::Corrupted`].

use crate::StateError;

/// Column family holding the checkpoint.
pub(crate) const CHECKPOINT_CF: &str = "weir-checkpoint";

/// The key of `partition`'s entry.
pub(crate) fn encode_key(partition: i32) -> [u8; 4] {
    partition.to_be_bytes()
}

/// The value of an entry at `offset`.
pub(crate) fn encode_value(offset: i64) -> [u8; 8] {
    offset.to_be_bytes()
}

/// Decodes one entry.
pub(crate) fn decode(store: &str, key: &[u8], value: &[u8]) -> Result<(i32, i64), StateError> {
    let corrupted = |what: &str, len: usize| StateError::Corrupted {
        store: store.to_owned(),
        detail: format!("checkpoint entry with a {what} of {len} bytes"),
    };
    let partition = <[u8; 4]>::try_from(key).map_err(|_| corrupted("key", key.len()))?;
    let offset = <[u8; 8]>::try_from(value).map_err(|_| corrupted("value", value.len()))?;
    Ok((i32::from_be_bytes(partition), i64::from_be_bytes(offset)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let k = encode_key(-3);
        let v = encode_value(i64::MAX);
        assert_eq!(decode("s", &k, &v).unwrap(), (-3, i64::MAX));
    }

    #[test]
    fn bad_lengths_are_corruption() {
        let err = decode("s", &[0, 0, 1], &encode_value(1)).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Corrupted);
        assert!(decode("s", &encode_key(1), &[1]).is_err());
    }
}
