//! What every command's tests share: running the binary, worlds, buckets, orders, mail.

use std::path::{Path, PathBuf};
use std::process::Output;

use kiosk::order::{PayOutcome, Payment, Source};
use kiosk::{DownloadToken, Grant, Order, Product};
pub use kiosk_e2e::rewrite_order;
use kiosk_e2e::{SentMail, World, now, pending_order};

/// Run `kiosk` with `args`, pointed at `world`'s table and bucket by environment
/// variables (the emulator's address comes from `make test`'s AWS_ENDPOINT_URL).
pub fn kiosk(world: &World, bucket: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"));
    cmd.args(args)
        .env("KIOSK_TABLE", &world.t.name)
        .env("KIOSK_BUCKET", bucket)
        .env("KIOSK_API_URL", kiosk_e2e::BASE_URL)
        .env("KIOSK_SENDER", kiosk_e2e::VERIFIED_SENDER)
        .env_remove("KIOSK_STACK");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().expect("run kiosk")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub async fn bucket_for(world: &World) -> String {
    let name = format!("kiosk-cli-{}", world.tag);
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    kiosk::files::s3_client(&sdk)
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    name
}

pub async fn objects(bucket: &str) -> Vec<String> {
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let out = kiosk::files::s3_client(&sdk)
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

pub async fn object_bytes(bucket: &str, key: &str) -> Vec<u8> {
    let sdk = kiosk_localaws::emulator_config().await.unwrap();
    let out = kiosk::files::s3_client(&sdk)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

pub fn scratch(world: &World) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiosk-cli-{}", world.tag));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

/// A paid order with its purchase grant, written straight to the store.
pub async fn paid_order(
    w: &World,
    p: &Product,
    email: &str,
    at: time::OffsetDateTime,
    source: Source,
) -> (Order, Grant) {
    paid_order_between(w, p, email, at, at, source).await
}

/// A paid order made at `created` and paid at `paid`.
pub async fn paid_order_between(
    w: &World,
    p: &Product,
    email: &str,
    created: time::OffsetDateTime,
    paid_at: time::OffsetDateTime,
    source: Source,
) -> (Order, Grant) {
    let mut o = pending_order(p, email, created);
    o.source = source;
    let token = DownloadToken::generate().unwrap();
    let payment = Payment {
        provider_txn_id: format!("T-{}", o.id),
        amount: o.amount,
    };
    let PayOutcome::Paid(paid) = o.pay(&payment, token.clone(), paid_at).unwrap() else {
        panic!("not paid")
    };
    let grant = Grant::for_order(&paid, token, None, paid_at);
    w.t.store.create_order(&paid).await.unwrap();
    w.t.store.create_grant(&grant).await.unwrap();
    (*paid, grant)
}

/// A paid order that was then refunded: written paid, then replaced by its refunded state.
pub async fn refunded_order(
    w: &World,
    p: &Product,
    email: &str,
    at: time::OffsetDateTime,
) -> Order {
    let source = Source {
        utm_source: Some("blog".into()),
        ..Source::default()
    };
    let (o, _) = paid_order(w, p, email, at, source).await;
    let refunded = o.refund(now()).unwrap();
    rewrite_order(&w.t.store, &refunded).await;
    refunded
}

/// Mails SES accepted for this world's addresses (those with its tag), by recipient,
/// optionally only those whose subject starts with `subject`: one read for a whole phase
/// of a test, never the whole mailbox.
pub async fn mails_by_recipient(
    w: &World,
    subject: Option<&str>,
) -> std::collections::HashMap<String, Vec<SentMail>> {
    let all = kiosk_localaws::sent_mail_containing(&w.http, &w.endpoint, &w.tag)
        .await
        .unwrap();
    let mut out: std::collections::HashMap<String, Vec<SentMail>> = Default::default();
    for m in all {
        if let Some(prefix) = subject
            && !m.subject.starts_with(prefix)
        {
            continue;
        }
        for to in &m.to {
            out.entry(to.clone()).or_default().push(m.clone());
        }
    }
    out
}

pub const NEW_EDITION: &str = "New edition:";

/// `kiosk --local ARGS` run in `dir` (where `make dev`'s `.local/stack.json` is), with
/// nothing else pointing it anywhere.
pub fn local(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"));
    cmd.arg("--local").args(args).current_dir(dir);
    for var in [
        "KIOSK_STACK",
        "KIOSK_TABLE",
        "KIOSK_BUCKET",
        "KIOSK_API_URL",
        "KIOSK_SENDER",
        "KIOSK_ALIPAY_APP_ID",
        "KIOSK_ALIPAY_GATEWAY_URL",
        "KIOSK_ALIPAY_PRIVATE_KEY_PARAM",
        "KIOSK_ALIPAY_PUBLIC_KEY_PARAM",
        "KIOSK_WECHAT_MCHID",
        "KIOSK_WECHAT_API_BASE",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("run kiosk")
}

/// The local shop with its sandboxes, in a folder of its own holding the file `kiosk
/// --local` reads.
pub async fn local_stack(prefix: &str) -> (PathBuf, kiosk_e2e::local::LocalShop) {
    let root = std::env::temp_dir().join(format!(
        "{prefix}-{}",
        kiosk::OrderId::generate(now())
            .unwrap()
            .as_str()
            .to_lowercase()
    ));
    std::fs::create_dir_all(&root).unwrap();
    let shop = kiosk_e2e::local::LocalShop::start(&root.join("keys"))
        .await
        .unwrap();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    devstack::write_local_stack(&root, &shop.base, &endpoint, &shop.app.names).unwrap();
    (root, shop)
}

/// The download link a mail carries.
pub fn link_in(mail: &SentMail) -> DownloadToken {
    let body = &mail.body;
    let start = body.find("/download/").expect("a download link") + "/download/".len();
    DownloadToken::parse(&body[start..start + 32]).expect("a token")
}

/// Product `id` as stored (it must exist).
pub async fn stored(w: &World, id: &str) -> kiosk::product::Product {
    w.t.store
        .get_product(&kiosk::ProductId::parse(id).unwrap())
        .await
        .unwrap()
        .expect("product stored")
}
