//! The typed DSL: [`StreamsBuilder`], [`KStream`], [`KTable`], [`GlobalKTable`],
//! [`KGroupedStream`] and their options. Every call adds nodes to one logical graph (see
//! `graph`); `StreamsBuilder::build` validates it. Calls never fail on their own: problems are
//! collected and reported by `build()`, each naming the call that caused it.

mod branch;
mod builder;
mod filter;
mod grouped;
mod kstream;
mod ktable;
mod lookup_many;
mod options;
mod stream_join;
mod window_lookup;
mod windowed;
mod windows;

pub use branch::BranchedKStream;
pub use builder::StreamsBuilder;
pub use grouped::KGroupedStream;
pub use kstream::KStream;
pub use ktable::{GlobalKTable, KTable};
pub use options::{Consumed, Grouped, Materialized, Produced, Repartitioned};
pub use stream_join::StreamJoined;
pub use windowed::{SessionWindowedKStream, TimeWindowedKStream};
pub use windows::{
    EmitStrategy, JoinWindows, SessionWindows, SlidingWindows, Suppressed, TimeWindows,
};

/// What a key or value type of the DSL must be: cloneable (a record forwarded to several
/// children is cloned) and sendable to a stream thread.
pub trait Datum: Clone + Send + 'static {}

impl<T: Clone + Send + 'static> Datum for T {}
