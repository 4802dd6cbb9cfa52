//! Every end-to-end test of the shop in one test binary (one link of the SDK and the
//! devstack), a module per area. Run one area with a filter, e.g.
//! `cargo test -p kiosk-e2e --test e2e store::` (the emulator tests through
//! `scripts/with-emulator.sh`; `fuzz::` needs none).

mod bootstraps;
mod buy_flow;
mod devstack;
mod domain;
mod download;
mod events;
mod files;
mod funnel;
mod fuzz;
mod languages;
mod licenses;
mod mail_events;
mod open_shop;
mod pricing;
mod reconcile;
mod refunds;
mod soak;
mod store;
mod stripe;
mod wechat;
