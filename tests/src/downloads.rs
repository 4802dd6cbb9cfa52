//! The download side on the emulator: table, files bucket with a product file, SES.

use anyhow::Result;
use kiosk::Config;
use kiosk::Product;
use kiosk::store::Store;
use lambda_http::{Body, Request, Response};

use crate::*;

/// The download side on the emulator: table, files bucket with a product file, SES.
pub struct DownloadWorld {
    pub t: TestTable,
    pub app: kiosk::downloads::Downloads,
    pub bucket: String,
    pub product: Product,
    pub bytes: Vec<u8>,
    pub endpoint: String,
    pub http: reqwest::Client,
    pub tag: String,
}

impl DownloadWorld {
    pub async fn new() -> Result<DownloadWorld> {
        let t = TestTable::new().await?;
        let sdk = kiosk_localaws::emulator_config().await?;
        let tag = t.name.trim_start_matches("kiosk-test-").to_owned();
        let bucket = format!("files-{tag}");
        let s3 = kiosk::files::s3_client(&sdk);
        s3.create_bucket().bucket(&bucket).send().await?;
        let plain = product("rust-book", "9.00");
        let file = kiosk::product::FileRef {
            name: "The Rust Book.pdf".into(),
            key: "products/rust-book/v1/The Rust Book.pdf".into(),
            ..plain.files().first().clone()
        };
        let product = plain
            .clone()
            .with_edition(plain.edition().clone(), kiosk::product::FileSet::one(file))?;
        // Every byte value, so any mangling on the way shows.
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
        s3.put_object()
            .bucket(&bucket)
            .key(&product.files().first().key)
            .content_type(&product.files().first().content_type)
            .body(bytes.clone().into())
            .send()
            .await?;
        aws_sdk_ses::Client::new(&sdk)
            .verify_email_identity()
            .email_address(VERIFIED_SENDER)
            .send()
            .await?;
        let config = Config::new(
            &t.name,
            &bucket,
            kiosk::Sender::parse(VERIFIED_SENDER)?,
            BASE_URL,
            SHOP_URL,
        );
        let app = kiosk::downloads::Downloads::new(&sdk, config);
        t.store.create_product(&product, now()).await?;
        Ok(DownloadWorld {
            t,
            app,
            bucket,
            product,
            bytes,
            endpoint: std::env::var("AWS_ENDPOINT_URL")?,
            http: reqwest::Client::new(),
            tag,
        })
    }

    /// This world with the shop's stamping wired in this process (as `make dev` does):
    /// a download that finds no stamped copy has it made in the background.
    pub async fn with_stamping(mut self) -> Result<DownloadWorld> {
        let sdk = kiosk_localaws::emulator_config().await?;
        let stamper =
            std::sync::Arc::new(kiosk::stamp::Stamper::new(&sdk, &self.t.name, &self.bucket));
        self.app = self
            .app
            .with_stamp_requests(kiosk::stamp::StampRequests::by(stamper));
        Ok(self)
    }

    /// Upload `files` (name, content type, bytes) as edition v1 of a new product `id`
    /// at 9.00, stamped or not, and record it.
    pub async fn add_product(
        &self,
        id: &str,
        files: &[(&str, &str, Vec<u8>)],
        stamp: bool,
    ) -> Result<Product> {
        let sdk = kiosk_localaws::emulator_config().await?;
        let s3 = kiosk::files::s3_client(&sdk);
        let pid = kiosk::ProductId::parse(id)?;
        let edition = kiosk::product::Edition::parse("v1")?;
        let mut refs = Vec::new();
        for (name, kind, bytes) in files {
            let r = kiosk::product::FileRef::for_edition(
                &pid,
                &edition,
                name,
                kind,
                None,
                Some(bytes.len() as u64),
            );
            s3.put_object()
                .bucket(&self.bucket)
                .key(&r.key)
                .content_type(*kind)
                .body(bytes.clone().into())
                .send()
                .await?;
            refs.push(r);
        }
        let product = product(id, "9.00")
            .with_edition(edition, kiosk::product::FileSet::new(refs)?)?
            .with_stamp(stamp)?;
        self.t.store.create_product(&product, now()).await?;
        Ok(product)
    }

    pub fn buyer(&self, n: u32) -> String {
        format!("buyer{n}-{}@example.com", self.tag)
    }

    /// The stored grant (which must exist).
    pub async fn grant(&self, token: &kiosk::DownloadToken) -> kiosk::Grant {
        self.t
            .store
            .get_grant(token)
            .await
            .expect("get grant")
            .expect("grant exists")
    }

    /// A paid purchase of the product by `email`; returns its grant.
    pub async fn purchase(&self, email: &str) -> kiosk::Grant {
        paid_purchase(&self.t.store, &self.product, email).await
    }

    pub async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Response<Body> {
        let mut b = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("{BASE_URL}{path}"));
        if body.is_some() {
            b = b.header("content-type", "application/x-www-form-urlencoded");
        }
        let req = b
            .body(
                body.map(|s| Body::Text(s.to_owned()))
                    .unwrap_or(Body::Empty),
            )
            .expect("request");
        download::handler::handle(&self.app, req, now()).await
    }

    /// `POST /download/resend` for `email` as API Gateway delivers it from `source_ip`:
    /// status, page, and how long the answer took.
    pub async fn resend(&self, email: &str, source_ip: &str) -> (u16, String, std::time::Duration) {
        let req = resend_request(email, source_ip);
        let started = std::time::Instant::now();
        let resp = download::handler::handle(&self.app, req, now()).await;
        (
            resp.status().as_u16(),
            body_string(&resp),
            started.elapsed(),
        )
    }

    /// Fetch a presigned URL from the emulator (which serves it without checking the
    /// signature, so the URL's properties are asserted separately).
    pub async fn fetch(&self, url: &str) -> Vec<u8> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .expect("fetch presigned URL");
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        resp.bytes().await.expect("bytes").to_vec()
    }

    pub async fn mails_to(&self, to: &str) -> Vec<SentMail> {
        read_mails(&self.http, &self.endpoint, to).await
    }
}

/// A purchase of `product` by `email` recorded as paid straight in the store (the
/// notification path is tested elsewhere); its new grant.
pub async fn paid_purchase(store: &Store, product: &Product, email: &str) -> kiosk::Grant {
    let o = pending_order(product, email, now());
    store.create_order(&o).await.expect("order");
    let payment = kiosk::order::Payment {
        provider_txn_id: format!("T-{}", o.id),
        amount: o.amount,
    };
    match store
        .mark_paid(&o, &payment, None, None, None, now())
        .await
        .expect("pay")
    {
        kiosk::store::Paid::Now { grant, .. } => *grant,
        other => panic!("expected a new grant, got {other:?}"),
    }
}

/// `POST /download/resend` ("email me my links") for `email` as API Gateway delivers it
/// from `source_ip`.
pub fn resend_request(email: &str, source_ip: &str) -> Request {
    let req: Request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("{BASE_URL}/download/resend"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::Text(format!(
            "email={}",
            email.replace('@', "%40").replace('+', "%2B")
        )))
        .expect("request");
    from_ip(req, source_ip)
}
