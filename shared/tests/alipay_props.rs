//! Properties of the string-to-sign and of verification, over generated parameter sets.

use std::path::PathBuf;
use std::sync::OnceLock;

use kiosk::alipay::{
    AlipayPublicKey, AppPrivateKey, Params, string_to_sign_callback, string_to_sign_request,
    verify_callback,
};
use proptest::prelude::*;

fn data(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/alipay")
        .join(rel);
    std::fs::read_to_string(p).unwrap()
}

/// The vectors' "Alipay" key pair, so we can sign callbacks as Alipay would.
fn keys() -> &'static (AppPrivateKey, AlipayPublicKey) {
    static K: OnceLock<(AppPrivateKey, AlipayPublicKey)> = OnceLock::new();
    K.get_or_init(|| {
        (
            AppPrivateKey::parse(&data("keys/alipay_pkcs1.pem")).unwrap(),
            AlipayPublicKey::parse(&data("keys/alipay_spki.pem")).unwrap(),
        )
    })
}

fn signed_callback(mut p: Params) -> Params {
    let (private, _) = keys();
    p.remove("sign");
    p.insert("sign_type".into(), "RSA2".into());
    let sign = private
        .sign(string_to_sign_callback(&p).as_bytes())
        .unwrap();
    p.insert("sign".into(), sign);
    p
}

fn key() -> impl Strategy<Value = String> {
    "[a-z_]{1,12}".prop_filter("reserved", |k| k != "sign" && k != "sign_type")
}

fn value() -> impl Strategy<Value = String> {
    "[ -~\u{4e00}-\u{4e10}]{1,16}"
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map(key(), value(), 1..8).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn order_of_insertion_does_not_matter(pairs in params(), seed in any::<u64>()) {
        let forward: Params = pairs.iter().cloned().collect();
        let mut shuffled = pairs.clone();
        // deterministic shuffle from the seed
        let n = shuffled.len();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let backward: Params = shuffled.into_iter().collect();
        prop_assert_eq!(string_to_sign_request(&forward), string_to_sign_request(&backward));
        prop_assert_eq!(string_to_sign_callback(&forward), string_to_sign_callback(&backward));
    }

    #[test]
    fn string_to_sign_is_sorted_raw_and_excludes_sign(
        pairs in prop::collection::btree_map(key(), "[a-zA-Z0-9 %+/\u{4e00}-\u{4e10}]{1,16}", 1..8)
    ) {
        let mut p: Params = pairs.clone().into_iter().collect();
        p.insert("sign".into(), "SIG".into());
        p.insert("sign_type".into(), "RSA2".into());
        let req = string_to_sign_request(&p);
        let cb = string_to_sign_callback(&p);
        prop_assert!(req.contains("sign_type=RSA2"));
        prop_assert!(!cb.contains("sign_type=RSA2"));
        prop_assert!(!req.contains("sign=SIG") && !cb.contains("sign=SIG"));
        // Values contain no '&' or '=' here, so the string splits back into the raw pairs,
        // which must come out in byte order with values untouched (no URL-encoding).
        let back: Vec<(String, String)> = cb
            .split('&')
            .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap())
            .collect();
        let mut want: Vec<(String, String)> = pairs.into_iter().collect();
        want.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        prop_assert_eq!(back, want);
    }

    #[test]
    fn empty_values_are_dropped(pairs in params(), empty_key in key()) {
        let mut p: Params = pairs.into_iter().collect();
        p.remove(&empty_key);
        let without = string_to_sign_request(&p);
        p.insert(empty_key.clone(), String::new());
        prop_assert_eq!(string_to_sign_request(&p), without.clone());
        let mentions_key = format!("&{without}").contains(&format!("&{empty_key}="));
        prop_assert!(!mentions_key);
        // and a callback signed without it still verifies with it present but empty
        let mut signed = signed_callback(p.clone());
        signed.insert(empty_key, String::new());
        prop_assert!(verify_callback(&signed, &keys().1).is_ok());
    }

    #[test]
    fn changing_any_one_parameter_breaks_verification(pairs in params(), pick in any::<prop::sample::Index>(), new_value in value()) {
        let signed = signed_callback(pairs.iter().cloned().collect());
        prop_assert!(verify_callback(&signed, &keys().1).is_ok());
        let (k, old) = &pairs[pick.index(pairs.len())];
        prop_assume!(*old != new_value);
        let mut tampered = signed.clone();
        tampered.insert(k.clone(), new_value);
        prop_assert!(verify_callback(&tampered, &keys().1).is_err());
    }

    #[test]
    fn removing_any_one_parameter_breaks_verification(pairs in params(), pick in any::<prop::sample::Index>()) {
        let signed = signed_callback(pairs.iter().cloned().collect());
        let (k, _) = &pairs[pick.index(pairs.len())];
        let mut tampered = signed.clone();
        tampered.remove(k);
        prop_assert!(verify_callback(&tampered, &keys().1).is_err());
    }

    #[test]
    fn adding_a_parameter_breaks_verification(pairs in params(), k in key(), v in value()) {
        prop_assume!(!pairs.iter().any(|(existing, _)| *existing == k));
        let mut tampered = signed_callback(pairs.into_iter().collect());
        tampered.insert(k, v);
        prop_assert!(verify_callback(&tampered, &keys().1).is_err());
    }

    #[test]
    fn sign_type_other_than_rsa2_is_refused(pairs in params(), st in "RSA|rsa2|RSA1|") {
        let mut signed = signed_callback(pairs.into_iter().collect());
        signed.insert("sign_type".into(), st);
        prop_assert!(verify_callback(&signed, &keys().1).is_err());
    }
}
