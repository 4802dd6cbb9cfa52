//! What an order costs: the product's list price, the amount a buyer chose (pay what
//! you want) or the price a discount code makes, decided here on the server and never
//! taken from the author's page (docs/architecture.md, "Pricing").
//!
//! Rules, as the README states them to authors:
//! - A pay-what-you-want product has a minimum (may be 0), a suggested price (its list
//!   price, filled into the buyer's field) and a cap (default 100 × the suggested price,
//!   so a typo cannot charge 9,000). The buyer's amount is parsed strictly
//!   ([`Money::parse_amount`]).
//! - A code takes a percentage or a fixed amount off the list price. A percentage is
//!   rounded half up to the currency's minor unit (20% off 9.99 is 7.99: 9.99 × 0.8 =
//!   7.992). The result never goes below the channel's smallest charge (it is raised to
//!   it), except that a price of exactly 0 (100% off) is the free path.
//! - Codes do not combine with pay what you want: a buyer who names their own price
//!   already chose what to pay.

use std::fmt;

use time::OffsetDateTime;

use crate::ids::ProductId;
use crate::money::{Money, MoneyError};
use crate::product::Product;

/// A discount code's name as stored and compared: 1 to 32 ASCII letters, digits, `-` and
/// `_`, uppercased, so `launch` and `LAUNCH` are one code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeName(String);

impl CodeName {
    /// The longest name, in characters.
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Option<CodeName> {
        let ok = (1..=Self::MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| CodeName(raw.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a buyer typed, as far as it can be a name: trimmed and cut to
    /// [`Self::MAX_LEN`] characters (shown back on the buy page, never parsed).
    pub fn as_typed(raw: &str) -> String {
        raw.trim().chars().take(Self::MAX_LEN).collect()
    }

    /// A code no one can guess (`kiosk code add --random`): 16 characters of a
    /// 32-letter alphabet without look-alikes (no I, O, 0, 1), 80 random bits from the
    /// OS. `None` only if the OS has no randomness.
    pub fn random() -> Option<CodeName> {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).ok()?;
        // 256 is a multiple of 32, so each byte's low five bits are uniform.
        let name: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
            .collect();
        Some(CodeName(name))
    }

    /// Bits of randomness a [`CodeName::random`] name carries.
    pub const RANDOM_BITS: u32 = 16 * 5;
}

impl fmt::Display for CodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a code takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// 1 to 100 percent of the list price.
    Percent(u8),
    /// A fixed amount, in the product's currency (a code for another currency does not
    /// apply).
    Off(Money),
}

impl fmt::Display for Discount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discount::Percent(p) => write!(f, "{p}% off"),
            Discount::Off(m) => write!(f, "{m} off"),
        }
    }
}

/// A discount code as the author made it and as it stands: valid by construction
/// ([`Code::new`] enforces the rules; the store reads back only what it wrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    name: CodeName,
    discount: Discount,
    /// The products it applies to; empty: every product.
    products: Vec<ProductId>,
    /// How many orders may use it; `None`: no limit.
    max_uses: Option<u32>,
    /// Uses reserved: one per order written with it, given back when that order expires
    /// unpaid, kept when it is refunded.
    uses: u32,
    /// It works until this moment (`--expires 2026-12-31`: the end of that day, UTC).
    expires_at: Option<OffsetDateTime>,
    disabled: bool,
    created_at: OffsetDateTime,
}

/// What the author asks for (`kiosk code add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    pub name: CodeName,
    pub discount: Discount,
    /// Empty: every product.
    pub products: Vec<ProductId>,
    pub max_uses: Option<u32>,
    pub expires_at: Option<OffsetDateTime>,
}

/// Why a code cannot be made, in the author's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("--percent {0}: give 1 to 100")]
    Percent(u8),
    #[error("--off: give an amount above zero")]
    ZeroOff,
    #[error("--max-uses 0: a code nobody can use; give 1 or more")]
    NoUses,
    #[error("--expires is in the past")]
    Expired,
}

