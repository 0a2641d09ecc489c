//! The change-logging layer's sink: where every write of a logged store goes besides the store.
//!
//! Owns the [`ChangelogSink`] trait only; the runtime implements it with a Kafka producer writing
//! to `{application}-{store}-changelog`, the test driver with an in-memory recorder.

use crate::StateError;

/// Receives every write of a change-logged store, in order: `value == None` is a tombstone.
pub trait ChangelogSink: Send {
    /// Hands one change to the changelog. Errors fail the write that caused them.
    fn send(&mut self, store: &str, key: &[u8], value: Option<&[u8]>) -> Result<(), StateError>;
}
