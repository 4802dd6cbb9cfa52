//! `kiosk resend ORDER_ID | --email ADDRESS`: mail a buyer every link they can still
//! use, now. Unlike the download page's "email me my links", no once-per-10-minutes limit:
//! the author asked.

use anyhow::{Result, anyhow, bail};
use kiosk::author::{AuthorError, ResendTo};
use kiosk::{Email, OrderId};
use time::OffsetDateTime;

use crate::target::Target;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  kiosk --stack shop resend K20261121093015123abc4567def89012\n  kiosk --stack shop resend --email reader@example.com\n  kiosk --stack shop resend K20261121093015123abc4567def89012 --to reader@example.org   # a mistyped address"
)]
pub struct ResendArgs {
    /// The order whose buyer gets their links.
    #[arg(required_unless_present = "email", conflicts_with = "email")]
    pub order_id: Option<String>,
    /// The buyer's address (every purchase made with it).
    #[arg(long)]
    pub email: Option<String>,
    /// The order's address was mistyped: change it to this one (the old one stays in the
    /// order's history, shown by `kiosk orders`) and mail the links there. A bounce or
    /// complaint recorded for the old address does not carry over; give the order's own
    /// address to clear it and try that address again (a full mailbox that is fixed).
    #[arg(long, requires = "order_id", value_name = "ADDRESS")]
    pub to: Option<String>,
}

pub async fn run(t: &Target, a: ResendArgs, now: OffsetDateTime) -> Result<()> {
    if a.to.is_some() && (a.order_id.is_none() || a.email.is_some()) {
        bail!("--to corrects one order's address: give its ORDER_ID (and no --email)");
    }
    let parse = |e: &str| Email::parse(e).map_err(|err| anyhow!("email {e:?}: {err}"));
    let to = match (&a.order_id, &a.email) {
        (Some(id), None) if a.to.is_some() => ResendTo::CorrectedOrder(
            OrderId::parse(id).map_err(|e| anyhow!("order id {id:?}: {e}"))?,
            parse(a.to.as_deref().unwrap_or_default())?,
        ),
        (_, Some(e)) => {
            ResendTo::Address(Email::parse(e).map_err(|err| anyhow!("email {e:?}: {err}"))?)
        }
        (Some(id), None) => {
            ResendTo::Order(OrderId::parse(id).map_err(|e| anyhow!("order id {id:?}: {e}"))?)
        }
        (None, None) => bail!("give an ORDER_ID or --email ADDRESS"),
    };
    // SES keeps its own account-level list of addresses that bounced or complained and
    // silently drops mail to them; the author vouches for this address, so take it off
    // that list first (SES v2 DeleteSuppressedDestination), or say plainly that we could
    // not.
    if let ResendTo::CorrectedOrder(_, address) = &to {
        match unsuppress(&t.sdk, address).await {
            Unsuppressed::Removed => {
                println!("removed {address} from SES's account-level suppression list");
            }
            Unsuppressed::NotListed => {}
            Unsuppressed::Failed(why) => eprintln!(
                "warning: could not remove {address} from SES's account-level suppression \
                 list ({why}); if it is listed, SES drops this mail. Remove it in the SES \
                 console (Configuration > Suppression list) or with `aws sesv2 \
                 delete-suppressed-destination --email-address {address}`, then run this \
                 again"
            ),
        }
    }
    match t.author()?.resend_links(to, now).await {
        Ok((email, 0)) => bail!(
            "{email} has no usable download links (none paid, or all used up, expired or refunded)"
        ),
        Ok((email, n)) => {
            println!("mailed {email} {n} usable link(s)");
            Ok(())
        }
        Err(AuthorError::Missing(m)) => Err(crate::target::explain(m)),
        Err(e) => Err(anyhow!(kiosk::error_chain(&e))),
    }
}

/// What asking SES to forget a suppressed address did.
#[derive(Debug, PartialEq, Eq)]
pub enum Unsuppressed {
    /// It was on the account's suppression list, and is no longer.
    Removed,
    /// It was not on the list (SES answers NotFoundException).
    NotListed,
    /// SES refused or could not be reached: why, as SES said it.
    Failed(String),
}

/// Take `address` off the SES account-level suppression list (SES v2
/// `DeleteSuppressedDestination`; the CLI's policy allows it: README, "The `kiosk`
/// command line's permissions").
pub async fn unsuppress(sdk: &aws_config::SdkConfig, address: &Email) -> Unsuppressed {
    let client = aws_sdk_sesv2::Client::new(sdk);
    match client
        .delete_suppressed_destination()
        .email_address(address.as_str())
        .send()
        .await
    {
        Ok(_) => Unsuppressed::Removed,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_not_found_exception()) =>
        {
            Unsuppressed::NotListed
        }
        Err(e) => Unsuppressed::Failed(kiosk::error_chain(&e)),
    }
}
