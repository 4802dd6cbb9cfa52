//! The `kiosk` binary, run as an author runs it, against the locked emulator: products,
//! the resumable new-edition mail-out, orders and sales, resend, reconcile, refunds at the
//! local sandboxes, where it points, and its help.
//!
//! A module per command; `common` holds what they share.

mod codes;
mod common;
mod help;
mod languages;
mod licenses;
mod preview;
mod products;
mod reconcile;
mod refund;
mod reports;
mod resend;
mod target;
mod update;
