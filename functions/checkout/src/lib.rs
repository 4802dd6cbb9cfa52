//! `POST /checkout` (DESIGN §2, Buy). The Lambda binary in `main.rs` and the devstack both
//! call [`handler::handle`].

pub mod handler;
