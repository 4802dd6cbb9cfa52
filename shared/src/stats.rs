//! The funnel's statistics, exact rather than estimated, and the plain words an author
//! reads them in: a variant's conversion with its 95% Wilson score interval, the
//! probability that a variant converts better than the first (Beta-Binomial posterior with
//! uniform priors, Evan Miller's closed form, computed exactly), and a verdict with the
//! visitors still needed when there is none yet.
//!
//! Checked against reference values made with statsmodels and scipy
//! (`shared/tests/data/stats/`, `shared/tests/stats_vectors.rs`).

/// The normal quantile for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;
/// The normal quantile for 80% power.
const Z80: f64 = 0.841_621_233_572_914_3;

/// How sure a verdict must be before it names a winner.
pub const SURE: f64 = 0.95;

/// Said beside every test result: a test read every day and stopped the first time it
/// looks good declares far more false winners than its "95%" suggests.
pub const PEEKING_WARNING: &str = "Decide how many visitors the test gets before it starts, and read the verdict then: stopping as soon as a variant looks better makes false wins far more likely than the percentage says.";

/// The 95% Wilson score interval of `conversions / visitors` as (low, high); `None`
/// without visitors (or with more conversions than visitors).
pub fn wilson(conversions: u64, visitors: u64) -> Option<(f64, f64)> {
    if visitors == 0 || conversions > visitors {
        return None;
    }
    let n = visitors as f64;
    let p = conversions as f64 / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At 0 and at n the exact bounds are 0 and 1; rounding must not push them past.
    let low = if conversions == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if conversions == visitors {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    Some((low, high))
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ln B(a, b).
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// One variant's observed counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub visitors: u64,
    /// Visitors who paid (at most `visitors`).
    pub conversions: u64,
}

/// P(rate of `b` > rate of `a`) with each rate Beta(1 + conversions, 1 + non-conversions)
/// (a uniform prior updated with what was seen): Evan Miller's closed form,
/// Σ_{i<α_b} B(α_a+i, β_a+β_b) / ((β_b+i) B(1+i, β_b) B(α_a, β_a)), summed in log space.
/// `None` when a variant has more conversions than visitors.
pub fn probability_to_beat(a: Observed, b: Observed) -> Option<f64> {
    if a.conversions > a.visitors || b.conversions > b.visitors {
        return None;
    }
    let alpha_a = 1.0 + a.conversions as f64;
    let beta_a = 1.0 + (a.visitors - a.conversions) as f64;
    let alpha_b = 1 + b.conversions;
    let beta_b = 1.0 + (b.visitors - b.conversions) as f64;
    let fixed = ln_beta(alpha_a, beta_a);
    let mut total = 0.0;
    for i in 0..alpha_b {
        let i = i as f64;
        total += (ln_beta(alpha_a + i, beta_a + beta_b)
            - (beta_b + i).ln()
            - ln_beta(1.0 + i, beta_b)
            - fixed)
            .exp();
    }
    Some(total.clamp(0.0, 1.0))
}

/// What a test shows, in words an author can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// `winner` (a variant's name) converts better, with this probability.
    Better { winner: String, sure: f64 },
    /// Neither is ahead with [`SURE`] certainty; about this many more visitors (in all)
    /// would tell a difference as large as the one seen so far, if it is real.
    NeedMore { visitors: u64 },
    /// Too few visitors, or no difference seen at all, to estimate.
    TooEarly,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Better { winner, sure } => {
                write!(
                    f,
                    "{winner} sells better, {:.0}% sure",
                    (sure * 100.0).floor()
                )
            }
            Verdict::NeedMore { visitors } => {
                write!(
                    f,
                    "not enough data yet: need about {visitors} more visitors"
                )
            }
            Verdict::TooEarly => f.write_str("not enough data yet"),
        }
    }
}

/// The verdict on variant `b` (named `b_name`) against the first, `a`.
pub fn verdict(a_name: &str, a: Observed, b_name: &str, b: Observed) -> Verdict {
    let Some(p) = probability_to_beat(a, b) else {
        return Verdict::TooEarly;
    };
    if p >= SURE {
        return Verdict::Better {
            winner: b_name.to_owned(),
            sure: p,
        };
    }
    if 1.0 - p >= SURE {
        return Verdict::Better {
            winner: a_name.to_owned(),
            sure: 1.0 - p,
        };
    }
    match (rate(a), rate(b)) {
        (Some(ra), Some(rb)) if (ra - rb).abs() > f64::EPSILON => {
            // Visitors per variant for a two-sided 5% test with 80% power to detect the
            // difference seen (the usual two-proportion sample size).
            let per_variant =
                (Z95 + Z80).powi(2) * (ra * (1.0 - ra) + rb * (1.0 - rb)) / (ra - rb).powi(2);
            let needed = (2.0 * per_variant).ceil() as u64;
            let seen = a.visitors + b.visitors;
            Verdict::NeedMore {
                visitors: needed.saturating_sub(seen).max(1),
            }
        }
        _ => Verdict::TooEarly,
    }
}

fn rate(o: Observed) -> Option<f64> {
    (o.visitors > 0 && o.conversions <= o.visitors)
        .then(|| o.conversions as f64 / o.visitors as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(conversions: u64, visitors: u64) -> Observed {
        Observed {
            visitors,
            conversions,
        }
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut fact = 1.0f64;
        for n in 1..30u32 {
            fact *= f64::from(n);
            let want = fact.ln();
            let got = ln_gamma(f64::from(n) + 1.0);
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{n}: {got} {want}"
            );
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
    }

    #[test]
    fn wilson_has_no_interval_without_visitors() {
        assert_eq!(wilson(0, 0), None);
        assert_eq!(wilson(3, 2), None);
    }

    #[test]
    fn equal_variants_are_a_coin_toss_and_the_verdict_says_so() {
        let p = probability_to_beat(o(7, 70), o(7, 70)).unwrap();
        assert!((p - 0.5).abs() < 1e-9, "{p}");
        assert_eq!(verdict("a", o(7, 70), "b", o(7, 70)), Verdict::TooEarly);
        let v = verdict("a", o(10, 100), "b", o(15, 100));
        let Verdict::NeedMore { visitors } = v else {
            panic!("{v:?}")
        };
        // 10% vs 15%: about 686 per variant, 200 seen.
        assert!((1100..1300).contains(&visitors), "{visitors}");
        assert_eq!(
            verdict("a", o(50, 1000), "b", o(80, 1000)).to_string(),
            "b sells better, 99% sure"
        );
        assert_eq!(
            verdict("a", o(80, 1000), "b", o(50, 1000)).to_string(),
            "a sells better, 99% sure"
        );
    }
}
