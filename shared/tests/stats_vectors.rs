//! `kiosk::stats` against reference values made with statsmodels and scipy
//! (tests/data/stats), and the probability to beat is monotone in what was observed.

use kiosk::stats::{Observed, probability_to_beat, wilson};
use proptest::prelude::*;
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stats/stats.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("stats.json")).expect("JSON")
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1e-12)
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn wilson_intervals_match_statsmodels() {
    let v = vectors();
    assert_eq!(v["confidence"], 0.95);
    let cases = v["wilson"].as_array().expect("wilson");
    assert!(cases.len() >= 8);
    for c in cases {
        let (low, high) = wilson(n(c, "conversions"), n(c, "visitors")).expect("an interval");
        assert!(
            close(low, f(c, "low")) || (low == 0.0 && f(c, "low") == 0.0),
            "{c}: {low}"
        );
        assert!(close(high, f(c, "high")), "{c}: {high}");
    }
}

#[test]
fn probability_to_beat_matches_scipy() {
    let v = vectors();
    let cases = v["probability_b_beats_a"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for c in cases {
        let a = Observed {
            conversions: n(c, "a_conversions"),
            visitors: n(c, "a_visitors"),
        };
        let b = Observed {
            conversions: n(c, "b_conversions"),
            visitors: n(c, "b_visitors"),
        };
        let p = probability_to_beat(a, b).expect("a probability");
        assert!(close(p, f(c, "p")), "{c}: {p}");
    }
}

proptest! {
    /// One more conversion for B (same visitors) never makes B less likely to be better;
    /// one more for A never makes B more likely.
    #[test]
    fn probability_to_beat_is_monotone_in_conversions(
        av in 1u64..300, bv in 1u64..300, ac in 0u64..300, bc in 0u64..300,
    ) {
        let a = Observed { visitors: av, conversions: ac.min(av) };
        let b = Observed { visitors: bv, conversions: bc.min(bv) };
        let p = probability_to_beat(a, b).unwrap();
        prop_assert!((0.0..=1.0).contains(&p));
        if b.conversions < b.visitors {
            let more_b = Observed { conversions: b.conversions + 1, ..b };
            prop_assert!(probability_to_beat(a, more_b).unwrap() >= p - 1e-12);
        }
        if a.conversions < a.visitors {
            let more_a = Observed { conversions: a.conversions + 1, ..a };
            prop_assert!(probability_to_beat(more_a, b).unwrap() <= p + 1e-12);
        }
        // Swapping the variants gives the complement.
        prop_assert!((probability_to_beat(b, a).unwrap() + p - 1.0).abs() < 1e-9);
    }
}
