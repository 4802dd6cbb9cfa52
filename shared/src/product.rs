//! A product on sale: what it costs and which file (edition) a buyer gets.

use serde::{Deserialize, Serialize};

use crate::ids::ProductId;
use crate::money::Money;

/// The file a grant serves: one edition of one product in the files bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// S3 key, `products/{id}/{edition}/{file name}`.
    pub key: String,
    /// The name the buyer's browser saves it as.
    pub name: String,
    pub content_type: String,
    /// Hex SHA-256 of the uploaded bytes, when the CLI recorded it.
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub title: String,
    pub price: Money,
    /// The current edition's label (for example `2026-11-21` or `v2`).
    pub edition: String,
    pub file: FileRef,
    /// Downloads each purchase allows.
    pub download_limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("title must not be empty")]
    EmptyTitle,
    #[error("price must be more than zero")]
    FreePrice,
    #[error("download limit must be between 1 and 1000, got {0}")]
    DownloadLimit(u32),
    #[error("edition must be 1-64 characters of letters, digits, '.', '-' and '_', got {0:?}")]
    Edition(String),
}

impl Product {
    /// Check the rules a product must satisfy before it is stored.
    pub fn validate(&self) -> Result<(), ProductError> {
        if self.title.trim().is_empty() {
            return Err(ProductError::EmptyTitle);
        }
        if self.price.minor() == 0 {
            return Err(ProductError::FreePrice);
        }
        if !(1..=1000).contains(&self.download_limit) {
            return Err(ProductError::DownloadLimit(self.download_limit));
        }
        let edition_ok = (1..=64).contains(&self.edition.len())
            && self
                .edition
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !edition_ok {
            return Err(ProductError::Edition(self.edition.clone()));
        }
        Ok(())
    }
}
