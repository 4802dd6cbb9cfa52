//! Everything the local shop needs in the emulator: the table (from template.yaml), the
//! files bucket, the SES sender identity and configuration set, the SSM key parameters (Alipay keys, the Stripe
//! stand-in's key and webhook secret), and two sample products
//! with small generated files (one a real PDF).

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use kiosk::product::{FileRef, FileSet, Product};
use kiosk::{Currency, Money, ProductId};

use crate::keys::LocalKeys;

pub const SENDER: &str = "shop@kiosk.localhost.test";
pub const APP_ID: &str = "2021000000000001";
pub const SELLER_ID: &str = "2088000000000001";
/// `make dev`'s shop: its table, bucket and SSM prefix are named after it.
pub const NAME: &str = "kiosk-local";

/// What one local shop creates in the emulator. Shops started at once (tests) each have
/// their own name, so one's orders, files and secrets never meet another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub table: String,
    pub bucket: String,
    pub alipay_private_key: String,
    pub alipay_public_key: String,
    pub stripe_secret_key: String,
    pub stripe_webhook_secret: String,
    pub wechat_merchant_key: String,
    pub wechat_public_key: String,
    pub wechat_apiv3_key: String,
    /// The license signing key (made here once per emulator, as `kiosk license keygen`
    /// makes it).
    pub license_key: String,
    /// The SES configuration set the shop mails with, and the topic its bounces and
    /// complaints would come from when deployed (the mailbox's buttons report on it).
    pub mail_configuration_set: String,
    pub mail_events_topic: String,
}

impl Names {
    pub fn of(name: &str) -> Names {
        let prefix = format!("/{name}");
        Names {
            table: name.to_owned(),
            bucket: format!("{name}-files"),
            alipay_private_key: format!("{prefix}/alipay/app-private-key"),
            alipay_public_key: format!("{prefix}/alipay/alipay-public-key"),
            stripe_secret_key: format!("{prefix}/stripe/secret-key"),
            stripe_webhook_secret: format!("{prefix}/stripe/webhook-secret"),
            wechat_merchant_key: format!("{prefix}/wechat/merchant-key"),
            wechat_public_key: format!("{prefix}/wechat/wechatpay-public-key"),
            wechat_apiv3_key: format!("{prefix}/wechat/apiv3-key"),
            license_key: format!("{prefix}/license/signing-key"),
            mail_configuration_set: format!("{name}-mail"),
            mail_events_topic: format!("arn:aws:sns:us-east-1:123456789012:{name}-MailEventsTopic"),
        }
    }
}
/// The local WeChat Pay stand-in's merchant, app, certificate serial and key id: not
/// real ones, only what the stand-in expects.
pub const WECHAT_MCHID: &str = "1900000109";
pub const WECHAT_APPID: &str = "wxd678efh567hg6787";
pub const WECHAT_MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const WECHAT_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
/// The local stand-in's APIv3 key (32 characters).
pub const WECHAT_APIV3_KEY: &str = "kioskLocalApiV3Key0123456789abcd";

/// The local stand-in's API key: not a Stripe key, only what the stand-in expects.
pub const STRIPE_SECRET_KEY: &str = "sk_test_kiosk_local_sandbox";

/// A one-page PDF saying `text`, built by hand (the xref offsets are computed, so any
/// reader opens it).
pub fn tiny_pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 24 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

pub fn sample_products() -> Vec<(Product, Vec<u8>)> {
    let book = Product::new(
        ProductId::parse("little-book-of-rust").unwrap_or_else(|_| unreachable!()),
        "The Little Book of Rust",
        Money::from_minor(900, Currency::Cny).unwrap_or_else(|_| unreachable!()),
        kiosk::product::Edition::parse("v1").unwrap_or_else(|_| unreachable!()),
        FileSet::one(FileRef {
            key: "products/little-book-of-rust/v1/little-book-of-rust.pdf".into(),
            name: "little-book-of-rust.pdf".into(),
            content_type: "application/pdf".into(),
            sha256: None,
            size: None,
        }),
        5,
    )
    .unwrap_or_else(|_| unreachable!());
    let wallpapers = Product::new(
        ProductId::parse("desk-wallpapers").unwrap_or_else(|_| unreachable!()),
        "Desk Wallpapers (text edition)",
        Money::from_minor(300, Currency::Cny).unwrap_or_else(|_| unreachable!()),
        kiosk::product::Edition::parse("2026-11").unwrap_or_else(|_| unreachable!()),
        FileSet::one(FileRef {
            key: "products/desk-wallpapers/2026-11/wallpapers.txt".into(),
            name: "wallpapers.txt".into(),
            content_type: "text/plain; charset=utf-8".into(),
            sha256: None,
            size: None,
        }),
        5,
    )
    .unwrap_or_else(|_| unreachable!())
    // Pay what you want: at least ¥1.00, ¥3.00 suggested, up to ¥300.00.
    .with_pay_what_you_want(Some(kiosk::pricing::PayWhatYouWant {
        min: Money::from_minor(100, Currency::Cny).unwrap_or_else(|_| unreachable!()),
        max: Money::from_minor(30_000, Currency::Cny).unwrap_or_else(|_| unreachable!()),
    }))
    .unwrap_or_else(|_| unreachable!());
    vec![
        (book, tiny_pdf("The Little Book of Rust - sample edition")),
        (
            wallpapers,
            "Imagine a calm blue gradient. Thank you for testing Kiosk.\n"
                .as_bytes()
                .to_vec(),
        ),
    ]
}

