//! The Processor API: user-written processors with state-store access and punctuation, for what
//! the DSL's operators do not express.
//!
//! A processor receives each record with a [`ProcessorContext`] through which it forwards
//! results, reads and writes its stores and reads the input record's metadata. (Kafka Streams
//! keeps the context from `init`; Rust's borrow rules make passing it to each call the honest
//! equivalent.) Records with a null value (tombstones) are not given to processors.

use std::marker::PhantomData;
use std::time::Duration;

use crate::node::{Ctx, InitCtx, Msg, Node, take};
use crate::store::TypedStore;
use crate::task::TaskId;
use crate::time::PunctuationType;
use weir_core::error::{BoxError, StreamsError};
use weir_core::record::{Record, RecordMetadata};

/// Identifies one scheduled punctuation of a processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PunctuationId(pub u32);

/// A record processor.
pub trait Processor<KIn, VIn, KOut, VOut>: Send + 'static {
    /// Called once per task before the first record: schedule punctuations here.
    fn init(&mut self, _ctx: &mut InitContext<'_, '_>) -> Result<(), BoxError> {
        Ok(())
    }
    /// Processes one record.
    fn process(
        &mut self,
        ctx: &mut ProcessorContext<'_, '_, KOut, VOut>,
        record: Record<KIn, VIn>,
    ) -> Result<(), BoxError>;
    /// A punctuation scheduled in `init` fired at `timestamp` (stream time or wall-clock time).
    fn punctuate(
        &mut self,
        _ctx: &mut ProcessorContext<'_, '_, KOut, VOut>,
        _id: PunctuationId,
        _timestamp: i64,
    ) -> Result<(), BoxError> {
        Ok(())
    }
    /// The task is closing.
    fn close(&mut self) {}
}

/// What a processor can do in `init`.
pub struct InitContext<'a, 'b> {
    inner: &'a mut InitCtx<'b>,
}

impl InitContext<'_, '_> {
    /// Calls `punctuate` every `interval` of the given clock.
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> PunctuationId {
        let ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        let (node, now) = (self.inner.node, self.inner.wall_clock);
        PunctuationId(self.inner.punctuations.schedule(node, kind, ms, now))
    }
    pub fn application_id(&self) -> &str {
        self.inner.application_id
    }
    pub fn task_id(&self) -> TaskId {
        self.inner.task
    }
}

/// What a processor can do while processing a record or punctuating.
pub struct ProcessorContext<'a, 'b, K, V> {
    inner: &'a mut Ctx<'b>,
    _t: PhantomData<fn(K, V)>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> ProcessorContext<'_, '_, K, V> {
    /// Sends `record` to every child, depth-first.
    pub fn forward(&mut self, record: Record<K, V>) -> Result<(), StreamsError> {
        self.inner.forward(Msg {
            key: Box::new(record.key),
            value: Some(Box::new(record.value)),
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }

    /// A state store this processor was connected to, through its serdes.
    pub fn store<SK: 'static, SV: 'static>(
        &mut self,
        name: &str,
    ) -> Result<TypedStore<'_, SK, SV>, StreamsError> {
        self.inner.stores.typed(name)
    }

    /// Topic, partition and offset of the input record (None in a punctuation).
    pub fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.inner.meta
    }

    /// Cancels a punctuation.
    pub fn cancel(&mut self, id: PunctuationId) {
        self.inner.punctuations.cancel(id.0);
    }

    /// The task's stream time (largest timestamp seen).
    pub fn stream_time(&self) -> i64 {
        self.inner.stream_time
    }

    /// The wall-clock time of the thread (or the test driver's clock), ms since the epoch.
    pub fn wall_clock_time(&self) -> i64 {
        self.inner.wall_clock
    }

    pub fn task_id(&self) -> TaskId {
        self.inner.task
    }

    pub fn application_id(&self) -> &str {
        self.inner.application_id
    }
}

/// Runs a user [`Processor`] as a task node.
pub struct ProcessorNode<P, KIn, VIn, KOut, VOut> {
    pub processor: P,
    pub _t: PhantomData<fn(KIn, VIn, KOut, VOut)>,
}

impl<P, KIn, VIn, KOut, VOut> Node for ProcessorNode<P, KIn, VIn, KOut, VOut>
where
    P: Processor<KIn, VIn, KOut, VOut>,
    KIn: 'static,
    VIn: 'static,
    KOut: Clone + Send + 'static,
    VOut: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitCtx<'_>) -> Result<(), StreamsError> {
        let name = ctx.name.to_owned();
        self.processor
            .init(&mut InitContext { inner: ctx })
            .map_err(|source| StreamsError::Process {
                processor: name,
                source,
            })
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, msg: Msg) -> Result<(), StreamsError> {
        let Some(v) = msg.value else {
            crate::ops::count_skipped(ctx);
            return Ok(());
        };
        let record = Record {
            key: take::<KIn>(msg.key)?,
            value: take::<VIn>(v)?,
            timestamp: msg.timestamp,
            headers: msg.headers,
        };
        let mut pctx = ProcessorContext {
            inner: ctx,
            _t: PhantomData,
        };
        self.processor
            .process(&mut pctx, record)
            .map_err(|source| lift(ctx, source))
    }

    fn punctuate(&mut self, ctx: &mut Ctx<'_>, id: u32, ts: i64) -> Result<(), StreamsError> {
        let mut pctx = ProcessorContext {
            inner: ctx,
            _t: PhantomData,
        };
        self.processor
            .punctuate(&mut pctx, PunctuationId(id), ts)
            .map_err(|source| lift(ctx, source))
    }

    fn close(&mut self) {
        self.processor.close();
    }
}

/// Keeps a `StreamsError` a processor passed through (a store or forward failure) as it is, and
/// wraps the processor's own errors with its name.
fn lift(ctx: &Ctx<'_>, source: BoxError) -> StreamsError {
    match source.downcast::<StreamsError>() {
        Ok(e) => *e,
        Err(source) => StreamsError::Process {
            processor: ctx.node_name().to_owned(),
            source,
        },
    }
}
