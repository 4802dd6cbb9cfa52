//! Local test keys, generated on first run into a git-ignored folder: an "app" key pair
//! (our requests, verified by the sandbox) and an "Alipay" key pair (the sandbox's
//! notifications and responses), and the same two for WeChat Pay ("merchant",
//! "wechatpay"). Never committed, never used outside this machine.

use std::path::Path;

use anyhow::{Context, Result};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub struct LocalKeys {
    pub app_private_pem: String,
    pub app_public_pem: String,
    pub alipay_private_pem: String,
    pub alipay_public_pem: String,
    pub merchant_private_pem: String,
    pub merchant_public_pem: String,
    pub wechatpay_private_pem: String,
    pub wechatpay_public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn generate() -> Result<(String, String)> {
    let pair = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let private = pair
        .as_der()
        .map_err(|_| anyhow::anyhow!("encoding the private key failed"))?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| anyhow::anyhow!("encoding the public key failed"))?;
    Ok((
        pem("PRIVATE KEY", private.as_ref()),
        pem("PUBLIC KEY", public.as_ref()),
    ))
}

fn load_or_make(dir: &Path, name: &str) -> Result<(String, String)> {
    let (private_path, public_path) = (
        dir.join(format!("{name}_private.pem")),
        dir.join(format!("{name}_public.pem")),
    );
    if private_path.exists() && public_path.exists() {
        return Ok((
            std::fs::read_to_string(&private_path)?,
            std::fs::read_to_string(&public_path)?,
        ));
    }
    let (private, public) = generate()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&private_path, &private)?;
    std::fs::write(&public_path, &public)?;
    Ok((private, public))
}

pub fn load_or_generate(dir: &Path) -> Result<LocalKeys> {
    let (app_private_pem, app_public_pem) = load_or_make(dir, "app")?;
    let (alipay_private_pem, alipay_public_pem) = load_or_make(dir, "alipay")?;
    let (merchant_private_pem, merchant_public_pem) = load_or_make(dir, "merchant")?;
    let (wechatpay_private_pem, wechatpay_public_pem) = load_or_make(dir, "wechatpay")?;
    Ok(LocalKeys {
        app_private_pem,
        app_public_pem,
        alipay_private_pem,
        alipay_public_pem,
        merchant_private_pem,
        merchant_public_pem,
        wechatpay_private_pem,
        wechatpay_public_pem,
    })
}
