//! The crate's one error type, [`StateError`], and the [`ErrorKind`] that tells the runtime what
//! to do about it.
//!
//! Owns: every failure a store can report. Variants are named after the operation that failed and
//! always carry the store's name, so a message in a log says which store of which task broke.
//! Invariant: [`StateError::kind`] is the only place that decides whether an error is fatal,
//! retriable or means the store's contents are corrupted; callers never inspect messages.

use std::path::PathBuf;

/// What the runtime should do about a [`StateError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Stop: a bug, a misconfiguration or an I/O failure retrying will not fix.
    Fatal,
    /// Try the operation again later (a lock held by a closing task, a busy database).
    Retriable,
    /// The store's contents cannot be trusted: wipe it and restore it from its changelog.
    Corrupted,
}

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Opening (or creating) the store's database failed.
    #[error("store `{store}`: cannot open RocksDB at {path}: {source}")]
    Open {
        /// The store.
        store: String,
        /// The database directory.
        path: PathBuf,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },

    /// A point read, an iterator or a property read failed.
    #[error("store `{store}`: read failed: {source}")]
    Read {
        /// The store.
        store: String,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },

    /// Writing a batch failed; nothing of the batch was applied.
    #[error("store `{store}`: write failed: {source}")]
    Write {
        /// The store.
        store: String,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },

    /// Flushing the write-ahead log or the memtables failed.
    #[error("store `{store}`: flush failed: {source}")]
    Flush {
        /// The store.
        store: String,
        /// RocksDB's error.
        #[source]
        source: rocksdb::Error,
    },

    /// The store was used after [`crate::KeyValueStore::close`].
    #[error("store `{store}` is closed")]
    Closed {
        /// The store.
        store: String,
    },

    /// A file-system operation on the store's directory failed.
    #[error("store `{store}`: I/O error on {path}: {source}")]
    Io {
        /// The store.
        store: String,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The store's durable contents are unreadable or inconsistent (for example a malformed
    /// checkpoint entry).
    #[error("store `{store}` is corrupted: {detail}")]
    Corrupted {
        /// The store.
        store: String,
        /// What was found.
        detail: String,
    },

    /// The changelog sink refused a write; the store was not changed.
    #[error("store `{store}`: sending to the changelog failed: {message}")]
    ChangelogSend {
        /// The store.
        store: String,
        /// The sink's description of the failure.
        message: String,
    },

    /// A batch carried an offset no changelog can have (negative).
    #[error("store `{store}`: invalid changelog offset {offset} for partition {partition}")]
    InvalidOffsets {
        /// The store.
        store: String,
        /// The changelog partition.
        partition: i32,
        /// The rejected offset.
        offset: i64,
    },

    /// A window or session store was configured with values it cannot work with, or its stored
    /// keys were laid out under another configuration (a changed segment interval).
    #[error("store `{store}`: invalid configuration: {detail}")]
    InvalidConfig {
        /// The store.
        store: String,
        /// What is wrong.
        detail: String,
    },

    /// A write a window or session store cannot represent (a session ending before it starts,
    /// the duplicate numbers of one window used up); nothing was written.
    #[error("store `{store}`: invalid write: {detail}")]
    InvalidWrite {
        /// The store.
        store: String,
        /// What is wrong.
        detail: String,
    },
}

impl StateError {
    /// What the runtime should do about this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StateError::Open { source, .. } => match source.kind() {
                rocksdb::ErrorKind::Corruption => ErrorKind::Corrupted,
                // Another task of this process (or a worker that is shutting down) still holds
                // the directory's LOCK file: it goes away once that task has closed.
                rocksdb::ErrorKind::IOError if is_lock_error(source) => ErrorKind::Retriable,
                kind => rocks_kind(kind),
            },
            StateError::Read { source, .. }
            | StateError::Write { source, .. }
            | StateError::Flush { source, .. } => rocks_kind(source.kind()),
            StateError::Corrupted { .. } => ErrorKind::Corrupted,
            StateError::Closed { .. }
            | StateError::Io { .. }
            | StateError::ChangelogSend { .. }
            | StateError::InvalidOffsets { .. }
            | StateError::InvalidConfig { .. }
            | StateError::InvalidWrite { .. } => ErrorKind::Fatal,
        }
    }

    /// The name of the store the error belongs to.
    pub fn store(&self) -> &str {
        match self {
            StateError::Open { store, .. }
            | StateError::Read { store, .. }
            | StateError::Write { store, .. }
            | StateError::Flush { store, .. }
            | StateError::Closed { store }
            | StateError::Io { store, .. }
            | StateError::Corrupted { store, .. }
            | StateError::ChangelogSend { store, .. }
            | StateError::InvalidOffsets { store, .. }
            | StateError::InvalidConfig { store, .. }
            | StateError::InvalidWrite { store, .. } => store,
        }
    }

    /// A [`StateError::Closed`] for `store`.
    pub(crate) fn closed(store: &str) -> Self {
        StateError::Closed {
            store: store.to_owned(),
        }
    }
}

fn rocks_kind(kind: rocksdb::ErrorKind) -> ErrorKind {
    match kind {
        rocksdb::ErrorKind::Corruption => ErrorKind::Corrupted,
        rocksdb::ErrorKind::Busy
        | rocksdb::ErrorKind::TryAgain
        | rocksdb::ErrorKind::TimedOut
        | rocksdb::ErrorKind::Incomplete => ErrorKind::Retriable,
        _ => ErrorKind::Fatal,
    }
}

fn is_lock_error(source: &rocksdb::Error) -> bool {
    let message = source.as_ref();
    message.contains("LOCK") || message.contains("lock hold")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(StateError::closed("s").kind(), ErrorKind::Fatal);
        let corrupted = StateError::Corrupted {
            store: "s".into(),
            detail: "x".into(),
        };
        assert_eq!(corrupted.kind(), ErrorKind::Corrupted);
        assert_eq!(corrupted.store(), "s");
        assert!(corrupted.to_string().contains("store `s` is corrupted"));
    }
}
