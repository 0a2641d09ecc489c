//! ApiVersions (key 18) responses, patched in place so that a client never negotiates a Fetch
//! version above the proxy's [`super::fetch::VERSIONS`]: from Fetch 13 on, responses name topics
//! by UUID, which the proxy would have to learn from Metadata responses first.
//!
//! Schema: `error_code i16 | api_keys [api_key i16 | min_version i16 | max_version i16]
//! | throttle_time_ms i32 (1+)`; from version 3 on the array is compact and every structure ends
//! in tagged fields. The response header is always v0 (no tagged fields), whatever the version.
//! Only the Fetch entry's `max_version` changes, at the same width, so the frame keeps its
//! length. A response with an error is answered in v0's layout by brokers: it is not touched.

use super::codec::{Decoded, Reader};

const API_FETCH: i16 = 1;

/// Lowers Fetch's `max_version` in an ApiVersions response body of `version` to `cap`.
/// Returns the version the broker offered when it changed something, `None` when it did not.
pub(crate) fn cap_fetch(version: i16, body: &mut [u8], cap: i16) -> Decoded<Option<i16>> {
    let flexible = version >= 3;
    // Where the Fetch entry's max_version sits, found with a reader over a shared view.
    let (at, offered) = {
        let mut r = Reader::new(body);
        if r.i16()? != 0 {
            return Ok(None);
        }
        let n = r.len(flexible, 6)?;
        let mut found = None;
        for _ in 0..n {
            let key = r.i16()?;
            let _min = r.i16()?;
            let before = body.len() - r.remaining();
            let max = r.i16()?;
            if flexible {
                r.skip_tagged_fields()?;
            }
            if key == API_FETCH {
                found = Some((before, max));
            }
        }
        match found {
            Some(f) => f,
            None => return Ok(None),
        }
    };
    if offered <= cap {
        return Ok(None);
    }
    if let Some(slot) = body.get_mut(at..at + 2) {
        slot.copy_from_slice(&cap.to_be_bytes());
    }
    Ok(Some(offered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn_proxy::codec::Writer;

    fn response(version: i16, apis: &[(i16, i16, i16)]) -> Vec<u8> {
        let flexible = version >= 3;
        let mut b = Vec::new();
        b.put_i16(0);
        b.put_array_len(Some(apis.len()), flexible);
        for (k, min, max) in apis {
            b.put_i16(*k);
            b.put_i16(*min);
            b.put_i16(*max);
            if flexible {
                b.put_tagged_fields(&[]);
            }
        }
        if version >= 1 {
            b.put_i32(0);
        }
        if flexible {
            b.put_tagged_fields(&[]);
        }
        b
    }

    #[test]
    fn fetch_max_version_is_capped_in_place() {
        for version in 0..=4 {
            let apis = [(0, 0, 11), (1, 0, 16), (18, 0, 4)];
            let mut body = response(version, &apis);
            assert_eq!(cap_fetch(version, &mut body, 12).unwrap(), Some(16));
            assert_eq!(
                body,
                response(version, &[(0, 0, 11), (1, 0, 12), (18, 0, 4)])
            );
            // Already low enough, or no Fetch entry: untouched.
            assert_eq!(cap_fetch(version, &mut body, 12).unwrap(), None);
            let mut no_fetch = response(version, &[(0, 0, 11)]);
            assert_eq!(cap_fetch(version, &mut no_fetch, 12).unwrap(), None);
        }
    }

    #[test]
    fn errors_and_garbage_are_left_alone() {
        let mut body = response(3, &[(1, 0, 16)]);
        body[1] = 35; // UNSUPPORTED_VERSION
        let before = body.clone();
        assert_eq!(cap_fetch(3, &mut body, 12).unwrap(), None);
        assert_eq!(body, before);
        let mut short = response(3, &[(1, 0, 16)]);
        short.truncate(6);
        assert!(cap_fetch(3, &mut short, 12).is_err());
    }
}
