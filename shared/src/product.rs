//! A product on sale: what it costs and which file (edition) a buyer gets.
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
}

impl FileRef {
    /// Where an edition's file lives: `products/{id}/{edition}/{name}`.
    pub fn for_edition(
        id: &ProductId,
        edition: &Edition,
        name: &str,
        content_type: &str,
        sha256: Option<String>,
    ) -> FileRef {
        FileRef {
            key: format!("products/{id}/{edition}/{name}"),
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            sha256,
        }
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    id: ProductId,
    title: String,
    price: Money,
    edition: Edition,
    file: FileRef,
    download_limit: u32,
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
        file: FileRef,
        download_limit: u32,
    ) -> Result<Product, ProductError> {
        Ok(Product {
            id,
            title: title(title_text)?,
            price: price_,
            edition,
            file,
            download_limit: limit(download_limit)?,
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
    pub fn file(&self) -> &FileRef {
        &self.file
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
    /// Downloads each purchase allows.
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
    /// Sell `edition`, served from `file`, to buyers from now on.
    pub fn with_edition(mut self, edition: Edition, file: FileRef) -> Product {
        self.edition = edition;
        self.file = file;
        self
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
        }
    }

    fn make(title: &str, minor: u64, edition: &str, n: u32) -> Result<Product, ProductError> {
        Product::new(
            ProductId::parse("book").unwrap(),
            title,
            Money::from_minor(minor, Currency::Cny).unwrap(),
            Edition::parse(edition)?,
            file(),
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
}
