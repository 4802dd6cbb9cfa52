//! Money as an integer count of minor units plus an ISO 4217 currency.
//!
//! Amounts never pass through floating point. Alipay's `total_amount` (`"9.00"`) is parsed
//! and formatted here, exactly, at the protocol edge; everything else carries `Money`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Currencies Kiosk can price in, each with its ISO 4217 exponent: two decimal places
/// for all but the yen, which has none (`500 JPY`, never `500.00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    Cny,
    Usd,
    Eur,
    Gbp,
    Jpy,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Cny => "CNY",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Jpy => "JPY",
        }
    }

    /// Decimal places of the minor unit (ISO 4217): 2, or 0 for the yen.
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
    }

    /// How an amount is written in this currency, for messages: `9.00`, `500`.
    pub fn example(self) -> &'static str {
        match self.exponent() {
            0 => "500",
            _ => "9.00",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        match s {
            "CNY" => Ok(Currency::Cny),
            "USD" => Ok(Currency::Usd),
            "EUR" => Ok(Currency::Eur),
            "GBP" => Ok(Currency::Gbp),
            "JPY" => Ok(Currency::Jpy),
            _ => Err(MoneyError::UnknownCurrency(s.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "amount {0:?} is not of the form 9.00 (digits, a dot, exactly two decimals; none for JPY)"
    )]
    Format(String),
    #[error("amount {0:?} is above the maximum of 100000000.00")]
    TooLarge(String),
    /// A buyer's amount ([`Money::parse_amount`]) that is not a plain decimal with at most
    /// the currency's decimal places.
    #[error("{input:?} is not an amount in {currency} (write it like {})", currency.example())]
    Amount { input: String, currency: Currency },
    #[error("unknown currency {0:?} (supported: CNY, USD, EUR, GBP, JPY)")]
    UnknownCurrency(String),
    #[error("price {0:?} is not of the form \"9.00 CNY\"")]
    PriceFormat(String),
}

/// An amount in minor units (fen, cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: u64,
    currency: Currency,
}

impl Money {
    /// Alipay's upper bound for one trade, 100,000,000.00, in minor units. Nothing we sell
    /// should come near it; it also keeps every amount far from integer overflow.
    pub const MAX_MINOR: u64 = 10_000_000_000;

    /// One minor unit of `currency` (0.01 CNY, 1 JPY): the smallest amount there is.
    pub fn minor_unit(currency: Currency) -> Money {
        Money { minor: 1, currency }
    }

    pub fn from_minor(minor: u64, currency: Currency) -> Result<Self, MoneyError> {
        if minor > Self::MAX_MINOR {
            return Err(MoneyError::TooLarge(format_minor(minor)));
        }
        Ok(Money { minor, currency })
    }

    pub fn minor(self) -> u64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Parse a decimal amount exactly as Alipay writes it: `0.01`, `9.00`, `100000000.00`
    /// (`500` for the yen, which has no decimals). Strict on purpose (this is what we
    /// compare a notification's amount against): no sign, no exponent, no whitespace, no
    /// leading zeros, exactly the currency's decimals.
    pub fn parse_decimal(s: &str, currency: Currency) -> Result<Self, MoneyError> {
        let bad = || MoneyError::Format(s.to_owned());
        let (int, frac) = match s.split_once('.') {
            Some((int, frac)) if currency.exponent() > 0 => (int, frac),
            None if currency.exponent() == 0 => (s, ""),
            _ => return Err(bad()),
        };
        if frac.len() != currency.exponent() as usize {
            return Err(bad());
        }
        Self::from_parts(s, int, frac, currency).ok_or_else(bad)?
    }

    /// Parse an amount a buyer typed (pay what you want): digits, then optionally a dot
    /// and at most the currency's decimals, so `9.5` and `9.50` are the same and `9` is
    /// `9.00`. Refused: more decimals than the currency has (`9.501`; any for the yen),
    /// signs, exponents, spaces, separators, leading zeros, and digits of other scripts
    /// (`٩`): a buyer's typo must never become a different amount.
    pub fn parse_amount(s: &str, currency: Currency) -> Result<Self, MoneyError> {
        let bad = || MoneyError::Amount {
            input: s.to_owned(),
            currency,
        };
        let (int, frac) = match s.split_once('.') {
            Some((int, frac)) if !frac.is_empty() => (int, frac),
            Some(_) => return Err(bad()),
            None => (s, ""),
        };
        if frac.len() > currency.exponent() as usize {
            return Err(bad());
        }
        Self::from_parts(s, int, frac, currency).ok_or_else(bad)?
    }

