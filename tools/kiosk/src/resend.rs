//! `kiosk resend ORDER_ID | --email ADDRESS`: mail a buyer every link they can still
//! use, now. Unlike the download page's "email me my links", no once-per-10-minutes limit:
//! the author asked.

use anyhow::{Result, anyhow, bail};
use kiosk::downloads::{Downloads, SendLinksError};
use kiosk::{Email, OrderId, OrderStatus};
use time::OffsetDateTime;

use crate::products::store;
use crate::target::Target;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  kiosk --stack shop resend K20261121093015123abc4567def89012\n  kiosk --stack shop resend --email reader@example.com"
)]
pub struct ResendArgs {
    /// The order whose buyer gets their links.
    #[arg(required_unless_present = "email", conflicts_with = "email")]
    pub order_id: Option<String>,
    /// The buyer's address (every purchase made with it).
    #[arg(long)]
    pub email: Option<String>,
}

pub async fn run(t: &Target, a: ResendArgs, now: OffsetDateTime) -> Result<()> {
    let store = store(t)?;
    let email = match (&a.order_id, &a.email) {
        (_, Some(e)) => Email::parse(e).map_err(|err| anyhow!("email {e:?}: {err}"))?,
        (Some(id), None) => {
            let id = OrderId::parse(id).map_err(|e| anyhow!("order id {id:?}: {e}"))?;
            let order = store
                .get_order(&id)
                .await?
                .ok_or_else(|| anyhow!("no order {id}"))?;
            if order.status != OrderStatus::Paid {
                bail!(
                    "order {id} is {}, so it has no links to send",
                    order.status.as_str().to_ascii_lowercase()
                );
            }
            order.email
        }
        (None, None) => bail!("give an ORDER_ID or --email ADDRESS"),
    };
    let downloads = Downloads::from_sdk(&t.sdk, t.config()?);
    match downloads.send_links(&email, now).await {
        Ok(0) => bail!(
            "{email} has no usable download links (none paid, or all used up, expired or refunded)"
        ),
        Ok(n) => {
            println!("mailed {email} {n} usable link(s)");
            Ok(())
        }
        Err(SendLinksError::Mail(e)) => Err(anyhow!("SES did not send the mail: {}", e.reason())),
        Err(SendLinksError::Store(e)) => Err(e.into()),
    }
}