impl Code {
    /// A new code, unused and enabled, made `now`: a percentage of 1 to 100, an amount
    /// off above zero, at least one use, an end in the future.
    pub fn new(spec: NewCode, now: OffsetDateTime) -> Result<Code, CodeError> {
        match spec.discount {
            Discount::Percent(p) if !(1..=100).contains(&p) => return Err(CodeError::Percent(p)),
            Discount::Off(m) if m.is_zero() => return Err(CodeError::ZeroOff),
            _ => {}
        }
        if spec.max_uses == Some(0) {
            return Err(CodeError::NoUses);
        }
        if spec.expires_at.is_some_and(|e| e <= now) {
            return Err(CodeError::Expired);
        }
        Ok(Code {
            name: spec.name,
            discount: spec.discount,
            products: spec.products,
            max_uses: spec.max_uses,
            uses: 0,
            expires_at: spec.expires_at,
            disabled: false,
            created_at: now,
        })
    }

    /// A code as the store holds it: what the author asked for (its rules were checked
    /// when it was made) and where it stands.
    pub(crate) fn stored(
        spec: NewCode,
        uses: u32,
        disabled: bool,
        created_at: OffsetDateTime,
    ) -> Code {
        Code {
            name: spec.name,
            discount: spec.discount,
            products: spec.products,
            max_uses: spec.max_uses,
            uses,
            expires_at: spec.expires_at,
            disabled,
            created_at,
        }
    }

    pub fn name(&self) -> &CodeName {
        &self.name
    }
    pub fn discount(&self) -> Discount {
        self.discount
    }
    /// The products it applies to; empty: every product.
    pub fn products(&self) -> &[ProductId] {
        &self.products
    }
    pub fn max_uses(&self) -> Option<u32> {
        self.max_uses
    }
    pub fn uses(&self) -> u32 {
        self.uses
    }
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }
    pub fn disabled(&self) -> bool {
        self.disabled
    }
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// Whether it names `product` (or every product).
    pub fn covers(&self, product: &ProductId) -> bool {
        self.products.is_empty() || self.products.contains(product)
    }
}

/// Whether `product` takes a discount code: never one priced 0 (already free) or one
/// whose buyer names the price (pay what you want). The buy page offers a code field
/// only where this says so, and checkout refuses a code elsewhere before any lookup.
pub fn offers_codes(product: &Product) -> Result<(), PriceError> {
    if product.pay_what_you_want().is_some() {
        return Err(PriceError::CodeWithPayWhatYouWant);
    }
    if product.price().is_zero() {
        return Err(PriceError::CodeOnFreeProduct);
    }
    Ok(())
}

/// Whether a request naming a code may use one on `product`: the product must offer
/// codes ([`offers_codes`]) and the buyer must not have named an amount too. Checked
/// before any lookup, by [`quote`] and by checkout alike.
pub fn code_request(product: &Product, chosen: Option<&str>) -> Result<(), PriceError> {
    offers_codes(product)?;
    if chosen.is_some() {
        return Err(PriceError::FixedPrice {
            price: product.price(),
        });
    }
    Ok(())
}

/// Why a price could not be made; each says what the buyer can do, and none reveals
/// anything about codes other than the one typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error("{input:?} is not an amount; pay at least {min} (write it like {})", min.currency().example())]
    AmountFormat { input: String, min: Money },
    #[error("the amount must be at least {min}")]
    BelowMinimum { min: Money },
    #[error("the amount must be at most {max}")]
    AboveMaximum { max: Money },
    #[error("this product has a fixed price of {price}; it takes no amount")]
    FixedPrice { price: Money },
    /// As typed (at most 32 characters), since it may not even be a code's name.
    #[error("there is no discount code {0}")]
    UnknownCode(String),
    #[error("the discount code {0} has expired")]
    ExpiredCode(CodeName),
    #[error("the discount code {0} has been used up")]
    UsedUpCode(CodeName),
    #[error("the discount code {0} is no longer valid")]
    DisabledCode(CodeName),
    #[error("the discount code {0} is not for this product")]
    NotForProduct(CodeName),
    #[error("discount codes do not apply to pay-what-you-want products")]
    CodeWithPayWhatYouWant,
    #[error("this product is free; it needs no discount code")]
    CodeOnFreeProduct,
}