    /// `int` and `frac` (at most the currency's decimals) as an amount: `None` if they
    /// are not plain ASCII digits without leading zeros, `Some(Err)` over the maximum.
    fn from_parts(
        s: &str,
        int: &str,
        frac: &str,
        currency: Currency,
    ) -> Option<Result<Self, MoneyError>> {
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) {
            return None;
        }
        if int.len() > 1 && int.starts_with('0') {
            return None;
        }
        // More than 11 integer digits is over the maximum in any currency; checking
        // first keeps the arithmetic below inside u64 for any input length.
        if int.len() > 11 {
            return Some(Err(MoneyError::TooLarge(s.to_owned())));
        }
        let scale = 10u64.pow(currency.exponent());
        let units: u64 = int.parse().ok()?;
        let mut minor_frac = 0;
        for (i, b) in frac.bytes().enumerate() {
            minor_frac += u64::from(b - b'0') * 10u64.pow(currency.exponent() - 1 - i as u32);
        }
        let minor = units * scale + minor_frac;
        if minor > Self::MAX_MINOR {
            return Some(Err(MoneyError::TooLarge(s.to_owned())));
        }
        Some(Ok(Money { minor, currency }))
    }

    /// Parse a price as an author types it: `"9.00 CNY"`.
    pub fn parse_price(s: &str) -> Result<Self, MoneyError> {
        let (amount, code) = s
            .trim()
            .split_once(' ')
            .ok_or_else(|| MoneyError::PriceFormat(s.to_owned()))?;
        let currency: Currency = code.trim().parse()?;
        Money::parse_decimal(amount, currency)
    }

    /// The amount as Alipay wants it: `"9.00"` (`"500"` for the yen).
    pub fn to_decimal(self) -> String {
        match self.currency.exponent() {
            0 => self.minor.to_string(),
            _ => format_minor(self.minor),
        }
    }

    pub fn is_zero(self) -> bool {
        self.minor == 0
    }
}

