//! Seeded choices for the stand-ins' faults and the soak (`kiosk_e2e::soak`, which
//! re-exports this as `kiosk_e2e::dice`): splitmix64, so the same seed gives the same
//! sequence on every machine.

/// A stream of choices from one seed.
pub struct Dice(u64);

impl Dice {
    /// The stream for `seed` alone.
    pub fn of(seed: u64) -> Dice {
        Dice(seed)
    }

    /// The stream of actor `n` (a buyer, a reconcile lane) under `seed`.
    pub fn new(seed: u64, n: usize) -> Dice {
        Dice(seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn roll(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.roll() % n
    }

    /// In `0.0..=1.0`.
    pub fn fraction(&mut self) -> f64 {
        self.roll() as f64 / u64::MAX as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.fraction() < p
    }
}