impl PriceError {
    /// A code that does not exist, is disabled, has expired or is another product's:
    /// the buyer gets one answer for all of them (and the code is not echoed), so no
    /// one can learn which names are codes by trying them.
    pub fn hides_code(&self) -> bool {
        matches!(
            self,
            PriceError::UnknownCode(_)
                | PriceError::ExpiredCode(_)
                | PriceError::DisabledCode(_)
                | PriceError::NotForProduct(_)
        )
    }

    /// A code lookup that found no usable code: counted against the network's small
    /// allowance of failed lookups ([`crate::net::NetworkCounter::CodeMiss`]).
    pub fn is_code_miss(&self) -> bool {
        self.hides_code() || matches!(self, PriceError::UsedUpCode(_))
    }
}

/// What an order will cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The product's price when the order was made (the suggested price, for pay what
    /// you want).
    pub list: Money,
    /// What the buyer pays: the provider is held to exactly this.
    pub amount: Money,
    /// The code that made the price, if any.
    pub code: Option<CodeName>,
}

impl Quote {
    pub fn is_free(&self) -> bool {
        self.amount.is_zero()
    }
}

pub use crate::product::{DEFAULT_CAP_FACTOR, PayWhatYouWant};

impl Code {
    /// Whether the code can be used at `now`, and if not, why.
    pub fn check(&self, now: OffsetDateTime) -> Result<(), PriceError> {
        if self.disabled {
            return Err(PriceError::DisabledCode(self.name.clone()));
        }
        if self.expires_at.is_some_and(|t| now >= t) {
            return Err(PriceError::ExpiredCode(self.name.clone()));
        }
        if self.max_uses.is_some_and(|max| self.uses >= max) {
            return Err(PriceError::UsedUpCode(self.name.clone()));
        }
        Ok(())
    }

    /// The code's price for `list` of `product`, with the usage checks of [`Code::check`].
    pub fn apply(
        &self,
        product: &ProductId,
        list: Money,
        now: OffsetDateTime,
    ) -> Result<Money, PriceError> {
        self.check(now)?;
        if !self.covers(product) {
            return Err(PriceError::NotForProduct(self.name.clone()));
        }
        let minor = match self.discount {
            Discount::Percent(p) => {
                let keep = list.minor() * u64::from(100 - p.min(100));
                // Half up: 50 hundredths of a minor unit round to the next unit.
                (keep + 50) / 100
            }
            Discount::Off(off) if off.currency() == list.currency() => {
                list.minor().saturating_sub(off.minor())
            }
            Discount::Off(_) => return Err(PriceError::NotForProduct(self.name.clone())),
        };
        // Never more than the list price, whatever the arithmetic; from_minor cannot fail
        // below it.
        Ok(Money::from_minor(minor.min(list.minor()), list.currency()).unwrap_or(list))
    }
}

/// The price of one order of `product`: the list price, the buyer's own amount (pay what
/// you want; `chosen` as typed), or the code's price. `code` is the stored code the buyer
/// named (`None` with `code_name` set: no such code).
pub fn quote(
    product: &Product,
    chosen: Option<&str>,
    code_name: Option<&CodeName>,
    code: Option<&Code>,
    now: OffsetDateTime,
) -> Result<Quote, PriceError> {
    let list = product.price();
    if let Some(name) = code_name {
        code_request(product, chosen)?;
        let code = code.ok_or_else(|| PriceError::UnknownCode(name.to_string()))?;
        return Ok(Quote {
            list,
            amount: code.apply(product.id(), list, now)?,
            code: Some(code.name.clone()),
        });
    }
    let amount = match (product.pay_what_you_want(), chosen) {
        (None, None) => list,
        (None, Some(_)) => return Err(PriceError::FixedPrice { price: list }),
        // No amount typed (a plain link to a pay-what-you-want product): the suggested
        // price, which the buyer sees before paying.
        (Some(_), None) => list,
        (Some(pwyw), Some(raw)) => {
            let amount = Money::parse_amount(raw, list.currency()).map_err(|e| match e {
                MoneyError::TooLarge(_) => PriceError::AboveMaximum { max: pwyw.max },
                _ => PriceError::AmountFormat {
                    input: raw.chars().take(40).collect(),
                    min: pwyw.min,
                },
            })?;
            if amount.minor() < pwyw.min.minor() {
                return Err(PriceError::BelowMinimum { min: pwyw.min });
            }
            if amount.minor() > pwyw.max.minor() {
                return Err(PriceError::AboveMaximum { max: pwyw.max });
            }
            amount
        }
    };
    Ok(Quote {
        list,
        amount,
        code: None,
    })
}

