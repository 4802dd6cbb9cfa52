//! Stripe's protocol, as far as Kiosk speaks it: verifying webhook signatures
//! ([`webhook`]), typing the events the shop acts on ([`event`]), and the Checkout
//! Session request ([`checkout`]). Pure: no I/O, the clock is a parameter. Checked
//! against vectors made with Stripe's own Python library (`shared/tests/data/stripe/`).
//!
//! The channel over them (sessions, webhooks, the return page, queries, refunds) is
//! [`crate::channel::stripe`].

pub mod checkout;
pub mod event;
pub mod webhook;
