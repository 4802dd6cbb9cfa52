//! `POST /notify/{channel}` (the provider's asynchronous notification, the one source of
//! truth) and `GET /return/{channel}` (the buyer's browser coming back). The Lambda binary
//! and the devstack both call [`handler::handle`].

pub mod handler;
