//! `kiosk product add|set|list|show`, and uploading an edition's file, which `update`
//! shares. Every input is checked before anything is written; a file is uploaded only
//! once the product id is known to be free (add) or to exist (set).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use kiosk::product::FileRef;
use kiosk::store::{Store, StoreError};
use kiosk::{Money, OrderStatus, Product, ProductId};
use time::OffsetDateTime;

use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum ProductCommand {
    /// Put a new product on sale: uploads its file and records its price.
    #[command(
        after_help = "Example:\n  kiosk --stack shop product add little-book \\\n    --title \"The Little Book of Rust\" --price \"9.00 CNY\" --file book.pdf"
    )]
    Add(AddArgs),
    /// Change a product's title, price or download limit, or its file for future buyers
    /// (to also mail past buyers the new file, use `kiosk update`).
    #[command(
        after_help = "Example:\n  kiosk --stack shop product set little-book --price \"12.00 CNY\""
    )]
    Set(SetArgs),
    /// List every product.
    List,
    /// Show one product: its file, edition and how many people bought it.
    Show {
        /// The product id.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Product id as used by Buy Now forms: lowercase letters, digits and '-'.
    pub id: String,
    /// Title shown on the cashier, the download page and in mails.
    #[arg(long)]
    pub title: String,
    /// Price with its currency, for example "9.00 CNY".
    #[arg(long)]
    pub price: String,
    /// The file buyers download.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// Downloads each purchase allows.
    #[arg(long, default_value_t = 5)]
    pub limit: u32,
    /// Label of this first edition.
    #[arg(long, default_value = "v1")]
    pub edition: String,
    /// Content type sent with downloads (default: from the file's extension).
    #[arg(long)]
    pub content_type: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The product id.
    pub id: String,
    #[arg(long)]
    pub title: Option<String>,
    /// New price with its currency, for example "12.00 CNY". Orders already placed keep
    /// the price they were created with.
    #[arg(long)]
    pub price: Option<String>,
    /// Downloads each future purchase allows.
    #[arg(long)]
    pub limit: Option<u32>,
    /// A new file for future buyers; past buyers keep theirs (see `kiosk update`).
    #[arg(long, value_name = "PATH", requires = "edition")]
    pub file: Option<PathBuf>,
    /// Label of the new file's edition (required with --file).
    #[arg(long)]
    pub edition: Option<String>,
    #[arg(long, requires = "file")]
    pub content_type: Option<String>,
}

/// A local file read whole, with what the product record keeps about it.
pub struct LocalFile {
    pub path: PathBuf,
    pub name: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub content_type: String,
}

impl LocalFile {
    pub fn read(path: &Path, content_type: Option<&str>) -> Result<Self> {
        if !path.is_file() {
            bail!("file {} does not exist (or is not a file)", path.display());
        }
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.is_empty() {
            bail!("file {} is empty", path.display());
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| {
                !n.is_empty() && !n.contains(['/', '\\']) && !n.chars().any(char::is_control)
            })
            .ok_or_else(|| anyhow!("file {} needs a plain UTF-8 file name", path.display()))?
            .to_owned();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
        let sha256 = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let content_type = match content_type {
            Some(ct) => ct.to_owned(),
            None => guess_content_type(&name).to_owned(),
        };
        Ok(LocalFile {
            path: path.to_owned(),
            name,
            bytes,
            sha256,
            content_type,
        })
    }

    pub fn file_ref(&self, id: &ProductId, edition: &str) -> FileRef {
        FileRef {
            key: format!("products/{id}/{edition}/{}", self.name),
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            sha256: Some(self.sha256.clone()),
        }
    }
}

fn guess_content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("epub") => "application/epub+zip",
        Some("mobi") => "application/x-mobipocket-ebook",
        Some("zip") => "application/zip",
        Some("txt") => "text/plain; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("mp3") => "audio/mpeg",
        Some("mp4") => "video/mp4",
        _ => "application/octet-stream",
    }
}

pub fn parse_id(id: &str) -> Result<ProductId> {
    ProductId::parse(id).map_err(|e| anyhow!("product id {id:?}: {e}"))
}

pub fn parse_price(price: &str) -> Result<Money> {
    Money::parse_price(price)
        .map_err(|e| anyhow!("price {price:?}: {e} (write it like \"9.00 CNY\")"))
}

pub fn store(t: &Target) -> Result<Store> {
    Ok(Store::new(
        aws_sdk_dynamodb::Client::new(&t.sdk),
        t.table()?,
    ))
}

/// Put an edition's file in the bucket, with its checksum checked by S3.
pub async fn upload(t: &Target, file: &LocalFile, to: &FileRef) -> Result<()> {
    let s3 = kiosk::files::s3_client(&t.sdk);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &file.bytes);
    let checksum = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    s3.put_object()
        .bucket(t.bucket()?)
        .key(&to.key)
        .content_type(&to.content_type)
        .checksum_sha256(checksum)
        .body(file.bytes.clone().into())
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "uploading {} to s3://{}/{} failed: {}",
                file.path.display(),
                t.bucket().unwrap_or_default(),
                to.key,
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })?;
    Ok(())
}

async fn remove_upload(t: &Target, key: &str) {
    let s3 = kiosk::files::s3_client(&t.sdk);
    if let Ok(bucket) = t.bucket() {
        let _ = s3.delete_object().bucket(bucket).key(key).send().await;
    }
}

