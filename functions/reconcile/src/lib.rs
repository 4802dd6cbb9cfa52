//! The scheduled reconcile function (docs/architecture.md, "Delivery and reconcile"): one
//! run sends every purchase mail that is due and settles the pending orders no
//! notification reported, within a time budget below the function's timeout, and reports
//! what it did. The Lambda binary in `main.rs`, `kiosk reconcile`
//! and the devstack all run [`handler::run`] or the same `kiosk` code under it.

pub mod handler;
