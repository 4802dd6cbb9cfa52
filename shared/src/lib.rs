//! Kiosk core: everything the functions, the CLI and the devstack share.
//!
//! Pure domain types and rules (`money`, `ids`, `email`, `product`, `order`, `grant`),
//! the providers' protocols (`alipay`'s RSA2 signing, `stripe`'s webhooks and Checkout
//! Session form), the payment channels over them (`channel`), the workflows, each behind
//! the handle of whoever may run it (`checkout` for the checkout function; `shop`:
//! notify, return, fulfil for payment-notify; `downloads` and `resend` for download;
//! `reconcile` and `delivery` for reconcile; `mail_events` for SES's bounce and complaint
//! reports; `author` with `catalog`, `mailout` and
//! `refund` for the CLI), configuration and start-up wiring (`config`, `secrets`,
//! `startup`, `tls`) and the DynamoDB single-table store (`store`). Handlers and the CLI
//! only translate their input to calls on this crate.

pub mod abtest;
pub mod alarm;
pub mod alipay;
pub mod author;
pub mod catalog;
pub mod channel;
pub mod checkout;
pub mod claim;
pub mod clock;
pub mod collect;
pub mod config;
pub mod deadline;
pub mod delivery;
pub mod downloads;
pub mod edition;
pub mod email;
pub mod files;
pub mod form;
pub mod free;
pub mod funnel;
pub mod grant;
pub mod i18n;
pub mod ids;
pub mod license;
pub mod licenses;
pub mod mail;
pub mod mail_events;
pub mod mailout;
pub mod money;
pub mod net;
pub mod order;
pub mod pricing;
pub mod product;
pub mod reconcile;
pub mod refund;
pub mod resend;
pub mod rsa;
pub mod sales;
pub mod secrets;
pub mod shop;
pub mod stamp;
pub mod startup;
pub mod stats;
pub mod store;
pub mod stripe;
pub mod text;
pub mod tls;
pub mod visit;
pub mod wechat;

/// An error and each of its causes, `: `-separated: the one line a log or the author's
/// terminal shows (a `Display` alone hides the cause, e.g. SES's reason behind "send
/// failed").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

pub use config::Config;
pub use email::{Email, Sender};
pub use grant::Grant;
pub use ids::{DownloadToken, OrderId, ProductId};
pub use money::{Currency, Money};
pub use order::{Order, OrderState, OrderStatus};
pub use product::Product;