pub async fn run(t: &Target, cmd: ProductCommand, now: OffsetDateTime) -> Result<()> {
    match cmd {
        ProductCommand::Add(a) => add(t, a, now).await,
        ProductCommand::Set(a) => set(t, a, now).await,
        ProductCommand::List => list(t).await,
        ProductCommand::Show { id } => show(t, &id).await,
    }
}

async fn add(t: &Target, a: AddArgs, now: OffsetDateTime) -> Result<()> {
    let id = parse_id(&a.id)?;
    let price = parse_price(&a.price)?;
    let file = LocalFile::read(&a.file, a.content_type.as_deref())?;
    let product = Product {
        file: file.file_ref(&id, &a.edition),
        id,
        title: a.title.trim().to_owned(),
        price,
        edition: a.edition,
        download_limit: a.limit,
    };
    product.validate().map_err(|e| anyhow!("{e}"))?;
    let store = store(t)?;
    t.bucket()?;
    if store.get_product(&product.id).await?.is_some() {
        bail!(
            "product {} already exists; change it with `kiosk product set {}`",
            product.id,
            product.id
        );
    }
    upload(t, &file, &product.file).await?;
    match store.create_product(&product, now).await {
        Ok(()) => {}
        Err(e) => {
            // Lost a race for the id: take our file back out so nothing changed.
            remove_upload(t, &product.file.key).await;
            return Err(e.into());
        }
    }
    println!(
        "added {}: {} at {}, {} downloads per purchase, file {} ({} bytes, sha256 {})",
        product.id,
        product.title,
        product.price,
        product.download_limit,
        product.file.key,
        file.bytes.len(),
        file.sha256
    );
    Ok(())
}

async fn set(t: &Target, a: SetArgs, now: OffsetDateTime) -> Result<()> {
    let id = parse_id(&a.id)?;
    let price = a.price.as_deref().map(parse_price).transpose()?;
    let file = a
        .file
        .as_deref()
        .map(|f| LocalFile::read(f, a.content_type.as_deref()))
        .transpose()?;
    if a.title.is_none() && price.is_none() && a.limit.is_none() && file.is_none() {
        bail!("nothing to change: give --title, --price, --limit or --file with --edition");
    }
    let store = store(t)?;
    let mut product = store
        .get_product(&id)
        .await?
        .ok_or_else(|| anyhow!("no product {id}; add it with `kiosk product add {id}`"))?;
    if let Some(title) = a.title {
        product.title = title.trim().to_owned();
    }
    if let Some(price) = price {
        product.price = price;
    }
    if let Some(limit) = a.limit {
        product.download_limit = limit;
    }
    if let (Some(file), Some(edition)) = (&file, &a.edition) {
        product.edition = edition.clone();
        product.file = file.file_ref(&id, edition);
    }
    product.validate().map_err(|e| anyhow!("{e}"))?;
    if let Some(file) = &file {
        upload(t, file, &product.file).await?;
    }
    store
        .update_product(&product, now)
        .await
        .map_err(|e| match e {
            StoreError::ProductNotFound(id) => {
                anyhow!("no product {id} (it was removed meanwhile)")
            }
            e => e.into(),
        })?;
    println!(
        "updated {}: {} at {}, {} downloads per purchase, edition {} ({})",
        product.id,
        product.title,
        product.price,
        product.download_limit,
        product.edition,
        product.file.key
    );
    Ok(())
}

async fn list(t: &Target) -> Result<()> {
    let products = store(t)?.all_products().await?;
    if products.is_empty() {
        println!("no products yet; add one with `kiosk product add`");
        return Ok(());
    }
    println!(
        "{:<24} {:<32} {:>14} {:>6}  EDITION",
        "ID", "TITLE", "PRICE", "LIMIT"
    );
    for p in products {
        println!(
            "{:<24} {:<32} {:>14} {:>6}  {}",
            p.id.as_str(),
            clip(&p.title, 32),
            p.price.to_string(),
            p.download_limit,
            p.edition
        );
    }
    Ok(())
}

async fn show(t: &Target, id: &str) -> Result<()> {
    let id = parse_id(id)?;
    let store = store(t)?;
    let p = store
        .get_product(&id)
        .await?
        .ok_or_else(|| anyhow!("no product {id}"))?;
    let buyers = store.buyers_of(&id).await?;
    let paid = buyers
        .iter()
        .filter(|o| o.status == OrderStatus::Paid)
        .count();
    println!("id:              {}", p.id);
    println!("title:           {}", p.title);
    println!("price:           {}", p.price);
    println!("downloads:       {} per purchase", p.download_limit);
    println!("edition:         {}", p.edition);
    println!("file:            {} ({})", p.file.key, p.file.content_type);
    println!(
        "sha256:          {}",
        p.file.sha256.as_deref().unwrap_or("(not recorded)")
    );
    println!("paying buyers:   {paid}");
    Ok(())
}

/// Cut `s` to `n` characters for a table column.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_come_from_extensions() {
        assert_eq!(guess_content_type("Book.PDF"), "application/pdf");
        assert_eq!(guess_content_type("a.epub"), "application/epub+zip");
        assert_eq!(guess_content_type("noext"), "application/octet-stream");
    }
}
