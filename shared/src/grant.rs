//! A download grant: the right to fetch each file of one purchase's edition a limited
//! number of times (the limit counts per file: 5 of the PDF and 5 of the EPUB).

use time::OffsetDateTime;

use crate::ids::{DownloadToken, OrderId, ProductId};
use crate::order::Order;
use crate::product::FileSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub token: DownloadToken,
    pub order_id: OrderId,
    pub product_id: ProductId,
    pub product_title: String,
    pub edition: crate::product::Edition,
    pub files: FileSet,
    /// Downloads left of each file, in `files`' order (as many as files).
    pub downloads_left: Vec<u32>,
    /// Downloads each file allowed at first.
    pub download_limit: u32,
    /// The PDFs are served as copies stamped for this purchase ([`crate::stamp`]).
    pub stamp: bool,
    /// The purchase's license, shown on the download page ([`crate::license`]); every
    /// link of one order carries the same one.
    pub license: Option<crate::license::IssuedLicense>,
    pub created_at: OffsetDateTime,
    /// `None`: the link does not expire (downloads are limited by count only).
    pub expires_at: Option<OffsetDateTime>,
    /// Set when the order is refunded.
    pub revoked: bool,
    /// Set while the payment is disputed (a chargeback), cleared if the dispute is won.
    pub suspended: bool,
    /// The order's language (its download page speaks it); `None` for grants of
    /// orders without one.
    pub lang: Option<crate::i18n::Lang>,
}

/// Why a grant cannot serve a download right now. The order matters: a refunded link
/// says "refunded" even if it also ran out, because that is what the buyer needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("this purchase was refunded, so its link no longer works")]
    Revoked,
    #[error(
        "the payment for this purchase is disputed with the card issuer, so its link is paused"
    )]
    Suspended,
    #[error("this download link has expired")]
    Expired,
    #[error("all downloads for this purchase have been used")]
    Exhausted,
    #[error("all downloads of this file have been used")]
    FileExhausted,
}

impl Grant {
    /// A fresh grant for a (just paid) order, with the order's full download count.
    pub fn for_order(
        order: &Order,
        token: DownloadToken,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Grant {
        Grant {
            token,
            order_id: order.id.clone(),
            product_id: order.product_id.clone(),
            product_title: order.product_title.clone(),
            edition: order.edition.clone(),
            files: order.files.clone(),
            downloads_left: vec![order.download_limit; order.files.len()],
            download_limit: order.download_limit,
            stamp: order.stamp,
            license: order.license.clone(),
            created_at: now,
            expires_at,
            revoked: false,
            suspended: false,
            lang: order.lang,
        }
    }

    /// A grant to `product`'s current edition for a buyer who paid `order` for an
    /// earlier one (`kiosk update`): the product's title, edition, files and stamping,
    /// the order's download count of each file, no expiry.
    pub fn for_edition(
        order: &Order,
        product: &crate::product::Product,
        token: DownloadToken,
        now: OffsetDateTime,
    ) -> Grant {
        Grant {
            product_title: product.title().to_owned(),
            edition: product.edition().clone(),
            files: product.files().clone(),
            downloads_left: vec![order.download_limit; product.files().len()],
            stamp: product.stamp(),
            ..Grant::for_order(order, token, None, now)
        }
    }

    pub fn usable(&self, now: OffsetDateTime) -> Result<(), Unusable> {
        if self.revoked {
            Err(Unusable::Revoked)
        } else if self.suspended {
            Err(Unusable::Suspended)
        } else if self.expires_at.is_some_and(|e| e <= now) {
            Err(Unusable::Expired)
        } else if self.downloads_left.iter().all(|&n| n == 0) {
            Err(Unusable::Exhausted)
        } else {
            Ok(())
        }
    }

    /// Whether file `i` can be downloaded now: `None` when the grant has no such file.
    pub fn usable_file(&self, i: usize, now: OffsetDateTime) -> Option<Result<(), Unusable>> {
        let left = *self.downloads_left.get(i)?;
        Some(match self.usable(now) {
            Err(why) => Err(why),
            Ok(()) if left == 0 => Err(Unusable::FileExhausted),
            Ok(()) => Ok(()),
        })
    }
}
