//! `POST /checkout` (docs/architecture.md, Flows: Buy). The Lambda binary in `main.rs` and
//! the devstack both call [`handler::handle`].

pub mod handler;
