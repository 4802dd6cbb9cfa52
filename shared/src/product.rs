//! A product on sale: what it costs and which files (its edition's [`FileSet`]) a buyer
//! gets, and whether their PDFs are stamped with the buyer's address ([`crate::stamp`]).
//!
//! A [`Product`] is valid by construction: [`Product::new`] and the `with_*` methods are
//! the only ways to make or change one, and each checks its rule, so the store (which
//! takes only `&Product`) can never hold a free product, an unlimited download count or
//! an edition label that would break an S3 key. The store's reader goes through the same
//! constructor, so an item edited by hand into something invalid reads as corrupt, not as
//! a product.

use std::fmt;

use crate::ids::ProductId;
use crate::money::Money;

/// The file a grant serves: one edition of one product in the files bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// S3 key, `products/{id}/{edition}/{file name}`.
    pub key: String,
    /// The name the buyer's browser saves it as.
    pub name: String,
    pub content_type: String,
    /// Hex SHA-256 of the uploaded bytes, when the CLI recorded it.
    pub sha256: Option<String>,
    /// Its size in bytes, when recorded (files uploaded before sizes were kept: `None`,
    /// and the download page shows no size).
    pub size: Option<u64>,
}

impl FileRef {
    /// Where an edition's file lives: `products/{id}/{edition}/{name}`.
    pub fn for_edition(
        id: &ProductId,
        edition: &Edition,
        name: &str,
        content_type: &str,
        sha256: Option<String>,
        size: Option<u64>,
    ) -> FileRef {
        FileRef {
            key: format!("products/{id}/{edition}/{name}"),
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            sha256,
            size,
        }
    }

    /// A PDF, by content type or name: the files [`crate::stamp`] stamps.
    pub fn is_pdf(&self) -> bool {
        is_pdf(&self.name, &self.content_type)
    }
}

/// Whether a file of this name and content type is a PDF.
pub fn is_pdf(name: &str, content_type: &str) -> bool {
    content_type.eq_ignore_ascii_case("application/pdf")
        || name.to_ascii_lowercase().ends_with(".pdf")
}

/// The most files one edition may have: more is a folder that belongs in a zip.
pub const MAX_FILES: usize = 10;

/// What a buyer of one edition gets: 1 to [`MAX_FILES`] files with distinct names, in the
/// order the author gave them (the download page lists them so; a download names its
/// file by position). A product made before several files were possible has a set of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSet(Vec<FileRef>);

impl FileSet {
    pub fn new(files: Vec<FileRef>) -> Result<FileSet, ProductError> {
        if files.is_empty() || files.len() > MAX_FILES {
            return Err(ProductError::FileCount(files.len()));
        }
        for (i, f) in files.iter().enumerate() {
            if files[..i].iter().any(|g| g.name == f.name) {
                return Err(ProductError::SameName(f.name.clone()));
            }
        }
        Ok(FileSet(files))
    }

