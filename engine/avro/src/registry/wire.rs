//! The Confluent wire format, as Kafka's `KafkaAvroSerializer` and confluent-kafka's
//! `AvroSerializer` write it:
//!
//! ```text
//! byte 0      magic byte, always 0
//! bytes 1..5  schema id, 4-byte big-endian (the registry's global id of the writer schema)
//! bytes 5..   the Avro binary encoding of one datum (no container, no fingerprint)
//! ```
//!
//! Pure functions over bytes; never panics on any input.

/// The magic byte of the Confluent wire format.
pub const MAGIC_BYTE: u8 = 0;

/// Length of the header (magic byte + schema id).
pub const HEADER_LEN: usize = 5;

/// `datum` framed with `schema_id`.
pub fn frame(schema_id: u32, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + datum.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(datum);
    out
}

/// Splits a framed payload into its schema id and datum bytes; the error says what is wrong.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), String> {
    match bytes {
        [] => Err("empty payload: not in the Confluent wire format".into()),
        [magic, ..] if *magic != MAGIC_BYTE => Err(format!(
            "unknown magic byte {magic:#04x} (expected 0x00): not in the Confluent wire format"
        )),
        [_, a, b, c, d, datum @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), datum)),
        _ => Err(format!(
            "payload of {} bytes is shorter than the 5-byte Confluent header",
            bytes.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_unframes() {
        let b = frame(0x0102_0304, b"xyz");
        assert_eq!(b, [0, 1, 2, 3, 4, b'x', b'y', b'z']);
        assert_eq!(unframe(&b), Ok((0x0102_0304, &b"xyz"[..])));
        assert_eq!(unframe(&[0, 0, 0, 0, 7]), Ok((7, &[][..])));
    }

    #[test]
    fn rejects_what_is_not_framed() {
        assert!(unframe(&[]).unwrap_err().contains("empty"));
        assert!(
            unframe(&[1, 0, 0, 0, 1])
                .unwrap_err()
                .contains("magic byte 0x01")
        );
        assert!(unframe(&[0, 0, 1]).unwrap_err().contains("shorter"));
        assert!(
            unframe(b"{\"json\":1}")
                .unwrap_err()
                .contains("magic byte 0x7b")
        );
    }
}
