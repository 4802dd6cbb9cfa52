//! `kiosk refund ORDER_ID [--amount A] [--reason R] [--dry-run]`: give a buyer their
//! money back through the payment channel and apply the refund rule (docs/architecture.md,
//! "Refunds"): all of it revokes every download link of the purchase, part of it is
//! recorded and keeps access.
//!
//! Safe to run again: the library writes the request on the order before asking the
//! provider and reuses it until it is settled ([`kiosk::refund`]), so a rerun after a
//! crash, a lost answer or a provider error never refunds twice. A run that stopped after
//! it had recorded everything leaves nothing in progress; its rerun (the same `--amount`
//! within a day of the last refund) is recognised and asks nothing. A second refund of
//! the same amount within that day takes `--again`.

use anyhow::{Result, anyhow};
use kiosk::OrderId;
use kiosk::order::RefundOutcome;
use kiosk::order::SettledRefund;
use kiosk::refund::{RefundAsk, RefundError, RefundPreview};
use time::OffsetDateTime;

use crate::target::Target;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  kiosk --stack shop refund K20261121093015123abc4567def89012 --dry-run\n  kiosk --stack shop refund K20261121093015123abc4567def89012 --reason \"asked by the buyer\"\n  kiosk --stack shop refund K20261121093015123abc4567def89012 --amount 3.00\n  kiosk --stack shop refund K20261121093015123abc4567def89012 --amount 3.00 --again"
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
    /// Another refund of the same amount as the last one. Without it, asking for the
    /// amount of a refund made within the last 24 hours is taken for a rerun of that
    /// command (say, after it stopped without saying "refunded") and asks nothing.
    #[arg(long)]
    pub again: bool,
    /// Say what would happen; refund nothing, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(t: &Target, a: RefundArgs, now: OffsetDateTime) -> Result<()> {
    let id = OrderId::parse(&a.order_id).map_err(|e| anyhow!("order id {:?}: {e}", a.order_id))?;
    let fail = |e: RefundError| anyhow!(kiosk::error_chain(&e));
    let ask = RefundAsk {
        amount: a.amount.as_deref(),
        reason: a.reason.as_deref(),
        again: a.again,
    };
    if a.dry_run {
        let preview = t
            .author()?
            .preview_refund(&id, ask, now)
            .await
            .map_err(fail)?;
        print_preview(&preview);
        return Ok(());
    }
    let done = kiosk::refund::Refunds::new(t.shop().await?)
        .refund_order(&id, ask, now)
        .await
        .map_err(fail)?;
    if let Some(earlier) = &done.earlier {
        print_earlier(&id, earlier, "nothing was asked");
        return Ok(());
    }
    let Some(plan) = &done.plan else {
        println!(
            "order {id} is already refunded ({}); nothing to do",
            done.total
        );
        return Ok(());
    };
    if plan.resumed {
        println!(
            "finished refund {} left by an earlier run (the provider was not asked twice)",
            plan.request.request_no
        );
    }
    match done.outcome {
        RefundOutcome::Full { .. } => println!(
            "refunded {} for order {id}; the order is refunded and its {} download link(s) no longer work",
            done.total, done.links
        ),
        RefundOutcome::Partial(_) => println!(
            "refunded {} for order {id} ({} of {} in all); the buyer keeps access",
            plan.request.amount, done.total, done.amount
        ),
        RefundOutcome::Already => {
            println!(
                "order {id}: {} was refunded already; nothing more changed",
                done.total
            )
        }
    }
    Ok(())
}

/// A run taken for a rerun of the last refund: what that one was, and how to ask for
/// another.
fn print_earlier(id: &OrderId, earlier: &SettledRefund, what: &str) {
    let at = earlier
        .at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    println!(
        "order {id}: refund {} of {} was made at {at}; this looks like a rerun of that command, so {what}. To refund another {}, add --again",
        earlier.request.request_no,
        earlier.request.amount,
        earlier.request.amount.to_decimal()
    );
}

fn print_preview(p: &RefundPreview) {
    let order = &p.order;
    let id = &order.id;
    if let Some(earlier) = &p.earlier {
        print_earlier(id, earlier, "nothing would be asked");
        return;
    }
    let Some(plan) = &p.plan else {
        println!(
            "order {id} is already refunded ({}); nothing to do",
            order.amount
        );
        return;
    };
    if plan.resumed {
        println!(
            "an earlier run asked for refund {} of {}; it would be finished (not asked again)",
            plan.request.request_no, plan.request.amount
        );
    }
    println!(
        "would refund {} of {} for order {id} ({}) through {}",
        plan.request.amount,
        order.amount,
        order.email,
        order.channel.as_str()
    );
    if plan.full {
        println!(
            "the order would be refunded and its {} download link(s) stop working",
            order.all_grants().len()
        );
    } else {
        println!(
            "a partial refund: {} refunded in all, the buyer keeps access",
            plan.total_after
        );
    }
}
