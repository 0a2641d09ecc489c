//! [`LoopClock`]: how often the stream thread's per-record loop reads the clocks.

/// The hot loop reads the clocks once every this many records (see [`LoopClock`]).
const CLOCK_EVERY: u32 = 32;

/// Time as the per-record loop sees it. The wall clock (punctuation, end-to-end latency, both
/// in milliseconds) is read once every [`CLOCK_EVERY`] records of a batch and at the start of
/// each batch — back to back, 32 records take ~0.1 ms — and the process-latency histogram is
/// fed from the first record of each such group. Two `clock_gettime` calls and a histogram
/// update per record were ~4 % of a worker's CPU on product-filter.
#[derive(Default)]
pub(crate) struct LoopClock {
    n: u32,
    now_ms: i64,
}

impl LoopClock {
    /// Starts a batch: the next record reads the clock.
    pub(crate) fn restart(&mut self) {
        self.n = 0;
    }

    /// The wall clock for the next record, and whether to time that record.
    pub(crate) fn tick(&mut self) -> (i64, bool) {
        let sample = self.n == 0;
        if sample {
            self.now_ms = weir_core::now_ms();
        }
        self.n = (self.n + 1) % CLOCK_EVERY;
        (self.now_ms, sample)
    }
}
