//! `kiosk refund ORDER_ID [--amount A] [--reason R] [--dry-run]`: give a buyer their
//! money back through the payment channel and apply the refund rule (docs/architecture.md,
//! "Refunds"): all of it revokes every download link of the purchase, part of it is
//! recorded and keeps access.
//!
//! Safe to run again: the refund's request number is derived from the order and the
//! total it brings the refunds to, so a rerun after a crash or a lost reply asks the
//! channel for the same refund, which refunds nothing more, and the rule is applied
//! from the total the channel reports.

use anyhow::{Result, anyhow, bail};
use kiosk::channel::Channel;
use kiosk::order::RefundOutcome;
use kiosk::{Money, OrderId, OrderStatus};
use time::OffsetDateTime;

use crate::target::Target;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  kiosk --stack shop refund K20261121093015123abc4567def89012 --dry-run\n  kiosk --stack shop refund K20261121093015123abc4567def89012 --reason \"asked by the buyer\"\n  kiosk --stack shop refund K20261121093015123abc4567def89012 --amount 3.00"
)]
pub struct RefundArgs {
    /// The paid order to refund.
    pub order_id: String,
    /// How much to give back, in the order's currency (e.g. 3.00); all that is left by
    /// default. Less than all keeps the buyer's access.
    #[arg(long)]
    pub amount: Option<String>,
    /// Why, as the buyer sees it at the payment provider.
    #[arg(long)]
    pub reason: Option<String>,
    /// Say what would happen; refund nothing, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The refund's request number: the order and the total it brings refunds to.
pub fn request_no(order: &OrderId, total_after: Money) -> String {
    format!("{order}R{}", total_after.minor())
}

pub async fn run(t: &Target, a: RefundArgs, now: OffsetDateTime) -> Result<()> {
    let id = OrderId::parse(&a.order_id).map_err(|e| anyhow!("order id {:?}: {e}", a.order_id))?;
    let store = crate::products::store(t)?;
    let order = store
        .get_order(&id)
        .await?
        .ok_or_else(|| anyhow!("no order {id}"))?;
    match order.status {
        OrderStatus::Paid => {}
        OrderStatus::Refunded => {
            println!(
                "order {id} is already refunded ({}); nothing to do",
                order.amount
            );
            return Ok(());
        }
        other => bail!(
            "order {id} is {}, so there is nothing to refund",
            other.as_str().to_ascii_lowercase()
        ),
    }
    let already = order.refunded.map_or(0, |m| m.minor());
    let left = order.amount.minor() - already;
    let amount = match &a.amount {
        Some(s) => Money::parse_decimal(s, order.amount.currency())
            .map_err(|e| anyhow!("amount {s:?}: {e} (write it like 3.00)"))?,
        None => Money::from_minor(left, order.amount.currency())?,
    };
    if amount.minor() == 0 || amount.minor() > left {
        bail!(
            "amount {amount}: between 0.01 and what is left to refund ({})",
            Money::from_minor(left, order.amount.currency())?
        );
    }
    let total_after = Money::from_minor(already + amount.minor(), order.amount.currency())?;
    let full = total_after == order.amount;
    let links = order.all_grants().len();
    if a.dry_run {
        println!(
            "would refund {amount} of {} for order {id} ({}) through {}",
            order.amount,
            order.email,
            order.channel.as_str()
        );
        if full {
            println!("the order would be refunded and its {links} download link(s) stop working");
        } else {
            println!("a partial refund: {total_after} refunded in all, the buyer keeps access");
        }
        return Ok(());
    }

    let shop = t.shop().await?;
    let channel = shop.channel_for(&order).ok_or_else(|| {
        anyhow!(
            "order {id} was paid through {}, and no settings for it are known (--stack, --local or --{}-* flags)",
            order.channel.as_str(),
            order.channel.as_str()
        )
    })?;
    let total = channel
        .refund(
            &order,
            amount,
            &request_no(&id, total_after),
            a.reason.as_deref(),
            now,
        )
        .await
        .map_err(|e| anyhow!("{} refused the refund: {e}", order.channel.as_str()))?;
    let outcome = order.record_refund(total, now).map_err(|e| {
        anyhow!("the provider reports {total} refunded, which does not fit the order: {e}")
    })?;
    store.apply_refund(&outcome, now).await?;
    match outcome {
        RefundOutcome::Full(_) => println!(
            "refunded {total} for order {id}; the order is refunded and its {links} download link(s) no longer work"
        ),
        RefundOutcome::Partial(_) => println!(
            "refunded {amount} for order {id} ({total} of {} in all); the buyer keeps access",
            order.amount
        ),
        RefundOutcome::Already => {
            println!("order {id}: {total} was refunded already; nothing changed")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_name_the_order_and_the_total_after() {
        let id = OrderId::parse("K20261121093015123abc4567def89012").unwrap();
        let total = Money::parse_decimal("9.00", kiosk::Currency::Cny).unwrap();
        let r = request_no(&id, total);
        assert_eq!(r, "K20261121093015123abc4567def89012R900");
        assert!(
            r.len() <= 64,
            "Alipay's out_request_no is at most 64 characters"
        );
    }
}
