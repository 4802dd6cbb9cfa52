//! The author's products (`kiosk product add|set|show`): an edition's file checked and
//! uploaded, then the product recorded, in an order that leaves nothing half-made.
//!
//! A file is uploaded only once the product id is known to be free (add) or to exist
//! (set); a product is written only once its file is in the bucket, so a buyer never
//! gets a link to a missing file. Losing a race for a new id takes the upload back out.

use time::OffsetDateTime;

use crate::author::{Author, Missing};
use crate::files::UploadError;
use crate::ids::ProductId;
use crate::money::Money;
use crate::order::OrderStatus;
use crate::product::{Edition, FileRef, Product, ProductError};
use crate::store::StoreError;

/// An edition's file as the author gave it: its name, bytes, checksum and content type.
#[derive(Clone, PartialEq, Eq)]
pub struct EditionFile {
    name: String,
    bytes: Vec<u8>,
    sha256: String,
    content_type: String,
}

impl std::fmt::Debug for EditionFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EditionFile")
            .field("name", &self.name)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file needs a plain UTF-8 name (no '/', '\\' or control characters)")]
    Name,
}

impl EditionFile {
    /// `bytes` saved by buyers as `name`; the content type from `content_type` or else
    /// from the name's extension.
    pub fn new(
        name: &str,
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<EditionFile, FileError> {
        if bytes.is_empty() {
            return Err(FileError::Empty);
        }
        if name.is_empty() || name.contains(['/', '\\']) || name.chars().any(char::is_control) {
            return Err(FileError::Name);
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
        let sha256 = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Ok(EditionFile {
            name: name.to_owned(),
            content_type: content_type
                .map(str::to_owned)
                .unwrap_or_else(|| guess_content_type(name).to_owned()),
            bytes,
            sha256,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    /// Hex SHA-256 of the bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Where this file lives as `edition` of `id`.
    pub fn file_ref(&self, id: &ProductId, edition: &Edition) -> FileRef {
        FileRef::for_edition(
            id,
            edition,
            &self.name,
            &self.content_type,
            Some(self.sha256.clone()),
        )
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
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

/// A new product as the author describes it.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub id: ProductId,
    pub title: String,
    /// The price; with pay what you want, the suggested amount.
    pub price: Money,
    pub edition: Edition,
    pub download_limit: u32,
    pub pricing: Option<PricingChange>,
}

/// Selling at a fixed price, or at a price the buyer names (`kiosk product add|set
/// --min … [--max …]`, `--fixed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PricingChange {
    Fixed,
    /// Bounds not given keep the product's current ones; a product that had none takes
    /// a minimum of 0 and a cap of [`crate::pricing::DEFAULT_CAP_FACTOR`] × its price.
    PayWhatYouWant {
        min: Option<Money>,
        max: Option<Money>,
    },
}

impl PricingChange {
    /// This change with the bounds it does not give taken from `current`.
    fn keeping(self, current: Option<crate::pricing::PayWhatYouWant>) -> PricingChange {
        match self {
            PricingChange::PayWhatYouWant { min, max } => PricingChange::PayWhatYouWant {
                min: min.or(current.map(|b| b.min)),
                max: max.or(current.map(|b| b.max)),
            },
            PricingChange::Fixed => PricingChange::Fixed,
        }
    }

    /// The product's pricing after this change.
    fn apply(self, product: Product) -> Result<Product, ProductError> {
        match self {
            PricingChange::Fixed => product.with_pay_what_you_want(None),
            PricingChange::PayWhatYouWant { min, max } => {
                let price = product.price();
                let current = product.pay_what_you_want();
                let zero = Money::from_minor(0, price.currency())
                    .map_err(|_| ProductError::PayWhatYouWant)?;
                let cap = Money::from_minor(
                    price
                        .minor()
                        .saturating_mul(crate::pricing::DEFAULT_CAP_FACTOR)
                        .min(Money::MAX_MINOR),
                    price.currency(),
                )
                .map_err(|_| ProductError::PayWhatYouWant)?;
                let bounds = crate::pricing::PayWhatYouWant {
                    min: min.or(current.map(|b| b.min)).unwrap_or(zero),
                    max: max.or(current.map(|b| b.max)).unwrap_or(cap),
                };
                product.with_pay_what_you_want(Some(bounds))
            }
        }
    }
}

/// What `kiosk product set` changes; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ProductChanges {
    pub title: Option<String>,
    pub price: Option<Money>,
    pub pricing: Option<PricingChange>,
    pub download_limit: Option<u32>,
    /// A new file for future buyers, as this edition (past buyers keep theirs).
    pub file: Option<(Edition, EditionFile)>,
}

impl ProductChanges {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.price.is_none()
            && self.pricing.is_none()
            && self.download_limit.is_none()
            && self.file.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Invalid(#[from] ProductError),
    #[error("product {0} already exists; change it with `kiosk product set {0}`")]
    Exists(ProductId),
    #[error("no product {0}; add it with `kiosk product add {0}`")]
    NotFound(ProductId),
    #[error("nothing to change")]
    NoChanges,
    #[error(transparent)]
    Missing(#[from] Missing),
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for CatalogError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ProductExists(id) => CatalogError::Exists(id),
            StoreError::ProductNotFound(id) => CatalogError::NotFound(id),
            e => CatalogError::Store(e),
        }
    }
}

/// Why `kiosk code add` made no code.
#[derive(Debug, thiserror::Error)]
pub enum CodeAddError {
    #[error(transparent)]
    Invalid(#[from] crate::pricing::CodeError),
    #[error("no product {0}")]
    NoProduct(ProductId),
    #[error("code {0} exists already (codes are case-insensitive)")]
    Exists(crate::pricing::CodeName),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Author {
    /// `kiosk code add`: a code valid by its rules ([`crate::pricing::Code::new`]), for
    /// products that exist, under a name not taken; written once.
    pub async fn add_code(
        &self,
        spec: crate::pricing::NewCode,
        now: OffsetDateTime,
    ) -> Result<crate::pricing::Code, CodeAddError> {
        let code = crate::pricing::Code::new(spec, now)?;
        for p in code.products() {
            if self.store.get_product(p).await?.is_none() {
                return Err(CodeAddError::NoProduct(p.clone()));
            }
        }
        if !self.store.create_code(&code).await? {
            return Err(CodeAddError::Exists(code.name().clone()));
        }
        Ok(code)
    }
}

/// What a code brought in (`kiosk code list`): its sales and their net revenue per
/// currency, by [`crate::sales`]'s rule (the reports count the same).
pub type CodeStats = crate::sales::Totals;

/// Each code's [`CodeStats`] from `orders` (those created since the oldest code was made
/// suffice: no order names a code older than itself).
pub fn code_stats(
    orders: &[crate::order::Order],
) -> std::collections::BTreeMap<crate::pricing::CodeName, CodeStats> {
    let mut out: std::collections::BTreeMap<crate::pricing::CodeName, CodeStats> =
        Default::default();
    for p in orders.iter().filter_map(crate::sales::paid) {
        if let Some(code) = &p.order.code {
            out.entry(code.clone()).or_default().add(&p);
        }
    }
    out
}

/// A product and how many paying buyers it has (`kiosk product show`).
#[derive(Debug, Clone)]
pub struct ProductOverview {
    pub product: Product,
    pub paying_buyers: usize,
}

impl Author {
    /// Put a new product on sale: check it, make sure the id is free, upload its file,
    /// record it.
    pub async fn add_product(
        &self,
        new: NewProduct,
        file: &EditionFile,
        now: OffsetDateTime,
    ) -> Result<Product, CatalogError> {
        let file_ref = file.file_ref(&new.id, &new.edition);
        let product = Product::new(
            new.id,
            &new.title,
            new.price,
            new.edition,
            file_ref,
            new.download_limit,
        )?;
        let product = match new.pricing {
            Some(change) => change.apply(product)?,
            None => product,
        };
        let files = self.files()?;
        if self.store.get_product(product.id()).await?.is_some() {
            return Err(CatalogError::Exists(product.id().clone()));
        }
        files.upload(file.bytes(), product.file()).await?;
        if let Err(e) = self.store.create_product(&product, now).await {
            // Lost a race for the id: take our file back out so nothing changed.
            files.remove(&product.file().key).await;
            return Err(e.into());
        }
        Ok(product)
    }

    /// Change a product for future buyers: every change checked first, then the new
    /// file (if any) uploaded, then the product replaced.
    pub async fn change_product(
        &self,
        id: &ProductId,
        changes: ProductChanges,
        now: OffsetDateTime,
    ) -> Result<Product, CatalogError> {
        if changes.is_empty() {
            return Err(CatalogError::NoChanges);
        }
        let mut product = self
            .store
            .get_product(id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(id.clone()))?;
        if let Some(title) = &changes.title {
            product = product.with_title(title)?;
        }
        match (changes.price, changes.pricing) {
            // A new price with new bounds: the bounds first (the new price may lie
            // outside the old ones), checked together.
            (Some(price), Some(change)) => {
                let change = change.keeping(product.pay_what_you_want());
                product = change.apply(product.with_pay_what_you_want(None)?.with_price(price)?)?;
            }
            (Some(price), None) => product = product.with_price(price)?,
            (None, Some(change)) => product = change.apply(product)?,
            (None, None) => {}
        }
        if let Some(n) = changes.download_limit {
            product = product.with_download_limit(n)?;
        }
        if let Some((edition, file)) = &changes.file {
            let file_ref = file.file_ref(id, edition);
            self.files()?.upload(file.bytes(), &file_ref).await?;
            product = product.with_edition(edition.clone(), file_ref);
        }
        self.store.update_product(&product, now).await?;
        Ok(product)
    }

    /// Switch `product` to `edition`, served from `file`: upload, then record.
    pub(crate) async fn switch_edition(
        &self,
        product: Product,
        edition: Edition,
        file: &EditionFile,
        now: OffsetDateTime,
    ) -> Result<Product, CatalogError> {
        let file_ref = file.file_ref(product.id(), &edition);
        self.files()?.upload(file.bytes(), &file_ref).await?;
        let product = product.with_edition(edition, file_ref);
        self.store.update_product(&product, now).await?;
        Ok(product)
    }

    pub async fn product_overview(&self, id: &ProductId) -> Result<ProductOverview, CatalogError> {
        let product = self
            .store
            .get_product(id)
            .await?
            .ok_or_else(|| CatalogError::NotFound(id.clone()))?;
        let paying_buyers = self
            .store
            .buyers_of(id)
            .await?
            .iter()
            .filter(|o| o.status() == OrderStatus::Paid)
            .count();
        Ok(ProductOverview {
            product,
            paying_buyers,
        })
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

    #[test]
    fn edition_files_are_named_and_not_empty() {
        assert_eq!(
            EditionFile::new("a.pdf", Vec::new(), None),
            Err(FileError::Empty)
        );
        for bad in ["", "a/b.pdf", "a\\b", "a\nb"] {
            assert_eq!(
                EditionFile::new(bad, b"x".to_vec(), None),
                Err(FileError::Name)
            );
        }
        let f = EditionFile::new("a.pdf", b"abc".to_vec(), None).unwrap();
        assert_eq!(
            f.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let r = f.file_ref(
            &ProductId::parse("book").unwrap(),
            &Edition::parse("v2").unwrap(),
        );
        assert_eq!(r.key, "products/book/v2/a.pdf");
        assert_eq!(r.content_type, "application/pdf");
    }
}
