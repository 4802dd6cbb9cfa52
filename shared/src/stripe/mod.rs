//! Stripe's protocol, as far as Kiosk speaks it: verifying webhook signatures
//! ([`webhook`]), typing the events the shop acts on ([`event`]), and the Checkout
//! Session request ([`checkout`]). Pure: no I/O, the clock is a parameter. Checked
//! against vectors made with Stripe's own Python library (`shared/tests/data/stripe/`).
//!
//! Not wired into the shop yet: the channel that uses these (sessions, webhooks, the
//! return page, refunds) is the rest of the Stripe work (docs/architecture.md).

pub mod checkout;
pub mod event;
pub mod webhook;
