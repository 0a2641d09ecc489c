//! The steps a stream can take, as read from a definition: the vocabulary ([`KINDS`] and their
//! options) and the typed [`Step`]/[`Op`] the builder applies. Reading them is `read_steps`.

use super::error::Pos;
use super::expr::Expr;
use super::format::Format;
use super::schema::Named;
use super::windows::Windowing;
use weir_runtime::dsl::JoinWindows;

/// Every step kind, with the options it accepts besides `name`.
pub(crate) const KINDS: &[(&str, &[&str])] = &[
    ("filter", &[]),
    ("filter_not", &[]),
    ("validate", &["error"]),
    ("map_values", &[]),
    ("map", &[]),
    ("select_key", &[]),
    ("flat_map_values", &[]),
    ("flat_map", &[]),
    ("log", &["level"]),
    ("lookup", &["key", "keys", "keep", "value", "as", "names"]),
    ("join", &["window", "keep", "value", "store"]),
    ("branch", &["default"]),
    ("merge", &[]),
    ("group_by", &["repartition", "window", "emit"]),
    ("group_by_key", &["repartition", "window", "emit"]),
    ("count", &[]),
    ("aggregate", &["initial", "update", "merger"]),
    ("reduce", &["update"]),
    ("to_stream", &[]),
    ("repartition", &[]),
    ("to", &["key", "value"]),
];

/// The variables of a record expression.
pub(crate) const RECORD: &[&str] = &["key", "value"];

/// One step of a stream.
pub(crate) struct Step {
    pub pos: Pos,
    pub kind: &'static str,
    /// The name of the node the step adds (its main node when it adds several).
    pub name: Option<String>,
    pub op: Op,
}

/// Which records a lookup keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Records with a row in the table.
    Inner,
    /// Every record (`null` as table value when there is no row).
    Left,
    /// Records without a row, unchanged (an anti-join).
    Unmatched,
}

pub(crate) struct Lookup {
    pub table: Named,
    pub global: bool,
    pub key: Option<Expr>,
    /// `keys:` (global tables): every key the list expression gives is looked up; the table
    /// value is then a map of the rows found.
    pub many: Option<Expr>,
    pub keep: Keep,
    /// The joined value; `None`: the record value with the table value under `field`.
    pub value: Option<Expr>,
    pub field: String,
    /// Names of an anti-join's filter and value-restoring nodes.
    pub drop_name: Option<String>,
    pub value_name: Option<String>,
}

/// Which records a stream–stream join emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinKeep {
    /// Pairs of records within the window.
    Inner,
    /// Pairs, and records of this stream without a partner (once their window closed).
    Left,
    /// Pairs, and records of either stream without a partner.
    Outer,
}

/// A `join` of this stream with another stream of the file.
pub(crate) struct StreamJoin {
    pub other: Named,
    pub window: JoinWindows,
    pub keep: JoinKeep,
    /// The joined value, from `value` and `other` (`null` for a missing side).
    pub value: Expr,
    /// Prefix of the join's store names.
    pub store: Named,
}

/// One named branch of a `branch` step: `NAME: PREDICATE`, or
/// `NAME: {when: PREDICATE, tombstones: true}`.
pub(crate) struct BranchDef {
    pub name: Named,
    /// The predicate; `None` for a branch of tombstones only (`tombstones: true`, no `when`).
    pub when: Option<Expr>,
    /// Tombstones (records with a null value, which no predicate sees) go to this branch
    /// instead of the default branch.
    pub tombstones: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

pub(crate) enum Op {
    Filter {
        expr: Expr,
        keep: bool,
    },
    Validate {
        expr: Expr,
        error: Option<Expr>,
    },
    MapValues(Expr),
    Map {
        key: Expr,
        value: Expr,
    },
    SelectKey(Expr),
    FlatMapValues(Expr),
    FlatMap(Expr),
    Log {
        expr: Expr,
        level: Level,
    },
    Lookup(Box<Lookup>),
    Branch {
        branches: Vec<BranchDef>,
        default: Option<Named>,
    },
    Merge(Named),
    Join(Box<StreamJoin>),
    GroupBy {
        key: Option<Expr>,
        repartition: Option<Named>,
        window: Option<Windowing>,
    },
    Count {
        store: String,
    },
    Aggregate {
        store: String,
        initial: serde_json::Value,
        update: Expr,
        /// Merges the aggregates of two sessions (session windows only).
        merger: Option<Expr>,
    },
    Reduce {
        store: String,
        update: Expr,
    },
    ToStream,
    Repartition(String),
    To {
        topic: Named,
        key: Option<Format>,
        value: Option<Format>,
    },
}
