//! Each function's view of the store: the operations its IAM policy in `template.yaml`
//! allows, and nothing else (docs/architecture.md, "Handles"). A handle holds its view,
//! never the [`Store`], so the compiler refuses any other call: the checkout handle
//! cannot record a payment, the download handle cannot touch an order. The real-binary
//! test's IAM replay checks that each operation's requests are the ones the policy
//! allows; `views_list_their_operations` (below) pins each view's list, which
//! docs/architecture.md's handle table repeats.
//!
//! The author's `kiosk` command line holds the whole [`Store`]: its policy
//! (`KioskCliPolicy`) is the shop owner's.

use time::{Date, Duration, OffsetDateTime};

use super::{
    AddressLinks, CodeHold, ConsumeError, DisputeHold, Paid, Store, StoreError, TestCells,
};
use crate::abtest::AbTest;
use crate::email::Email;
use crate::grant::Grant;
use crate::ids::{DownloadToken, OrderId, ProductId};
use crate::license::{Activation, IssuedLicense, LicenseKey, LicenseRecord};
use crate::net::{Network, NetworkCounter, NetworkTag};
use crate::order::{ChannelKind, Dispute, MailBlock, Order, Payment, RefundOutcome};
use crate::pricing::{Code, CodeName};
use crate::product::Product;
use crate::visit::{DailySalt, VariantSecret, VisitorId};

/// A view: a newtype over the store with the listed operations, each delegating to the
/// store's own, and their names in `OPERATIONS`.
macro_rules! view {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( fn $op:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty; )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Store);

        impl $name {
            /// The view of `store` (built once, at cold start, by the handle).
            pub fn of(store: Store) -> Self {
                $name(store)
            }

            /// The operations this view allows, in the order written here.
            pub const OPERATIONS: &'static [&'static str] = &[$(stringify!($op)),*];

            $(
                pub async fn $op(&self $(, $arg: $ty)*) -> $ret {
                    self.0.$op($($arg),*).await
                }
            )*
        }
    };
}

