//! WeChat Pay API v3 vectors made with `wechatpayv3` (tests/data/wechat): our request
//! signatures equal the library's byte for byte; WeChat Pay's answers and notifications
//! verify with its public key at their time and not outside the 5-minute window, under
//! another key id or from another key; resources decrypt to the library's plaintext and
//! not once their ciphertext or associated data changed; the plaintexts type as the
//! wire structs.

use kiosk::rsa::{SigningKey, VerifyingKey};
use kiosk::wechat::sign::{Authorization, sign_message};
use kiosk::wechat::wire::{Notification, Refund, RefundStatus, TradeState, Transaction};
use kiosk::wechat::{ApiV3Key, Merchant, PlatformKey, SignedHeaders, VerifyError, verify};
use serde_json::Value;
use time::OffsetDateTime;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/wechat");

fn vectors() -> Value {
    let text = std::fs::read_to_string(format!("{DIR}/vectors.json")).expect("vectors.json");
    serde_json::from_str(&text).expect("JSON")
}

fn key_text(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/keys/{name}")).expect(name)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn merchant(v: &Value) -> Merchant {
    Merchant {
        mchid: s(v, "mchid").into(),
        serial_no: s(v, "merchant_serial_no").into(),
        key: SigningKey::parse(&key_text("merchant_private.pem")).expect("merchant key"),
    }
}

fn platform(v: &Value) -> PlatformKey {
    PlatformKey {
        id: s(v, "wechatpay_public_key_id").into(),
        key: VerifyingKey::parse(&key_text("wechatpay_public.pem")).expect("platform key"),
    }
}

fn headers(h: &Value) -> SignedHeaders<'_> {
    SignedHeaders::from_lookup(|name| h[name].as_str()).expect("headers")
}

fn at(h: &Value, offset: i64) -> OffsetDateTime {
    let ts: i64 = s(h, "Wechatpay-Timestamp").parse().expect("timestamp");
    OffsetDateTime::from_unix_timestamp(ts + offset).expect("time")
}

