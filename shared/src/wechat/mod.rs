//! WeChat Pay's API v3 protocol, as far as Kiosk speaks it (a direct merchant, Native
//! and H5 pay): signing our requests (`WECHATPAY2-SHA256-RSA2048`, [`sign`]), verifying
//! WeChat Pay's answers and notifications against its public key and the 5-minute
//! window, decrypting a notification's resource (`AEAD_AES_256_GCM` under the APIv3 key,
//! [`resource`]), and the wire formats as typed structs ([`wire`]). Pure: no I/O, the
//! clock and the nonce are parameters. Checked against vectors made with `wechatpayv3`
//! (`shared/tests/data/wechat/`).

pub mod resource;
pub mod sign;
pub mod wire;

pub use resource::{ApiV3Key, ApiV3KeyError, DecryptError};
pub use sign::{
    Merchant, PlatformKey, SignedHeaders, TOLERANCE_SECONDS, VerifyError, nonce, verify,
};