view! {
    /// The checkout function's (`Checkout`): read products and codes, count networks and
    /// the shop's free copies, write new orders (with a code's use and hold), read the
    /// shop's secret and an address's block.
    CheckoutStore {
        fn network_tag(&self, network: &Network, now: OffsetDateTime) -> Result<NetworkTag, StoreError>;
        fn count_from_network(&self, counter: NetworkCounter, network: &NetworkTag, limit: u32, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn uncount_from_network(&self, counter: NetworkCounter, network: &NetworkTag, window: Duration, now: OffsetDateTime) -> Result<(), StoreError>;
        fn count_mail_to(&self, counter: NetworkCounter, email: &Email, limit: u32, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn count_shop(&self, counter: NetworkCounter, limit: u32, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn get_product(&self, id: &ProductId) -> Result<Option<Product>, StoreError>;
        fn get_code(&self, name: &CodeName) -> Result<Option<Code>, StoreError>;
        fn code_hold(&self, code: &CodeName, network: &NetworkTag) -> Result<Option<OrderId>, StoreError>;
        fn create_order(&self, order: &Order) -> Result<(), StoreError>;
        fn create_order_holding(&self, order: &Order, hold: CodeHold<'_>) -> Result<(), StoreError>;
        fn variant_secret(&self) -> Result<VariantSecret, StoreError>;
        fn address_block(&self, email: &Email) -> Result<Option<MailBlock>, StoreError>;
    }
}

view! {
    /// Payment-notify's (`Shop`), which reconcile and the author's refunds share: find
    /// and read orders, record payments, refunds, disputes and expiry, the refund
    /// request in progress, and a free order's product and code.
    PaymentStore {
        fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError>;
        fn order_id_by_txn(&self, channel: ChannelKind, txn: &str) -> Result<Option<OrderId>, StoreError>;
        fn mark_paid(&self, order: &Order, payment: &Payment, event: Option<(ChannelKind, &str)>, grant_expires_at: Option<OffsetDateTime>, license: Option<&IssuedLicense>, now: OffsetDateTime) -> Result<Paid, StoreError>;
        fn expire_order(&self, order: &Order, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn apply_refund(&self, outcome: &RefundOutcome, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn set_dispute(&self, order: &Order, state: Dispute) -> Result<bool, StoreError>;
        fn hold_dispute(&self, channel: ChannelKind, txn: &str, state: Dispute, now: OffsetDateTime) -> Result<DisputeHold, StoreError>;
        fn begin_refund_request(&self, order: &Order, request: &crate::order::RefundRequest, now: OffsetDateTime) -> Result<(), StoreError>;
        fn settle_refund_request(&self, id: &OrderId, request: &crate::order::RefundRequest, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn get_product(&self, id: &ProductId) -> Result<Option<Product>, StoreError>;
        fn get_code(&self, name: &CodeName) -> Result<Option<Code>, StoreError>;
    }
}

view! {
    /// The purchase mail's (`Delivery`, for payment-notify, reconcile and the author):
    /// claim, record and retry an order's mail, read the grant it links to and the
    /// address's block.
    MailStore {
        fn get_grant(&self, token: &DownloadToken) -> Result<Option<Grant>, StoreError>;
        fn address_block(&self, email: &Email) -> Result<Option<MailBlock>, StoreError>;
        fn due_mails(&self, now: OffsetDateTime, limit: i32) -> Result<Vec<Order>, StoreError>;
        fn claim_due_mail(&self, id: &OrderId, seen: OffsetDateTime, lease_until: OffsetDateTime) -> Result<Option<Order>, StoreError>;
        fn mail_sent(&self, id: &OrderId, now: OffsetDateTime) -> Result<(), StoreError>;
        fn mail_failed(&self, id: &OrderId, attempts: u32, next_at: OffsetDateTime) -> Result<(), StoreError>;
        fn mail_given_up(&self, id: &OrderId, attempts: u32, now: OffsetDateTime) -> Result<(), StoreError>;
        fn mail_not_needed(&self, id: &OrderId) -> Result<(), StoreError>;
    }
}

view! {
    /// Reconcile's own (`Reconciler`, beside the payment and mail views it shares):
    /// the pending orders due for a check with the provider, and each check's record.
    ReconcileStore {
        fn pending_due_for_check(&self, created_before: OffsetDateTime, now: OffsetDateTime, limit: usize) -> Result<Vec<(Order, u32)>, StoreError>;
        fn record_check(&self, id: &OrderId, checks: u32, next_at: OffsetDateTime) -> Result<(), StoreError>;
        fn expire_order(&self, order: &Order, now: OffsetDateTime) -> Result<bool, StoreError>;
    }
}

view! {
    /// The download function's (`Downloads`): read and spend grants, a buyer's usable
    /// links, and "email me my links"' limits.
    DownloadStore {
        fn get_grant(&self, token: &DownloadToken) -> Result<Option<Grant>, StoreError>;
        fn consume_download(&self, token: &DownloadToken, file: usize, now: OffsetDateTime) -> Result<Grant, ConsumeError>;
        fn give_back_download(&self, token: &DownloadToken, file: usize) -> Result<(), StoreError>;
        fn usable_grants_for(&self, email: &Email, now: OffsetDateTime) -> Result<AddressLinks, StoreError>;
        fn network_tag(&self, network: &Network, now: OffsetDateTime) -> Result<NetworkTag, StoreError>;
        fn count_from_network(&self, counter: NetworkCounter, network: &NetworkTag, limit: u32, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn claim_resend(&self, email: &Email, network: &NetworkTag, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn count_resend_mail(&self, email: &Email, limit: u32, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
    }
}

view! {
    /// The license function's (`Licenses`): read a license and count its activations,
    /// read the revocation list, count networks and the shop's checks.
    LicenseStore {
        fn get_license(&self, key: &LicenseKey) -> Result<Option<LicenseRecord>, StoreError>;
        fn activate_license(&self, key: &LicenseKey) -> Result<Activation, StoreError>;
        fn revoked_licenses(&self) -> Result<Vec<OrderId>, StoreError>;
        fn network_tag(&self, network: &Network, now: OffsetDateTime) -> Result<NetworkTag, StoreError>;
        fn count_from_network(&self, counter: NetworkCounter, network: &NetworkTag, limit: u32, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn uncount_from_network(&self, counter: NetworkCounter, network: &NetworkTag, window: Duration, now: OffsetDateTime) -> Result<(), StoreError>;
        fn count_shop(&self, counter: NetworkCounter, limit: u32, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
    }
}

view! {
    /// The stamping function's (`Stamper`): read a grant and the order it belongs to (the
    /// buyer's address the copy is stamped with).
    StampStore {
        fn get_grant(&self, token: &DownloadToken) -> Result<Option<Grant>, StoreError>;
        fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError>;
    }
}

view! {
    /// The collect function's (`Collector`): the day's salt, visit markers, view
    /// counters and sources, which products exist, the registered tests and the secret.
    CollectStore {
        fn daily_salt(&self, day: Date) -> Result<DailySalt, StoreError>;
        fn visit(&self, day: Date, visitor: &VisitorId, products: &[ProductId]) -> Result<Vec<ProductId>, StoreError>;
        fn count_views(&self, day: Date, shard: u8, source: &str, products: &[(ProductId, bool)], tests: &[TestCells]) -> Result<(), StoreError>;
        fn day_sources(&self, day: Date) -> Result<Vec<String>, StoreError>;
        fn claim_source(&self, day: Date, source: &str, max: usize) -> Result<Option<Vec<String>>, StoreError>;
        fn count_from_network(&self, counter: NetworkCounter, network: &NetworkTag, limit: u32, window: Duration, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn existing_products(&self, ids: &[ProductId]) -> Result<Vec<ProductId>, StoreError>;
        fn tests(&self) -> Result<Vec<AbTest>, StoreError>;
        fn variant_secret(&self) -> Result<VariantSecret, StoreError>;
    }
}

view! {
    /// The mail-events function's (`MailEvents`): record a bounce or complaint on the
    /// address's one item.
    MailEventsStore {
        fn block_address(&self, email: &Email, block: &MailBlock) -> Result<bool, StoreError>;
    }
}

impl PaymentStore {
    /// The purchase mail's view of the same store (payment-notify's policy allows it).
    pub fn mail(&self) -> MailStore {
        MailStore(self.0.clone())
    }

    /// Reconcile's own view of the same store, for the reconcile function's handle
    /// (its policy allows the payment view's operations and these).
    pub(crate) fn reconcile(&self) -> ReconcileStore {
        ReconcileStore(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each view's operations, as docs/architecture.md's handle table lists them: a
    /// change to what a function may do shows here and there.
    #[test]
    fn views_list_their_operations() {
        let doc = include_str!("../../../docs/architecture.md");
        for (view, ops) in [
            ("CheckoutStore", CheckoutStore::OPERATIONS),
            ("PaymentStore", PaymentStore::OPERATIONS),
            ("MailStore", MailStore::OPERATIONS),
            ("ReconcileStore", ReconcileStore::OPERATIONS),
            ("DownloadStore", DownloadStore::OPERATIONS),
            ("StampStore", StampStore::OPERATIONS),
            ("LicenseStore", LicenseStore::OPERATIONS),
            ("CollectStore", CollectStore::OPERATIONS),
            ("MailEventsStore", MailEventsStore::OPERATIONS),
        ] {
            let line = format!("`{view}`: {}", ops.join(", "));
            assert!(
                doc.contains(&line),
                "docs/architecture.md lists the view as\n{line}"
            );
        }
        // Nothing that writes products, codes, tests or editions is in any view.
        for ops in [
            CheckoutStore::OPERATIONS,
            PaymentStore::OPERATIONS,
            MailStore::OPERATIONS,
            ReconcileStore::OPERATIONS,
            DownloadStore::OPERATIONS,
            CollectStore::OPERATIONS,
            MailEventsStore::OPERATIONS,
        ] {
            for op in ops {
                assert!(
                    ![
                        "create_product",
                        "update_product",
                        "create_code",
                        "disable_code",
                        "create_test",
                        "stop_test",
                        "claim_edition_mail"
                    ]
                    .contains(op),
                    "{op}"
                );
            }
        }
    }

    /// No handle hands out its store or has a public field (issue 34): each handle's
    /// struct, read from its source, has no `pub` field, and no handle has a `store()`.
    #[test]
    fn handles_have_no_public_field_and_no_store_escape() {
        for (handle, src) in [
            ("Checkout", include_str!("../checkout.rs")),
            ("Shop", include_str!("../shop.rs")),
            ("Reconciler", include_str!("../reconcile.rs")),
            ("Downloads", include_str!("../downloads.rs")),
            ("Collector", include_str!("../collect.rs")),
            ("MailEvents", include_str!("../mail_events.rs")),
            ("Author", include_str!("../author.rs")),
            ("Delivery<'a>", include_str!("../delivery.rs")),
            ("Refunds", include_str!("../refund.rs")),
        ] {
            let start = src
                .find(&format!("pub struct {handle} {{"))
                .unwrap_or_else(|| panic!("struct {handle}"));
            let body = &src[start..start + src[start..].find("\n}").unwrap_or(0)];
            for line in body.lines().skip(1) {
                let line = line.trim_start();
                assert!(
                    !(line.starts_with("pub ") || line.starts_with("pub(super)")),
                    "{handle} has a public field: {line}"
                );
            }
            assert!(!src.contains("fn store("), "{handle} hands out its store");
        }
        // Nor does the wiring: the store a handle wraps is opened crate-privately.
        let startup = include_str!("../startup.rs");
        assert!(
            startup.contains("pub(crate) fn open_store(") && !startup.contains("pub fn store(")
        );
    }
}
