//! The Kafka protocol's primitive types, read from and written to byte buffers: fixed-width
//! big-endian integers, unsigned varints, classic (`i16`/`i32` length) and compact (varint
//! length + 1) strings, bytes and arrays, and tagged fields.
//!
//! Owns only the encoding; which field comes when is the business of the message codecs
//! (`fetch`, `api_versions`). Invariant: a [`Reader`] never panics and never allocates more
//! than its input could hold — a length beyond the bytes left is a [`DecodeError`], not a huge
//! `Vec::with_capacity`.

use std::fmt;

/// Why a frame could not be decoded: what was being read and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub(crate) String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) type Decoded<T> = Result<T, DecodeError>;

fn err<T>(what: impl Into<String>) -> Decoded<T> {
    Err(DecodeError(what.into()))
}

/// One tagged field of a flexible message, kept as it came (tag and raw value) so that a
/// re-encoded message carries the fields this codec does not interpret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaggedField {
    pub(crate) tag: u32,
    pub(crate) data: Vec<u8>,
}

/// A cursor over a frame.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// The bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if self.data.len() < n {
            return err(format!(
                "truncated: wanted {n} bytes, {} left",
                self.data.len()
            ));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Decoded<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i8(&mut self) -> Decoded<i8> {
        Ok(i8::from_be_bytes(self.array()?))
    }
    pub(crate) fn i16(&mut self) -> Decoded<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub(crate) fn i32(&mut self) -> Decoded<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub(crate) fn i64(&mut self) -> Decoded<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// An unsigned LEB128 varint of up to 32 bits.
    pub(crate) fn uvarint(&mut self) -> Decoded<u32> {
        let mut v = 0u32;
        for shift in [0, 7, 14, 21, 28] {
            let b = self.take(1)?[0];
            let bits = u32::from(b & 0x7f);
            if shift == 28 && bits > 0x0f {
                return err("unsigned varint beyond 32 bits");
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err("unsigned varint longer than 5 bytes")
    }

    /// A length that must fit in what is left (`n` items of at least `unit` bytes each).
    fn length(&mut self, n: usize, unit: usize) -> Decoded<usize> {
        if n.saturating_mul(unit) > self.data.len() {
            return err(format!(
                "length {n} (x {unit} bytes) beyond the {} bytes left",
                self.data.len()
            ));
        }
        Ok(n)
    }

    /// A string: compact (varint length + 1) when `flexible`, else `i16` length; null is an
    /// error (the fields read with it are not nullable).
    pub(crate) fn string(&mut self, flexible: bool) -> Decoded<String> {
        match self.nullable_string(flexible)? {
            Some(s) => Ok(s),
            None => err("null where a string is required"),
        }
    }

    pub(crate) fn nullable_string(&mut self, flexible: bool) -> Decoded<Option<String>> {
        let n = if flexible {
            match self.uvarint()?.checked_sub(1) {
                None => return Ok(None),
                Some(n) => n as usize,
            }
        } else {
            match usize::try_from(self.i16()?) {
                Err(_) => return Ok(None),
                Ok(n) => n,
            }
        };
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => err("string is not UTF-8"),
        }
    }

    /// Nullable bytes: compact when `flexible`, else `i32` length.
    pub(crate) fn nullable_bytes(&mut self, flexible: bool) -> Decoded<Option<&'a [u8]>> {
        let n = if flexible {
            match self.uvarint()?.checked_sub(1) {
                None => return Ok(None),
                Some(n) => n as usize,
            }
        } else {
            match usize::try_from(self.i32()?) {
                Err(_) => return Ok(None),
                Ok(n) => n,
            }
        };
        self.take(n).map(Some)
    }

    /// A nullable array's length: compact when `flexible`, else `i32`; `unit` is the smallest
    /// encoded size of one item, to refuse lengths the frame cannot hold.
    pub(crate) fn array_len(&mut self, flexible: bool, unit: usize) -> Decoded<Option<usize>> {
        let n = if flexible {
            match self.uvarint()?.checked_sub(1) {
                None => return Ok(None),
                Some(n) => n as usize,
            }
        } else {
            match usize::try_from(self.i32()?) {
                Err(_) => return Ok(None),
                Ok(n) => n,
            }
        };
        self.length(n, unit).map(Some)
    }

    /// A non-nullable array's length (null reads as empty).
    pub(crate) fn len(&mut self, flexible: bool, unit: usize) -> Decoded<usize> {
        Ok(self.array_len(flexible, unit)?.unwrap_or(0))
    }

    /// The tagged fields that end a flexible structure.
    pub(crate) fn tagged_fields(&mut self) -> Decoded<Vec<TaggedField>> {
        let n = self.uvarint()? as usize;
        let n = self.length(n, 2)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            out.push(TaggedField {
                tag,
                data: self.take(size)?.to_vec(),
            });
        }
        Ok(out)
    }

    /// Skips tagged fields.
    pub(crate) fn skip_tagged_fields(&mut self) -> Decoded<()> {
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

/// Encoding into a `Vec<u8>`. Lengths are written as given: the caller's values come from a
/// decoded frame or a test, so they fit the protocol's widths (longer ones are clamped, never a
/// panic).
pub(crate) trait Writer {
    fn put_i16(&mut self, v: i16);
    fn put_i32(&mut self, v: i32);
    fn put_i64(&mut self, v: i64);
    fn put_uvarint(&mut self, v: u32);
    fn put_string(&mut self, s: &str, flexible: bool);
    fn put_nullable_bytes(&mut self, b: Option<&[u8]>, flexible: bool);
    /// A nullable array's length (`None`: null).
    fn put_array_len(&mut self, n: Option<usize>, flexible: bool);
    fn put_tagged_fields(&mut self, fields: &[TaggedField]);
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Writer for Vec<u8> {
    fn put_i16(&mut self, v: i16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_uvarint(&mut self, mut v: u32) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.push(b);
                return;
            }
            self.push(b | 0x80);
        }
    }
    fn put_string(&mut self, s: &str, flexible: bool) {
        if flexible {
            self.put_uvarint(clamp_u32(s.len()).saturating_add(1));
        } else {
            self.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
        }
        self.extend_from_slice(s.as_bytes());
    }
    fn put_nullable_bytes(&mut self, b: Option<&[u8]>, flexible: bool) {
        match (b, flexible) {
            (None, true) => self.put_uvarint(0),
            (None, false) => self.put_i32(-1),
            (Some(b), true) => {
                self.put_uvarint(clamp_u32(b.len()).saturating_add(1));
                self.extend_from_slice(b);
            }
            (Some(b), false) => {
                self.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
                self.extend_from_slice(b);
            }
        }
    }
    fn put_array_len(&mut self, n: Option<usize>, flexible: bool) {
        match (n, flexible) {
            (None, true) => self.put_uvarint(0),
            (None, false) => self.put_i32(-1),
            (Some(n), true) => self.put_uvarint(clamp_u32(n).saturating_add(1)),
            (Some(n), false) => self.put_i32(i32::try_from(n).unwrap_or(i32::MAX)),
        }
    }
    fn put_tagged_fields(&mut self, fields: &[TaggedField]) {
        self.put_uvarint(clamp_u32(fields.len()));
        for f in fields {
            self.put_uvarint(f.tag);
            self.put_uvarint(clamp_u32(f.data.len()));
            self.extend_from_slice(&f.data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_refuse_garbage() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut b = Vec::new();
            b.put_uvarint(v);
            let mut r = Reader::new(&b);
            assert_eq!(r.uvarint().unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
        assert!(
            Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
                .uvarint()
                .is_err()
        );
        assert!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x7f])
                .uvarint()
                .is_err()
        );
        assert!(Reader::new(&[0x80]).uvarint().is_err());
    }

    #[test]
    fn strings_bytes_and_arrays_in_both_encodings() {
        for flexible in [false, true] {
            let mut b = Vec::new();
            b.put_string("topic", flexible);
            b.put_nullable_bytes(None, flexible);
            b.put_nullable_bytes(Some(b"xyz"), flexible);
            b.put_array_len(None, flexible);
            b.put_array_len(Some(2), flexible);
            b.extend_from_slice(&[0; 2]);
            let mut r = Reader::new(&b);
            assert_eq!(r.string(flexible).unwrap(), "topic");
            assert_eq!(r.nullable_bytes(flexible).unwrap(), None);
            assert_eq!(r.nullable_bytes(flexible).unwrap(), Some(&b"xyz"[..]));
            assert_eq!(r.array_len(flexible, 1).unwrap(), None);
            assert_eq!(r.array_len(flexible, 1).unwrap(), Some(2));
            assert_eq!(r.remaining(), 2);
        }
    }

    #[test]
    fn lengths_beyond_the_frame_are_errors() {
        let mut b = Vec::new();
        b.put_i32(1_000_000_000);
        assert!(Reader::new(&b).array_len(false, 8).is_err());
        assert!(Reader::new(&b).nullable_bytes(false).is_err());
        let mut b = Vec::new();
        b.put_uvarint(1_000_000);
        assert!(Reader::new(&b).tagged_fields().is_err());
        assert!(Reader::new(&b).string(true).is_err());
    }

    #[test]
    fn tagged_fields_round_trip() {
        let fields = vec![
            TaggedField {
                tag: 0,
                data: vec![1, 2, 3],
            },
            TaggedField {
                tag: 300,
                data: vec![],
            },
        ];
        let mut b = Vec::new();
        b.put_tagged_fields(&fields);
        assert_eq!(Reader::new(&b).tagged_fields().unwrap(), fields);
        let mut r = Reader::new(&b);
        r.skip_tagged_fields().unwrap();
        assert_eq!(r.remaining(), 0);
    }
}
