//! The author's products (`kiosk product add|set|show`): an edition's files checked and
//! uploaded, then the product recorded, in an order that leaves nothing half-made.
//!
//! Files are uploaded only once the product id is known to be free (add) or to exist
//! (set); a product is written only once all its files are in the bucket, so a buyer
//! never gets a link to a missing file. Losing a race for a new id takes the uploads back
//! out. A stamped product's PDFs are parsed before anything is uploaded
//! ([`crate::stamp::check`]): one the stamper cannot read is refused with the reason.

use time::OffsetDateTime;

use crate::author::{Author, Missing};
use crate::files::UploadError;
use crate::ids::ProductId;
use crate::money::Money;
use crate::order::OrderStatus;
use crate::product::{Edition, FileRef, FileSet, Product, ProductError};
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
            Some(self.bytes.len() as u64),
        )
    }

    /// Whether this file is a PDF (stamped on a stamped product).
    pub fn is_pdf(&self) -> bool {
        crate::product::is_pdf(&self.name, &self.content_type)
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
    /// Stamp each buyer's PDFs ([`crate::stamp`]).
    pub stamp: bool,
    /// A license of this many seats with each paid order ([`crate::license`]).
    pub license: Option<crate::product::Seats>,
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
    /// New files for future buyers, as this edition (past buyers keep theirs).
    pub files: Option<(Edition, Vec<EditionFile>)>,
    /// Start or stop stamping each buyer's PDFs (for orders from now on).
    pub stamp: Option<bool>,
    /// Start (with its seats) or stop (`Some(None)`) licenses, for orders from now on.
    pub license: Option<Option<crate::product::Seats>>,
}

impl ProductChanges {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.price.is_none()
            && self.pricing.is_none()
            && self.download_limit.is_none()
            && self.files.is_none()
            && self.stamp.is_none()
            && self.license.is_none()
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
    #[error("{name} cannot be stamped: {why}")]
    Unstampable {
        name: String,
        #[source]
        why: crate::stamp::StampError,
    },
    #[error(transparent)]
    Store(StoreError),
}

/// `files` as `edition` of `id`, checked: a set by [`FileSet`]'s rules and, on a stamped
/// product, every PDF one the stamper can read.
fn checked_set(
    id: &ProductId,
    edition: &Edition,
    files: &[EditionFile],
    stamp: bool,
) -> Result<FileSet, CatalogError> {
    let set = FileSet::new(files.iter().map(|f| f.file_ref(id, edition)).collect())?;
    if stamp {
        for f in files.iter().filter(|f| f.is_pdf()) {
            crate::stamp::check(f.bytes()).map_err(|why| CatalogError::Unstampable {
                name: f.name.clone(),
                why,
            })?;
        }
    }
    Ok(set)
}

impl Author {
    /// Upload every file of `set` (whose refs `files` made, in order); on a failure the
    /// ones already up are taken back out.
    async fn upload_set(&self, files: &[EditionFile], set: &FileSet) -> Result<(), CatalogError> {
        let bucket = self.files()?;
        for (i, (f, r)) in files.iter().zip(set).enumerate() {
            if let Err(e) = bucket.upload(f.bytes(), r).await {
                for done in set.iter().take(i) {
                    bucket.remove(&done.key).await;
                }
                return Err(e.into());
            }
        }
        Ok(())
    }
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
    /// Put a new product on sale: check it (a stamped product's PDFs parsed), make sure
    /// the id is free, upload its files, record it.
    pub async fn add_product(
        &self,
        new: NewProduct,
        files: &[EditionFile],
        now: OffsetDateTime,
    ) -> Result<Product, CatalogError> {
        let set = checked_set(&new.id, &new.edition, files, new.stamp)?;
        let product = Product::new(
            new.id,
            &new.title,
            new.price,
            new.edition,
            set,
            new.download_limit,
        )?
        .with_stamp(new.stamp)?
        .with_license(new.license);
        let product = match new.pricing {
            Some(change) => change.apply(product)?,
            None => product,
        };
        let bucket = self.files()?;
        if self.store.get_product(product.id()).await?.is_some() {
            return Err(CatalogError::Exists(product.id().clone()));
        }
        self.upload_set(files, product.files()).await?;
        if let Err(e) = self.store.create_product(&product, now).await {
            // Lost a race for the id: take our files back out so nothing changed.
            for f in product.files() {
                bucket.remove(&f.key).await;
            }
            return Err(e.into());
        }
        Ok(product)
    }

    /// Change a product for future buyers: every change checked first, then the new
    /// files (if any) uploaded, then the product replaced.
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
        let stamp = changes.stamp.unwrap_or(product.stamp());
        match &changes.files {
            Some((edition, files)) => {
                let set = checked_set(id, edition, files, stamp)?;
                // Both rules checked before anything is uploaded.
                product = product
                    .with_stamp(false)?
                    .with_edition(edition.clone(), set)?
                    .with_stamp(stamp)?;
                self.upload_set(files, product.files()).await?;
            }
            None => {
                if stamp && !product.stamp() {
                    // The current files were uploaded unchecked: read them back to check.
                    self.check_stored_pdfs(&product).await?;
                }
                product = product.with_stamp(stamp)?;
            }
        }
        if let Some(license) = changes.license {
            product = product.with_license(license);
        }
        self.store.update_product(&product, now).await?;
        Ok(product)
    }

    /// A product about to be stamped: every PDF it serves read back and parsed.
    async fn check_stored_pdfs(&self, product: &Product) -> Result<(), CatalogError> {
        let bucket = self.files()?;
        for f in product.files().iter().filter(|f| f.is_pdf()) {
            let bytes = bucket.read(&f.key).await?;
            crate::stamp::check(&bytes).map_err(|why| CatalogError::Unstampable {
                name: f.name.clone(),
                why,
            })?;
        }
        Ok(())
    }

    /// Switch `product` to `edition`, served from `files`: check, upload, then record.
    pub(crate) async fn switch_edition(
        &self,
        product: Product,
        edition: Edition,
        files: &[EditionFile],
        now: OffsetDateTime,
    ) -> Result<Product, CatalogError> {
        let set = checked_set(product.id(), &edition, files, product.stamp())?;
        let product = product.with_edition(edition, set)?;
        self.upload_set(files, product.files()).await?;
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