/// The moment a code made with `--expires DAY` stops working: the end of that day, UTC.
pub fn end_of_day(day: time::Date) -> OffsetDateTime {
    day.next_day().unwrap_or(day).midnight().assume_utc()
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_codes_are_long_unguessable_and_valid_names() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let c = super::CodeName::random().unwrap();
            assert_eq!(c.as_str().len(), 16);
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(&b))
            );
            assert_eq!(
                super::CodeName::parse(&c.as_str().to_ascii_lowercase()),
                Some(c.clone())
            );
            assert!(seen.insert(c), "no repeats");
        }
        // 16 symbols of a 32-letter alphabet.
        assert_eq!(super::CodeName::RANDOM_BITS, 80);
    }

    use super::*;
    use crate::money::Currency;
    use crate::product::{Edition, FileRef};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 12:00 UTC);

    fn cny(minor: u64) -> Money {
        Money::from_minor(minor, Currency::Cny).unwrap()
    }

    fn product(price: u64, pwyw: Option<(u64, u64)>) -> Product {
        let id = ProductId::parse("book").unwrap();
        let edition = Edition::parse("v1").unwrap();
        let file = FileRef::for_edition(&id, &edition, "b.pdf", "application/pdf", None, None);
        let p = Product::new(
            id,
            "Book",
            cny(price),
            edition,
            crate::product::FileSet::one(file),
            5,
        )
        .unwrap();
        match pwyw {
            Some((min, max)) => p
                .with_pay_what_you_want(Some(PayWhatYouWant {
                    min: cny(min),
                    max: cny(max),
                }))
                .unwrap(),
            None => p,
        }
    }

    fn code(discount: Discount) -> Code {
        Code::new(
            NewCode {
                name: CodeName::parse("launch").unwrap(),
                discount,
                products: vec![],
                max_uses: Some(5),
                expires_at: Some(datetime!(2026-12-31 23:59:59.999 UTC)),
            },
            NOW,
        )
        .unwrap()
    }

    #[test]
    fn a_code_is_valid_by_construction() {
        let spec = |discount, max_uses, expires_at| NewCode {
            name: CodeName::parse("x").unwrap(),
            discount,
            products: vec![],
            max_uses,
            expires_at,
        };
        let later = Some(NOW + time::Duration::days(1));
        assert!(Code::new(spec(Discount::Percent(1), None, None), NOW).is_ok());
        assert!(Code::new(spec(Discount::Percent(100), Some(1), later), NOW).is_ok());
        for (bad, why) in [
            (
                spec(Discount::Percent(0), None, None),
                CodeError::Percent(0),
            ),
            (
                spec(Discount::Percent(101), None, None),
                CodeError::Percent(101),
            ),
            (spec(Discount::Off(cny(0)), None, None), CodeError::ZeroOff),
            (spec(Discount::Percent(5), Some(0), None), CodeError::NoUses),
            (
                spec(Discount::Percent(5), None, Some(NOW)),
                CodeError::Expired,
            ),
        ] {
            assert_eq!(Code::new(bad, NOW), Err(why));
        }
        let c = Code::new(spec(Discount::Percent(5), None, None), NOW).unwrap();
        assert_eq!((c.uses(), c.disabled(), c.created_at()), (0, false, NOW));
    }

    #[test]
    fn pay_what_you_want_keeps_its_bounds() {
        let p = product(1200, Some((500, 120_000)));
        let q = |s| quote(&p, Some(s), None, None, NOW).map(|q| q.amount.minor());
        assert_eq!(q("12.34"), Ok(1234));
        assert_eq!(q("9.5"), q("9.50"));
        assert_eq!(q("5"), Ok(500));
        assert_eq!(q("4.99"), Err(PriceError::BelowMinimum { min: cny(500) }));
        assert_eq!(
            q("1200.01"),
            Err(PriceError::AboveMaximum { max: cny(120_000) })
        );
        for bad in ["9.501", "1e3", "-1", " 9", "٩"] {
            let e = q(bad).unwrap_err();
            assert!(matches!(e, PriceError::AmountFormat { .. }), "{bad:?}");
            assert!(e.to_string().contains("¥5.00") || e.to_string().contains("5.00 CNY"));
        }
        // No amount: the suggested price.
        assert_eq!(quote(&p, None, None, None, NOW).unwrap().amount, cny(1200));
        // A fixed price takes no amount.
        let fixed = product(900, None);
        assert!(matches!(
            quote(&fixed, Some("1.00"), None, None, NOW),
            Err(PriceError::FixedPrice { .. })
        ));
    }

    #[test]
    fn codes_round_half_up_and_say_why_they_fail() {
        let p = product(999, None);
        let name = CodeName::parse("LAUNCH").unwrap();
        let q = |c: &Code| quote(&p, None, Some(&name), Some(c), NOW);
        // 9.99 × 0.8 = 7.992 → 7.99; × 0.85 = 8.4915 → 8.49; × 0.5 = 4.995 → 5.00.
        assert_eq!(q(&code(Discount::Percent(20))).unwrap().amount, cny(799));
        assert_eq!(q(&code(Discount::Percent(15))).unwrap().amount, cny(849));
        assert_eq!(q(&code(Discount::Percent(50))).unwrap().amount, cny(500));
        assert!(q(&code(Discount::Percent(100))).unwrap().is_free());
        assert_eq!(q(&code(Discount::Off(cny(200)))).unwrap().amount, cny(799));
        assert_eq!(q(&code(Discount::Off(cny(5000)))).unwrap().amount, cny(0));
        let quoted = q(&code(Discount::Percent(20))).unwrap();
        assert_eq!((quoted.list, quoted.code), (cny(999), Some(name.clone())));

        let mut used = code(Discount::Percent(20));
        used.uses = 5;
        assert_eq!(q(&used), Err(PriceError::UsedUpCode(name.clone())));
        let mut old = code(Discount::Percent(20));
        old.expires_at = Some(NOW);
        assert_eq!(q(&old), Err(PriceError::ExpiredCode(name.clone())));
        let mut off = code(Discount::Percent(20));
        off.disabled = true;
        assert_eq!(q(&off), Err(PriceError::DisabledCode(name.clone())));
        let mut other = code(Discount::Percent(20));
        other.products = vec![ProductId::parse("other").unwrap()];
        assert_eq!(q(&other), Err(PriceError::NotForProduct(name.clone())));
        assert_eq!(
            quote(&p, None, Some(&name), None, NOW),
            Err(PriceError::UnknownCode(name.to_string()))
        );
        // A yen code on a yuan product does not apply.
        let yen = Money::from_minor(100, Currency::Jpy).unwrap();
        assert!(q(&code(Discount::Off(yen))).is_err());
        // Not with pay what you want.
        let pwyw = product(1200, Some((0, 120_000)));
        assert_eq!(
            quote(
                &pwyw,
                Some("3.00"),
                Some(&name),
                Some(&code(Discount::Percent(20))),
                NOW
            ),
            Err(PriceError::CodeWithPayWhatYouWant)
        );
    }

    #[test]
    fn code_names_are_case_insensitive_and_plain() {
        assert_eq!(CodeName::parse("launch"), CodeName::parse("LAUNCH"));
        for bad in ["", "a b", "ünï", "x/y", &"x".repeat(33)] {
            assert!(CodeName::parse(bad).is_none(), "{bad:?}");
        }
    }
}