    /// The set of one file.
    pub fn one(file: FileRef) -> FileSet {
        FileSet(vec![file])
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a set has a file; here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&FileRef> {
        self.0.get(i)
    }

    /// The first file (the only one of a one-file product).
    pub fn first(&self) -> &FileRef {
        &self.0[0]
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FileRef> {
        self.0.iter()
    }

    /// Whether any file is a PDF (a stamped product needs one).
    pub fn has_pdf(&self) -> bool {
        self.0.iter().any(FileRef::is_pdf)
    }
}

impl<'a> IntoIterator for &'a FileSet {
    type Item = &'a FileRef;
    type IntoIter = std::slice::Iter<'a, FileRef>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// An edition's label (`v1`, `2026-11-21`, `2026-11-21-2`): 1-64 letters, digits, `.`,
/// `-` and `_`, since it is part of the file's S3 key and of table keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edition(String);

impl Edition {
    pub fn parse(label: &str) -> Result<Edition, ProductError> {
        let ok = (1..=64).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if ok {
            Ok(Edition(label.to_owned()))
        } else {
            Err(ProductError::Edition(label.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Edition {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Edition {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<Edition> for String {
    fn eq(&self, other: &Edition) -> bool {
        *self == other.0
    }
}

/// Pay what you want: the bounds a buyer's amount must keep. The suggested price is the
/// product's own price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayWhatYouWant {
    pub min: Money,
    pub max: Money,
}

/// The default cap: 100 × the suggested price.
pub const DEFAULT_CAP_FACTOR: u64 = 100;

/// The most downloads one purchase may allow: more is a typo, not a policy.
pub const MAX_DOWNLOAD_LIMIT: u32 = 1000;

/// How many activations a licensed product's license allows (`--seats`, default 1):
/// 1 to 1000 ([`crate::license`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seats(u32);

impl Seats {
    pub const MAX: u32 = 1000;

    pub fn new(n: u32) -> Result<Seats, ProductError> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Seats(n))
        } else {
            Err(ProductError::Seats(n))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    id: ProductId,
    title: String,
    price: Money,
    edition: Edition,
    files: FileSet,
    download_limit: u32,
    /// Each buyer's PDFs carry their address and order id ([`crate::stamp`]).
    stamp: bool,
    /// Each paid order gets a license for this many seats ([`crate::license`]).
    license: Option<Seats>,
    /// Pay what you want: the buyer names the amount within these bounds; `price` is the
    /// suggested amount.
    pwyw: Option<PayWhatYouWant>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("title must not be empty")]
    EmptyTitle,
    #[error(
        "pay what you want needs minimum <= suggested price <= maximum, in the price's currency, and a maximum above zero"
    )]
    PayWhatYouWant,
    #[error("download limit must be between 1 and {MAX_DOWNLOAD_LIMIT}, got {0}")]
    DownloadLimit(u32),
    #[error("edition must be 1-64 characters of letters, digits, '.', '-' and '_', got {0:?}")]
    Edition(String),
    #[error("seats must be 1 to 1000, got {0}")]
    Seats(u32),
    #[error("an edition has 1 to {MAX_FILES} files, got {0}")]
    FileCount(usize),
    #[error("two files are named {0:?}; each file of an edition needs its own name")]
    SameName(String),
    #[error("a stamped product needs a PDF among its files")]
    StampWithoutPdf,
}

fn title(raw: &str) -> Result<String, ProductError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(ProductError::EmptyTitle);
    }
    Ok(t.to_owned())
}

/// Bounds that hold around `price` (the suggested amount).
fn pwyw(price: Money, p: Option<PayWhatYouWant>) -> Result<Option<PayWhatYouWant>, ProductError> {
    let Some(b) = p else { return Ok(None) };
    let same = b.min.currency() == price.currency() && b.max.currency() == price.currency();
    if !same || b.min.minor() > price.minor() || price.minor() > b.max.minor() || b.max.is_zero() {
        return Err(ProductError::PayWhatYouWant);
    }
    Ok(Some(b))
}

fn limit(n: u32) -> Result<u32, ProductError> {
    if !(1..=MAX_DOWNLOAD_LIMIT).contains(&n) {
        return Err(ProductError::DownloadLimit(n));
    }
    Ok(n)
}

impl Product {
    /// A product, if every field keeps its rule: a title (trimmed, not empty), 1 to
    /// [`MAX_DOWNLOAD_LIMIT`] downloads per purchase. A price of zero is a free product
    /// (given for an email address, [`crate::pricing`]).
    pub fn new(
        id: ProductId,
        title_text: &str,
        price_: Money,
        edition: Edition,
        files: FileSet,
        download_limit: u32,
    ) -> Result<Product, ProductError> {
        Ok(Product {
            id,
            title: title(title_text)?,
            price: price_,
            edition,
            files,
            download_limit: limit(download_limit)?,
            stamp: false,
            license: None,
            pwyw: None,
        })
    }

    pub fn id(&self) -> &ProductId {
        &self.id
    }
    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn price(&self) -> Money {
        self.price
    }
    /// The current edition: what a new buyer gets.
    pub fn edition(&self) -> &Edition {
        &self.edition
    }
    /// What a buyer of the current edition gets.
    pub fn files(&self) -> &FileSet {
        &self.files
    }
    /// Whether each buyer's PDFs are stamped with their address ([`crate::stamp`]).
    pub fn stamp(&self) -> bool {
        self.stamp
    }
    /// Each paid order gets a license of this many seats ([`crate::license`]); `None`:
    /// no license.
    pub fn license(&self) -> Option<Seats> {
        self.license
    }
    /// This product with (or without) a license for each paid order.
    pub fn with_license(mut self, seats: Option<Seats>) -> Product {
        self.license = seats;
        self
    }
    /// Pay what you want: the bounds of the buyer's amount (the price is the suggested
    /// amount); `None`: a fixed price.
    pub fn pay_what_you_want(&self) -> Option<PayWhatYouWant> {
        self.pwyw
    }
    /// Free: nothing to pay, the link is mailed ([`crate::pricing`]).
    pub fn is_free(&self) -> bool {
        self.price.is_zero() && self.pwyw.is_none()
    }
    /// Downloads each purchase allows, of each file.
    pub fn download_limit(&self) -> u32 {
        self.download_limit
    }

    pub fn with_title(mut self, t: &str) -> Result<Product, ProductError> {
        self.title = title(t)?;
        Ok(self)
    }
    /// A new price for future orders (orders already placed keep theirs).
    pub fn with_price(mut self, p: Money) -> Result<Product, ProductError> {
        self.pwyw = pwyw(p, self.pwyw)?;
        self.price = p;
        Ok(self)
    }
    /// Sell at a price the buyer names within `bounds` (`None`: the fixed price again).
    pub fn with_pay_what_you_want(
        mut self,
        bounds: Option<PayWhatYouWant>,
    ) -> Result<Product, ProductError> {
        self.pwyw = pwyw(self.price, bounds)?;
        Ok(self)
    }
    pub fn with_download_limit(mut self, n: u32) -> Result<Product, ProductError> {
        self.download_limit = limit(n)?;
        Ok(self)
    }
    /// Sell `edition`, served from `files`, to buyers from now on (a stamped product
    /// keeps needing a PDF).
    pub fn with_edition(
        mut self,
        edition: Edition,
        files: FileSet,
    ) -> Result<Product, ProductError> {
        if self.stamp && !files.has_pdf() {
            return Err(ProductError::StampWithoutPdf);
        }
        self.edition = edition;
        self.files = files;
        Ok(self)
    }
    /// Stamp each buyer's PDFs (`true` needs a PDF in the set); the check that each PDF
    /// can be stamped is made on upload ([`crate::catalog`]).
    pub fn with_stamp(mut self, stamp: bool) -> Result<Product, ProductError> {
        if stamp && !self.files.has_pdf() {
            return Err(ProductError::StampWithoutPdf);
        }
        self.stamp = stamp;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn file() -> FileRef {
        FileRef {
            key: "products/book/v1/book.pdf".into(),
            name: "book.pdf".into(),
            content_type: "application/pdf".into(),
            sha256: None,
            size: Some(3),
        }
    }

    fn make(title: &str, minor: u64, edition: &str, n: u32) -> Result<Product, ProductError> {
        Product::new(
            ProductId::parse("book").unwrap(),
            title,
            Money::from_minor(minor, Currency::Cny).unwrap(),
            Edition::parse(edition)?,
            FileSet::one(file()),
            n,
        )
    }

    #[test]
    fn only_valid_products_exist() {
        let p = make("  A book ", 900, "v1", 5).unwrap();
        assert_eq!(
            (p.title(), p.price().minor(), p.edition().as_str()),
            ("A book", 900, "v1")
        );
        assert_eq!(make(" ", 900, "v1", 5), Err(ProductError::EmptyTitle));
        assert!(make("A book", 0, "v1", 5).unwrap().is_free());
        assert_eq!(
            make("A book", 900, "v1", 0),
            Err(ProductError::DownloadLimit(0))
        );
        assert_eq!(
            make("A book", 900, "v1", 1001),
            Err(ProductError::DownloadLimit(1001))
        );
        for bad in ["", "v 2", "v2/..", "ünï", &"x".repeat(65)] {
            assert_eq!(
                make("A book", 900, bad, 5),
                Err(ProductError::Edition(bad.to_owned()))
            );
        }
    }

    #[test]
    fn changes_keep_the_rules() {
        let p = make("A book", 900, "v1", 5).unwrap();
        assert!(p.clone().with_title("").is_err());
        assert!(p.clone().with_download_limit(0).is_err());
        let m = |minor| Money::from_minor(minor, Currency::Cny).unwrap();
        let bounds = |min, max| {
            Some(PayWhatYouWant {
                min: m(min),
                max: m(max),
            })
        };
        let pwyw = p.clone().with_pay_what_you_want(bounds(0, 90_000)).unwrap();
        assert!(!pwyw.is_free() && pwyw.pay_what_you_want().is_some());
        // The suggested price must stay within the bounds, in one currency.
        for (min, max) in [(901, 90_000), (0, 899), (0, 0)] {
            assert_eq!(
                p.clone().with_pay_what_you_want(bounds(min, max)),
                Err(ProductError::PayWhatYouWant)
            );
        }
        assert_eq!(
            pwyw.clone().with_price(m(100_000)),
            Err(ProductError::PayWhatYouWant)
        );
        let usd = Money::from_minor(100, Currency::Usd).unwrap();
        assert_eq!(
            p.clone().with_pay_what_you_want(Some(PayWhatYouWant {
                min: usd,
                max: m(90_000)
            })),
            Err(ProductError::PayWhatYouWant)
        );
        let p = p.with_download_limit(3).unwrap();
        assert_eq!(p.download_limit(), 3);
    }

    #[test]
    fn file_sets_have_distinct_names_and_a_pdf_to_stamp() {
        let named = |n: &str, t: &str| FileRef {
            key: format!("products/book/v1/{n}"),
            name: n.into(),
            content_type: t.into(),
            sha256: None,
            size: None,
        };
        assert_eq!(FileSet::new(vec![]), Err(ProductError::FileCount(0)));
        assert_eq!(
            FileSet::new(vec![named("a.pdf", "application/pdf"); MAX_FILES + 1]),
            Err(ProductError::FileCount(MAX_FILES + 1))
        );
        assert_eq!(
            FileSet::new(vec![
                named("a.pdf", "application/pdf"),
                named("a.pdf", "x/y")
            ]),
            Err(ProductError::SameName("a.pdf".into()))
        );
        let zip_only = FileSet::new(vec![named("code.zip", "application/zip")]).unwrap();
        let p = make("A book", 900, "v1", 5).unwrap();
        assert!(p.clone().with_stamp(true).unwrap().stamp());
        let v2 = Edition::parse("v2").unwrap();
        assert_eq!(
            p.clone()
                .with_stamp(true)
                .unwrap()
                .with_edition(v2.clone(), zip_only.clone()),
            Err(ProductError::StampWithoutPdf)
        );
        let p = p.with_edition(v2, zip_only).unwrap();
        assert_eq!(p.with_stamp(true), Err(ProductError::StampWithoutPdf));
    }
}
