//! A small seeded generator (SplitMix64): the only source of choice in the
//! harness, so a seed fixes the schedule.

#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        // The remainder is below `n`, which came from a usize.
        usize::try_from(self.next_u64() % n).unwrap_or(0)
    }
}
