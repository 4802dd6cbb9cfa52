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
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("title must not be empty")]
    EmptyTitle,
    #[error("price must be more than zero")]
    FreePrice,
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

fn price(p: Money) -> Result<Money, ProductError> {
    if p.minor() == 0 {
        return Err(ProductError::FreePrice);
    }
    Ok(p)
}

fn limit(n: u32) -> Result<u32, ProductError> {
    if !(1..=MAX_DOWNLOAD_LIMIT).contains(&n) {
        return Err(ProductError::DownloadLimit(n));
    }
    Ok(n)
}

impl Product {
    /// A product, if every field keeps its rule: a title (trimmed, not empty), a price
    /// above zero, 1 to [`MAX_DOWNLOAD_LIMIT`] downloads per purchase.
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
            price: price(price_)?,
            edition,
            file,
            download_limit: limit(download_limit)?,
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
        self.price = price(p)?;
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
        assert_eq!(make("A book", 0, "v1", 5), Err(ProductError::FreePrice));
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
        let free = Money::from_minor(0, Currency::Cny).unwrap();
        assert_eq!(p.clone().with_price(free), Err(ProductError::FreePrice));
        let p = p.with_download_limit(3).unwrap();
        assert_eq!(p.download_limit(), 3);
    }
}