/// The example site's registered A/B test, `pitch` (a, b).
pub fn sample_test(now: time::OffsetDateTime) -> kiosk::abtest::AbTest {
    let name = |s: &str| kiosk::visit::Name::parse(s).unwrap_or_else(|| unreachable!());
    kiosk::abtest::AbTest {
        name: name("pitch"),
        variants: vec![name("a"), name("b")],
        product: None,
        created_at: now,
        stopped_at: None,
    }
}

/// The sample discount code: 20% off every product, no limit (the example site links to
/// the book with `?code=LAUNCH`).
pub fn sample_code(now: time::OffsetDateTime) -> kiosk::pricing::Code {
    kiosk::pricing::Code::new(
        kiosk::pricing::NewCode {
            name: kiosk::pricing::CodeName::parse("LAUNCH").unwrap_or_else(|| unreachable!()),
            discount: kiosk::pricing::Discount::Percent(20),
            products: Vec::new(),
            max_uses: None,
            expires_at: None,
        },
        now,
    )
    .unwrap_or_else(|_| unreachable!("20% off is a valid code"))
}

/// Create what is missing; leave what exists (so orders survive a restart of `make dev`
/// as long as the emulator runs).
pub async fn prepare(
    sdk: &SdkConfig,
    names: &Names,
    keys: &LocalKeys,
    webhook_secret: &str,
) -> Result<()> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let tables = ddb
        .list_tables()
        .send()
        .await
        .context("emulator not reachable (DynamoDB ListTables)")?;
    // Two local shops starting at once (tests do) may both find the table missing: the
    // loser's create fails, and the table is there all the same.
    let (table, bucket) = (names.table.as_str(), names.bucket.as_str());
    if !tables.table_names().iter().any(|t| t == table)
        && let Err(e) = kiosk_localaws::create_table(&ddb, table).await
    {
        let now_there = ddb.describe_table().table_name(table).send().await.is_ok();
        if !now_there {
            return Err(e);
        }
    }
    let s3 = kiosk::files::s3_client(sdk);
    if s3.head_bucket().bucket(bucket).send().await.is_err()
        && let Err(e) = s3.create_bucket().bucket(bucket).send().await
        && s3.head_bucket().bucket(bucket).send().await.is_err()
    {
        return Err(anyhow::Error::new(e).context("CreateBucket"));
    }
    aws_sdk_ses::Client::new(sdk)
        .verify_email_identity()
        .email_address(SENDER)
        .send()
        .await
        .context("SES VerifyEmailIdentity")?;
    kiosk_localaws::ensure_configuration_set(sdk, &names.mail_configuration_set).await?;
    let ssm = aws_sdk_ssm::Client::new(sdk);
    for (name, value) in [
        (&names.alipay_private_key, keys.app_private_pem.as_str()),
        (&names.alipay_public_key, keys.alipay_public_pem.as_str()),
        (&names.stripe_secret_key, STRIPE_SECRET_KEY),
        (&names.stripe_webhook_secret, webhook_secret),
        (
            &names.wechat_merchant_key,
            keys.merchant_private_pem.as_str(),
        ),
        (&names.wechat_public_key, keys.wechatpay_public_pem.as_str()),
        (&names.wechat_apiv3_key, WECHAT_APIV3_KEY),
    ] {
        ssm.put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .with_context(|| format!("SSM PutParameter {name}"))?;
    }
    // Kept when it exists (`false`): licenses already issued verify against it.
    let made = ssm
        .put_parameter()
        .name(&names.license_key)
        .value(kiosk::license::LicenseSigner::generate()?)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(false)
        .send()
        .await;
    if let Err(e) = made
        && aws_sdk_ssm::error::ProvideErrorMetadata::code(&e) != Some("ParameterAlreadyExists")
    {
        return Err(anyhow::Error::new(e).context("SSM PutParameter (license key)"));
    }
    let store = kiosk::store::Store::new(ddb, table);
    let now = kiosk::clock::now_exact();
    for (product, bytes) in sample_products() {
        s3.put_object()
            .bucket(bucket)
            .key(&product.files().first().key)
            .content_type(&product.files().first().content_type)
            .body(bytes.into())
            .send()
            .await
            .context("S3 PutObject")?;
        match store.create_product(&product, now).await {
            Ok(()) | Err(kiosk::store::StoreError::ProductExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // `false`: it exists already (kept, with its uses).
    store.create_code(&sample_code(now)).await?;
    // The example site's A/B test (`data-kiosk-test="pitch"`), registered as an author
    // does with `kiosk test add pitch --variants a,b`; `false`: registered already.
    store.create_test(&sample_test(now)).await?;
    Ok(())
}
