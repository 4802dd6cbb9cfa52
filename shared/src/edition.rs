//! New editions of a product and the mail-out that tells every buyer (`kiosk update`).
//!
//! Each (edition, order) pair gets one record in the table, written with a condition
//! before the mail is sent and marked sent after, so a mail-out that stops halfway can be
//! run again: whoever was mailed is skipped, whoever was not is mailed. Who gets a mail is
//! decided here, once, by [`plan`], for both the real run and `--dry-run`.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::email::Email;
use crate::ids::{DownloadToken, OrderId};
use crate::order::{Order, OrderStatus};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditionMailState {
    /// Claimed (grant created, order pointed at it) and handed to SES, or about to be.
    /// A run that stopped here is finished by the next run, with the same link.
    Sending,
    Sent {
        at: OffsetDateTime,
    },
    /// SES refused it; the next run tries again with the same link.
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionMail {
    pub order_id: OrderId,
    pub email: Email,
    pub grant_token: DownloadToken,
    pub state: EditionMailState,
}

/// What a mail-out will do for each buyer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Paid orders to mail now, oldest payment first. Some may already have a record
    /// (a previous run stopped mid-send or SES refused): they reuse its link.
    pub to_mail: Vec<Order>,
    /// Already mailed about this edition by an earlier run.
    pub already_sent: Vec<OrderId>,
    /// Bought this very edition: their purchase mail already had it.
    pub bought_it: Vec<OrderId>,
    /// Their address bounced for good or complained ([`crate::mail_events`]): not
    /// mailed, and no new link is made for them (`kiosk resend --to` mails their
    /// links once the address is corrected).
    pub blocked: Vec<OrderId>,
}

/// Decide who gets mail about `edition`. `buyers` are the product's orders (only paid
/// ones are considered: pending, expired and refunded orders never get mail); `records`
/// are the edition's existing mail records by order.
pub fn plan(
    buyers: Vec<Order>,
    records: &HashMap<OrderId, EditionMail>,
    edition: &crate::product::Edition,
) -> Plan {
    let mut plan = Plan::default();
    for order in buyers {
        if order.status() != OrderStatus::Paid {
            continue;
        }
        match records.get(&order.id).map(|r| &r.state) {
            Some(EditionMailState::Sent { .. }) => plan.already_sent.push(order.id),
            _ if order.edition == *edition => plan.bought_it.push(order.id),
            _ if order.mail_block.is_some() => plan.blocked.push(order.id),
            _ => plan.to_mail.push(order),
        }
    }
    plan
}

/// The label for a new edition when the author gives none: the date, with `-2`, `-3`...
/// when that is already the current edition's label (two updates on one day).
pub fn next_label(current: &str, today: time::Date) -> String {
    let date = format!(
        "{:04}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    if current != date && !current.starts_with(&format!("{date}-")) {
        return date;
    }
    let n = current
        .strip_prefix(&format!("{date}-"))
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1);
    format!("{date}-{}", n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{ChannelKind, Payment, Source};
    use crate::product::{FileRef, Product};
    use crate::{Currency, Money, ProductId};
    use time::macros::{date, datetime};

    #[test]
    fn labels_are_dates_and_count_up_within_a_day() {
        let d = date!(2026 - 11 - 21);
        assert_eq!(next_label("v1", d), "2026-11-21");
        assert_eq!(next_label("2026-11-20", d), "2026-11-21");
        assert_eq!(next_label("2026-11-21", d), "2026-11-21-2");
        assert_eq!(next_label("2026-11-21-2", d), "2026-11-21-3");
    }

    fn order(id: &str, edition: &str, paid: bool) -> Order {
        let product = Product::new(
            ProductId::parse("book").unwrap(),
            "Book",
            Money::parse_decimal("9.00", Currency::Cny).unwrap(),
            crate::product::Edition::parse(edition).expect("valid product"),
            crate::product::FileSet::one(FileRef {
                key: "k".into(),
                name: "b.pdf".into(),
                content_type: "application/pdf".into(),
                sha256: None,
                size: None,
            }),
            5,
        )
        .expect("valid product");
        let now = datetime!(2026-11-21 10:00 UTC);
        let o = Order::new_pending(
            OrderId::parse(id).unwrap(),
            &product,
            Email::parse("a@example.com").unwrap(),
            ChannelKind::Alipay,
            Source::default(),
            now,
            time::Duration::minutes(30),
        );
        if !paid {
            return o;
        }
        let payment = Payment {
            provider_txn_id: format!("T{id}"),
            amount: o.amount,
        };
        match o
            .pay(&payment, DownloadToken::generate().unwrap(), now)
            .unwrap()
        {
            crate::order::PayOutcome::Paid(p) => *p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plan_mails_paid_buyers_once_and_skips_the_rest() {
        let buyers = vec![
            order("K1", "v1", true),
            order("K2", "v1", true),
            order("K3", "v1", false),
            order("K4", "v2", true),
            order("K5", "v1", true),
        ];
        let rec = |id: &str, state| EditionMail {
            order_id: OrderId::parse(id).unwrap(),
            email: Email::parse("a@example.com").unwrap(),
            grant_token: DownloadToken::generate().unwrap(),
            state,
        };
        let records = HashMap::from([
            (
                OrderId::parse("K1").unwrap(),
                rec(
                    "K1",
                    EditionMailState::Sent {
                        at: datetime!(2026-11-21 10:00 UTC),
                    },
                ),
            ),
            (
                OrderId::parse("K5").unwrap(),
                rec("K5", EditionMailState::Sending),
            ),
        ]);
        let p = plan(
            buyers,
            &records,
            &crate::product::Edition::parse("v2").unwrap(),
        );
        let ids: Vec<&str> = p.to_mail.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["K2", "K5"]);
        assert_eq!(p.already_sent, [OrderId::parse("K1").unwrap()]);
        assert_eq!(p.bought_it, [OrderId::parse("K4").unwrap()]);
    }
}
