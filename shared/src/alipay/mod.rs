//! Alipay's RSA2 protocol primitives (docs/architecture.md, "Alipay (RSA2), as
//! implemented"): keys, the two string-to-sign rules, signing and verification with
//! aws-lc-rs, the final query string, and the signed `*_response` slice of gateway
//! replies.
//!
//! Nothing here does I/O; the channel (next layer up) sends requests and applies business
//! checks. Verification always returns `Result`, never `bool`.

mod keys;
mod params;
mod response;

pub use keys::{AlipayPublicKey, AppPrivateKey, KeyError};
pub use params::{
    FormError, Params, VerifyError, parse_form, query_string, sign_request,
    string_to_sign_callback, string_to_sign_request, verify_callback,
};
pub use response::{ResponseError, SignedResponse, find_signed_response, verify_response};
