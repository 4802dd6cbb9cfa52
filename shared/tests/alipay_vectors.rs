//! python-alipay-sdk vectors (copied from the team kit into tests/data/alipay): an
//! independent implementation's reading of the protocol, checked byte for byte.

use std::path::PathBuf;

use kiosk::alipay::{
    AlipayPublicKey, AppPrivateKey, Params, find_signed_response, query_string, sign_request,
    string_to_sign_callback, string_to_sign_request, verify_callback, verify_response,
};
use serde::Deserialize;
use serde_json::Value;

fn data(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/alipay")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn vectors() -> Value {
    serde_json::from_str(&data("vectors.json")).unwrap()
}

fn params(v: &Value) -> Params {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

fn app_keys() -> Vec<(&'static str, AppPrivateKey)> {
    [
        "keys/app_pkcs1.pem",
        "keys/app_pkcs8.pem",
        "keys/app_pkcs8.b64",
        "keys/app_pkcs1.b64",
    ]
    .into_iter()
    .map(|f| {
        (
            f,
            AppPrivateKey::parse(&data(f)).unwrap_or_else(|e| panic!("{f}: {e}")),
        )
    })
    .collect()
}

fn alipay_keys() -> Vec<(&'static str, AlipayPublicKey)> {
    ["keys/alipay_spki.pem", "keys/alipay_spki.b64"]
        .into_iter()
        .map(|f| {
            (
                f,
                AlipayPublicKey::parse(&data(f)).unwrap_or_else(|e| panic!("{f}: {e}")),
            )
        })
        .collect()
}

#[test]
fn requests_sign_byte_for_byte_with_every_key_encoding() {
    let v = vectors();
    let requests = v["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 3);
    for (file, key) in app_keys() {
        for r in requests {
            let sts = r["string_to_sign"].as_str().unwrap();
            let want = r["sign"].as_str().unwrap();
            assert_eq!(
                key.sign(sts.as_bytes()).unwrap(),
                want,
                "{file}: {}",
                r["method"]
            );
        }
    }
}

#[test]
fn our_string_to_sign_and_query_match_the_reference() {
    let v = vectors();
    let (_, key) = app_keys().remove(0);
    for r in v["requests"].as_array().unwrap() {
        let mut p = params(&r["params"]);
        assert_eq!(
            string_to_sign_request(&p),
            r["string_to_sign"].as_str().unwrap(),
            "{}",
            r["method"]
        );
        // Re-sign from scratch: the same sign and the same final query string.
        p.remove("sign");
        sign_request(&mut p, &key).unwrap();
        assert_eq!(p["sign"], r["sign"].as_str().unwrap());
        assert_eq!(
            query_string(&p),
            r["query"].as_str().unwrap(),
            "{}",
            r["method"]
        );
    }
}

#[test]
fn notifies_and_returns_verify_only_when_valid() {
    let v = vectors();
    let mut seen_valid = 0;
    let mut seen_invalid = 0;
    let all = v["notifies"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["returns"].as_array().unwrap());
    for n in all {
        let p = params(&n["params"]);
        let name = n["name"].as_str().unwrap();
        if let Some(sts) = n.get("string_to_sign").and_then(Value::as_str)
            && n["valid"] == true
        {
            assert_eq!(string_to_sign_callback(&p), sts, "{name}");
        }
        for (file, key) in alipay_keys() {
            let res = verify_callback(&p, &key);
            if n["valid"] == true {
                assert_eq!(res, Ok(()), "{name} with {file}");
            } else {
                assert!(res.is_err(), "{name} must be rejected with {file}");
            }
        }
        if n["valid"] == true {
            seen_valid += 1
        } else {
            seen_invalid += 1
        }
    }
    assert_eq!((seen_valid, seen_invalid), (4, 3));
}

#[test]
fn notifies_do_not_verify_with_the_app_key() {
    // The most common mistake in the wild: verifying with the app's own public key.
    let v = vectors();
    let app_public = AlipayPublicKey::parse(&data("keys/app_spki.pem")).unwrap();
    for n in v["notifies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["valid"] == true)
    {
        assert!(verify_callback(&params(&n["params"]), &app_public).is_err());
    }
}

#[derive(Debug, Deserialize)]
struct Query {
    code: String,
    out_trade_no: String,
    trade_status: Option<String>,
    total_amount: Option<String>,
    subject: Option<String>,
    sub_code: Option<String>,
}

#[test]
fn responses_verify_over_exactly_the_signed_slice() {
    let v = vectors();
    let responses = v["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 2);
    for (file, key) in alipay_keys() {
        for r in responses {
            let raw = r["raw"].as_str().unwrap();
            let found = find_signed_response(raw, "alipay.trade.query").unwrap();
            assert_eq!(found.slice, r["signed_slice"].as_str().unwrap(), "{file}");
            let q: Query = verify_response(raw, "alipay.trade.query", &key).unwrap();
            match r["name"].as_str().unwrap() {
                "query_success" => {
                    assert_eq!(q.code, "10000");
                    assert_eq!(q.trade_status.as_deref(), Some("TRADE_SUCCESS"));
                    assert_eq!(q.total_amount.as_deref(), Some("9.00"));
                    assert_eq!(q.out_trade_no, "K20261121A1");
                    assert_eq!(
                        q.subject.as_deref(),
                        Some("brace } and quote \" inside {a string}")
                    );
                }
                "query_not_exist" => {
                    assert_eq!(q.code, "40004");
                    assert_eq!(q.sub_code.as_deref(), Some("ACQ.TRADE_NOT_EXIST"));
                }
                other => panic!("unexpected vector {other}"),
            }
        }
    }
}

#[test]
fn tampered_responses_are_rejected() {
    let v = vectors();
    let (_, key) = alipay_keys().remove(0);
    let raw = v["responses"][0]["raw"].as_str().unwrap();
    let tampered = raw.replacen("TRADE_SUCCESS", "TRADE_SUCCESX", 1);
    assert!(verify_response::<Query>(&tampered, "alipay.trade.query", &key).is_err());
    // A second, unsigned response member placed before the signed one.
    let smuggled = raw.replacen(
        "{\"alipay_trade_query_response\"",
        "{\"alipay_trade_query_response\":{\"code\":\"10000\",\"out_trade_no\":\"X\"},\"alipay_trade_query_response\"",
        1,
    );
    assert!(verify_response::<Query>(&smuggled, "alipay.trade.query", &key).is_err());
    let unsigned = raw.split(",\"sign\"").next().unwrap().to_owned() + "}";
    assert!(verify_response::<Query>(&unsigned, "alipay.trade.query", &key).is_err());
}

#[test]
fn keys_in_wrong_shapes_are_refused() {
    assert!(AppPrivateKey::parse("").is_err());
    assert!(AppPrivateKey::parse("not base64 !!").is_err());
    assert!(AppPrivateKey::parse(&data("keys/app_spki.pem")).is_err());
    assert!(AlipayPublicKey::parse(&data("keys/alipay_pkcs1.pem")).is_err());
    assert!(
        AlipayPublicKey::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
            .is_err()
    );
}