#[test]
fn our_request_signatures_are_the_librarys() {
    let v = vectors();
    let m = merchant(&v);
    let merchant_public = VerifyingKey::parse(&key_text("merchant_public.pem")).unwrap();
    let requests = v["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 3);
    for r in requests {
        let ts: i64 = s(r, "timestamp").parse().unwrap();
        let ours = m
            .authorization(
                s(r, "method"),
                s(r, "path"),
                s(r, "body"),
                ts,
                s(r, "nonce"),
            )
            .unwrap();
        assert_eq!(ours, s(r, "authorization"), "{}", s(r, "path"));
        // The stand-in's check of the same header agrees, and refuses another body.
        let parsed = Authorization::parse(&ours).expect("parses");
        assert_eq!(parsed.serial_no, s(&v, "merchant_serial_no"));
        parsed
            .verifies(&merchant_public, s(r, "method"), s(r, "path"), s(r, "body"))
            .expect("verifies");
        assert!(
            parsed
                .verifies(&merchant_public, s(r, "method"), s(r, "path"), "{}")
                .is_err()
        );
    }
    assert!(Authorization::parse("WECHATPAY2-SHA256-RSA2048 mchid=\"1\"").is_none());
}

#[test]
fn notifications_verify_decrypt_and_type() {
    let v = vectors();
    let key = platform(&v);
    let apiv3 = ApiV3Key::parse(s(&v, "apiv3_key")).unwrap();
    let notes = v["notifications"].as_array().expect("notifications");
    assert_eq!(notes.len(), 2);
    for n in notes {
        let h = headers(&n["headers"]);
        let body = s(n, "body").as_bytes();
        verify(&h, body, &key, at(&n["headers"], 0)).expect("verifies");
        verify(&h, body, &key, at(&n["headers"], 300)).expect("5 minutes late");
        verify(&h, body, &key, at(&n["headers"], -300)).expect("5 minutes early");
        assert_eq!(
            verify(&h, body, &key, at(&n["headers"], 301)),
            Err(VerifyError::Stale(301))
        );
        assert!(matches!(
            verify(&h, body, &key, at(&n["headers"], -360)),
            Err(VerifyError::Stale(_))
        ));
        let mut other_serial = h;
        other_serial.serial = "PUB_KEY_ID_0000";
        assert!(matches!(
            verify(&other_serial, body, &key, at(&n["headers"], 0)),
            Err(VerifyError::Serial(_))
        ));
        let mut other_type = h;
        other_type.signature_type = Some("WECHATPAY2-SM2-WITH-SM3");
        assert!(matches!(
            verify(&other_type, body, &key, at(&n["headers"], 0)),
            Err(VerifyError::SignatureType(_))
        ));

        let note: Notification = serde_json::from_slice(body).expect("notification");
        let r = &note.resource;
        let plain = apiv3
            .decrypt(&r.algorithm, &r.nonce, &r.associated_data, &r.ciphertext)
            .expect("decrypts");
        assert_eq!(std::str::from_utf8(&plain).unwrap(), s(n, "plaintext"));
        // Sealing the plaintext again gives the same resource (the stand-in's side).
        assert_eq!(
            apiv3.encrypt(&r.nonce, &r.associated_data, &plain).unwrap(),
            r.ciphertext
        );
        match note.event_type.as_str() {
            "TRANSACTION.SUCCESS" => {
                let t: Transaction = serde_json::from_slice(&plain).unwrap();
                assert_eq!(t.trade_state, TradeState::Success);
                assert_eq!(t.mchid, s(&v, "mchid"));
                assert_eq!(t.appid, s(&v, "appid"));
                assert_eq!(
                    t.amount.as_ref().map(|a| (a.total, a.currency.as_str())),
                    Some((900, "CNY"))
                );
                assert!(t.transaction_id.is_some());
            }
            "REFUND.SUCCESS" => {
                let rf: Refund = serde_json::from_slice(&plain).unwrap();
                assert_eq!(rf.status, RefundStatus::Success);
                assert_eq!((rf.amount.total, rf.amount.refund), (900, 900));
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[test]
fn tampered_notifications_are_refused_where_the_library_refused_them() {
    let v = vectors();
    let key = platform(&v);
    let apiv3 = ApiV3Key::parse(s(&v, "apiv3_key")).unwrap();
    let tampered = v["tampered"].as_array().expect("tampered");
    assert_eq!(tampered.len(), 5);
    for t in tampered {
        let h = headers(&t["headers"]);
        let body = s(t, "body").as_bytes();
        let verified = verify(&h, body, &key, at(&t["headers"], 0));
        match s(t, "fails") {
            "signature" => assert!(
                matches!(verified, Err(VerifyError::Signature(_))),
                "{}: {verified:?}",
                s(t, "why")
            ),
            "decryption" => {
                verified.unwrap_or_else(|e| panic!("{}: {e}", s(t, "why")));
                let note: Notification = serde_json::from_slice(body).unwrap();
                let r = &note.resource;
                assert!(
                    apiv3
                        .decrypt(&r.algorithm, &r.nonce, &r.associated_data, &r.ciphertext)
                        .is_err(),
                    "{}",
                    s(t, "why")
                );
            }
            other => panic!("unknown failure {other}"),
        }
    }
}

#[test]
fn a_signed_answer_verifies_and_types() {
    let v = vectors();
    let key = platform(&v);
    for a in v["answers"].as_array().expect("answers") {
        let h = headers(&a["headers"]);
        let body = s(a, "body").as_bytes();
        verify(&h, body, &key, at(&a["headers"], 2)).expect("verifies");
        let mut changed = body.to_vec();
        changed[10] ^= 1;
        assert!(verify(&h, &changed, &key, at(&a["headers"], 2)).is_err());
        let t: Transaction = serde_json::from_slice(body).unwrap();
        assert_eq!(t.out_trade_no.len(), 30);
    }
}

#[test]
fn a_stranger_signs_nothing_we_accept() {
    let v = vectors();
    let key = platform(&v);
    let stranger = SigningKey::parse(&key_text("stranger_private.pem")).unwrap();
    let wechat = SigningKey::parse(&key_text("wechatpay_private.pem")).unwrap();
    let body = br#"{"id":"x"}"#;
    let now = OffsetDateTime::from_unix_timestamp(1_796_645_400).unwrap();
    for (signer, ok) in [(&wechat, true), (&stranger, false)] {
        let sig = sign_message(signer, now.unix_timestamp(), "n1", body).unwrap();
        let h = SignedHeaders {
            timestamp: "1796645400",
            nonce: "n1",
            serial: s(&v, "wechatpay_public_key_id"),
            signature: &sig,
            signature_type: None,
        };
        assert_eq!(verify(&h, body, &key, now).is_ok(), ok);
    }
}

#[test]
fn expiry_is_written_in_china_time_and_the_apiv3_key_is_32_characters() {
    let v = vectors();
    let body: Value = serde_json::from_str(s(&v["requests"][0], "body")).unwrap();
    assert_eq!(s(&body, "time_expire"), "2026-12-07T19:48:56+08:00");
    let t = time::macros::datetime!(2026-12-07 11:48:56 UTC);
    assert_eq!(
        kiosk::clock::beijing_rfc3339(t),
        "2026-12-07T19:48:56+08:00"
    );
    assert!(ApiV3Key::parse("short").is_err());
    assert!(ApiV3Key::parse(&"x".repeat(33)).is_err());
    assert!(ApiV3Key::parse(s(&v, "apiv3_key")).is_ok());
}

/// The project venv's Python (scripts/venv.sh; `make test` makes it).
fn venv_python() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let py = root.join(".venv/bin/python");
    assert!(
        py.exists(),
        "no {}: run scripts/venv.sh first",
        py.display()
    );
    py
}

#[test]
fn requests_we_sign_verify_with_wechatpayv3() {
    use std::io::Write;
    let v = vectors();
    let m = merchant(&v);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let body = r#"{"appid":"wxd678efh567hg6787","mchid":"1900000109","description":"小书 · The Little Book","out_trade_no":"K20261207120000a1b2c3d4e5f6a7b8","time_expire":"2026-12-07T20:30:00+08:00","notify_url":"https://shop.example.com/notify/wechat","amount":{"total":1,"currency":"CNY"}}"#;
    let signed: Vec<Value> = [
        ("POST", "/v3/pay/transactions/h5", body),
        ("GET", "/v3/pay/transactions/out-trade-no/K1?mchid=1900000109", ""),
        ("POST", "/v3/refund/domestic/refunds", r#"{"out_refund_no":"K1RF1"}"#),
    ]
    .into_iter()
    .map(|(method, path, body)| {
        let nonce = kiosk::wechat::nonce().unwrap();
        let authorization = m.authorization(method, path, body, now, &nonce).unwrap();
        serde_json::json!({"method": method, "path": path, "body": body, "authorization": authorization})
    })
    .collect();
    let run = |requests: &[Value]| {
        let job = serde_json::json!({
            "public_key": key_text("merchant_public.pem"),
            "private_key": key_text("merchant_private.pem"),
            "requests": requests,
        });
        let mut child = std::process::Command::new(venv_python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scripts/wechat_check.py"
            ))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(job.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().expect("runs")
    };
    let out = run(&signed);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        printed.matches("verifies=True same_header=True").count(),
        3,
        "{printed}"
    );
    // The same check refuses a request whose body changed after signing.
    let mut forged = signed[0].clone();
    forged["body"] = Value::String(body.replace(r#""total":1"#, r#""total":2"#));
    let out = run(&[forged]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("verifies=False"));
}