fn format_minor(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// `9.00 CNY`
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats_exactly() {
        let m = Money::parse_decimal("9.00", Currency::Cny).unwrap();
        assert_eq!(m.minor(), 900);
        assert_eq!(m.to_decimal(), "9.00");
        assert_eq!(
            Money::parse_decimal("0.01", Currency::Cny).unwrap().minor(),
            1
        );
        assert_eq!(
            Money::parse_decimal("0.00", Currency::Cny).unwrap().minor(),
            0
        );
        let max = Money::parse_decimal("100000000.00", Currency::Cny).unwrap();
        assert_eq!(max.minor(), Money::MAX_MINOR);
        // 0.29 is the classic float trap: 0.29 * 100 = 28.999999999999996.
        assert_eq!(
            Money::parse_decimal("0.29", Currency::Cny).unwrap().minor(),
            29
        );
    }

    #[test]
    fn rejects_malformed_amounts() {
        for bad in [
            "9.0", "9.001", "-1.00", "1e3", " 9.00", "9.00 ", "9", ".50", "9.", "+9.00", "09.00",
            "9,00", "", "٩.٠٠", "9.0a", "1e3.00", "0x1.00",
        ] {
            assert!(
                matches!(
                    Money::parse_decimal(bad, Currency::Cny),
                    Err(MoneyError::Format(_))
                ),
                "{bad:?} should be rejected as malformed"
            );
        }
    }

    /// The buyer's amounts of issue 26: each accepted or refused as stated.
    #[test]
    fn buyers_amounts_are_parsed_strictly_per_currency() {
        let cny = |s| Money::parse_amount(s, Currency::Cny).map(Money::minor);
        for (input, minor) in [
            ("9.5", 950),
            ("9.50", 950),
            ("9", 900),
            ("0", 0),
            ("0.01", 1),
            ("12.34", 1234),
        ] {
            assert_eq!(cny(input), Ok(minor), "{input:?}");
        }
        for bad in [
            "9.501", "1e3", "-1", " 9", "9 ", "٩", "9.", ".5", "+9", "09", "9,50", "", "0x10",
            "9.5.0", "١٢", "９",
        ] {
            assert!(
                matches!(cny(bad), Err(MoneyError::Amount { .. })),
                "{bad:?} should be refused"
            );
        }
        let jpy = |s| Money::parse_amount(s, Currency::Jpy).map(Money::minor);
        assert_eq!(jpy("500"), Ok(500));
        assert!(jpy("500.0").is_err() && jpy("500.").is_err() && jpy("5e2").is_err());
        assert!(matches!(cny("100000000.01"), Err(MoneyError::TooLarge(_))));
        let message = cny("9.501").unwrap_err().to_string();
        assert!(
            message.contains("CNY") && message.contains("9.00"),
            "{message}"
        );
    }

    #[test]
    fn the_yen_has_no_decimals() {
        let p = Money::parse_price("500 JPY").unwrap();
        assert_eq!((p.minor(), p.to_string()), (500, "500 JPY".to_owned()));
        assert!(Money::parse_price("500.00 JPY").is_err());
        assert!(Money::parse_decimal("5.00", Currency::Jpy).is_err());
    }

    #[test]
    fn rejects_values_over_the_maximum() {
        for big in [
            "100000000.01",
            "999999999.99",
            "1000000000.00",
            "99999999999999999999999.00",
        ] {
            assert!(
                matches!(
                    Money::parse_decimal(big, Currency::Cny),
                    Err(MoneyError::TooLarge(_))
                ),
                "{big:?} should be too large"
            );
        }
        assert!(Money::from_minor(Money::MAX_MINOR + 1, Currency::Cny).is_err());
    }

    #[test]
    fn parses_author_prices() {
        let p = Money::parse_price("12.50 USD").unwrap();
        assert_eq!((p.minor(), p.currency()), (1250, Currency::Usd));
        assert_eq!(p.to_string(), "12.50 USD");
        assert!(Money::parse_price("12.50").is_err());
        assert!(matches!(
            Money::parse_price("12.50 XYZ"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(Money::parse_price("12.5 CNY").is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(minor in 0..=Money::MAX_MINOR) {
            let m = Money::from_minor(minor, Currency::Cny).unwrap();
            let s = m.to_decimal();
            prop_assert_eq!(Money::parse_decimal(&s, Currency::Cny).unwrap(), m);
        }

        #[test]
        fn parse_then_format_round_trips(int in 0u64..=99_999_999, frac in 0u64..=99) {
            let s = format!("{int}.{frac:02}");
            let m = Money::parse_decimal(&s, Currency::Cny).unwrap();
            prop_assert_eq!(m.minor(), int * 100 + frac);
            prop_assert_eq!(m.to_decimal(), s);
        }

        #[test]
        fn over_maximum_is_rejected(minor in (Money::MAX_MINOR + 1)..u64::MAX / 2) {
            let s = format!("{}.{:02}", minor / 100, minor % 100);
            prop_assert!(Money::parse_decimal(&s, Currency::Cny).is_err());
        }

        #[test]
        fn wrong_decimal_count_is_rejected(int in 0u64..1000, frac in "[0-9]{0,1}|[0-9]{3,6}") {
            let s = format!("{int}.{frac}");
            prop_assert!(Money::parse_decimal(&s, Currency::Cny).is_err());
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,20}") {
            let _ = Money::parse_decimal(&s, Currency::Cny);
            let _ = Money::parse_amount(&s, Currency::Cny);
            let _ = Money::parse_amount(&s, Currency::Jpy);
        }

        /// A buyer's amount with 0, 1 or 2 decimals is exactly that many hundredths,
        /// and whatever parses formats back to the same amount.
        #[test]
        fn buyers_amounts_mean_what_they_say(int in 0u64..=99_999_999, frac in "[0-9]{0,2}") {
            let s = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let m = Money::parse_amount(&s, Currency::Cny).unwrap();
            let hundredths = format!("{frac:0<2}").parse::<u64>().unwrap();
            prop_assert_eq!(m.minor(), int * 100 + hundredths);
            prop_assert_eq!(Money::parse_amount(&m.to_decimal(), Currency::Cny).unwrap(), m);
        }
    }
}
