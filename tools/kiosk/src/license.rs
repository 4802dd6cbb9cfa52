//! `kiosk license`: the shop's license signing key (docs/license-format.md). `keygen`
//! makes an Ed25519 key and stores it as an SSM SecureString at the stack's
//! `LicenseKeyParam`, where the functions read it at cold start; `public-key` prints the
//! public half again, which an author builds into their program.

use anyhow::{Result, anyhow, bail};
use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::ParameterType;
use kiosk::license::LicenseSigner;

use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum LicenseCommand {
    /// Make the shop's signing key (once), store it in SSM as a SecureString and print
    /// its public key. Refuses to replace an existing key: every signed license issued
    /// so far would stop verifying.
    #[command(
        after_help = "Examples:\n  kiosk --stack shop license keygen\n  kiosk --stack shop license keygen --replace   (licenses issued so far stop verifying against the new key)"
    )]
    Keygen {
        /// Replace an existing key (licenses signed with it no longer verify against the
        /// new public key; programs that ship the old one keep accepting them).
        #[arg(long)]
        replace: bool,
    },
    /// Print the public key of the shop's signing key.
    #[command(after_help = "Example:\n  kiosk --stack shop license public-key")]
    PublicKey,
}

pub async fn run(t: &Target, cmd: LicenseCommand) -> Result<()> {
    let param = t.license_key_param.as_deref().ok_or_else(|| {
        anyhow!(
            "no license key parameter: name the shop with --stack NAME (its LicenseKeyParam output) or --local, or pass --license-key-param"
        )
    })?;
    let ssm = aws_sdk_ssm::Client::new(&t.sdk);
    match cmd {
        LicenseCommand::Keygen { replace } => {
            let key = LicenseSigner::generate().map_err(|e| anyhow!("{e}"))?;
            let signer = LicenseSigner::parse(&key).map_err(|e| anyhow!("{e}"))?;
            let put = ssm
                .put_parameter()
                .name(param)
                .value(key)
                .r#type(ParameterType::SecureString)
                .description("Kiosk license signing key (Ed25519, PKCS#8, base64)")
                .overwrite(replace)
                .send()
                .await;
            match put {
                Ok(_) => {}
                Err(e) if e.code() == Some("ParameterAlreadyExists") => bail!(
                    "{param} already holds a signing key: licenses signed with it verify only \
                     against its public key (`kiosk license public-key`); pass --replace to make \
                     a new one anyway"
                ),
                Err(e) => bail!(
                    "could not store {param}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(e)
                ),
            }
            println!("stored a new license signing key in {param} (SecureString)");
            println!("public key: {}", signer.public_key());
            println!(
                "Build the public key into your program (docs/license-format.md). The functions read the key at their next cold start."
            );
        }
        LicenseCommand::PublicKey => {
            let out = ssm
                .get_parameter()
                .name(param)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| match e.code() {
                    Some("ParameterNotFound") => {
                        anyhow!("{param} holds no key yet: run `kiosk license keygen`")
                    }
                    _ => anyhow!(
                        "could not read {param}: {}",
                        aws_sdk_ssm::error::DisplayErrorContext(e)
                    ),
                })?;
            let value = out
                .parameter()
                .and_then(|p| p.value())
                .ok_or_else(|| anyhow!("{param} has no value"))?;
            let signer = LicenseSigner::parse(value).map_err(|e| anyhow!("{param}: {e}"))?;
            println!("{}", signer.public_key());
        }
    }
    Ok(())
}
