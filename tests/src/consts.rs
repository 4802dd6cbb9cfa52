//! The test shop's fixed settings, and the providers' vectors kept in the `kiosk`
//! crate's test data (`shared/tests/data/`, in this repository).

use std::path::PathBuf;

pub const APP_ID: &str = "2021000000000001";
pub const SELLER_ID: &str = "2088000000000001";
/// Mixed case on purpose: mail must go out from exactly the configured text (IAM's
/// `ses:FromAddress` compares it case-sensitively).
pub const VERIFIED_SENDER: &str = "Shop@Example.com";
pub const BASE_URL: &str = "https://shop.example.com";
/// The author's shop page (`SHOP_URL`).
pub const SHOP_URL: &str = "https://example.com/books/";
/// The SES configuration set every test shop mails with (`MAIL_CONFIGURATION_SET`), and
/// the topic its bounces and complaints come from (`MAIL_EVENTS_TOPIC_ARN`).
pub const MAIL_CONFIGURATION_SET: &str = "kiosk-test-mail";
pub const MAIL_EVENTS_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kiosk-test-MailEventsTopic";

/// A file of one provider's vectors in the `kiosk` crate's test data
/// (`shared/tests/data/{provider}/`, beside this crate in the workspace).
fn test_data(provider: &str, rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|root| {
            root.join("shared")
                .join("tests")
                .join("data")
                .join(provider)
                .join(rel)
        })
        .unwrap_or_default();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file of the wechatpayv3 vectors.
pub fn wechat_vector_file(rel: &str) -> String {
    test_data("wechat", rel)
}

/// The wechatpayv3 vectors' merchant, app, certificate serial, WeChat Pay key id and
/// APIv3 key: what the event stack's WeChat Pay stand-in and its functions share.
pub const WECHAT_MCHID: &str = "1900000109";
pub const WECHAT_APPID: &str = "wxd678efh567hg6787";
pub const WECHAT_MERCHANT_SERIAL: &str = "09B990345E0B5DD3799607BD401D01F65D457755";
pub const WECHAT_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_34795411107163189550682590825902";
pub const WECHAT_APIV3_KEY: &str = "PMviaxcvmygV9RVGsxoAubtJborewVum";

/// A file of the python-alipay-sdk vectors.
pub fn vector_file(rel: &str) -> String {
    test_data("alipay", rel)
}
