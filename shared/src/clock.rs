//! Time: the one read of the real clock, and the timestamp formats the protocols need.
//!
//! Business code takes `now` as a parameter, so tests choose the time; only the entry
//! points (each function's `main`, the devstack, the CLI) call [`now`].

use time::{OffsetDateTime, UtcOffset, macros::format_description};

/// The current time in whole seconds: that is what the store keeps, so a value read back
/// equals the one written.
pub fn now() -> OffsetDateTime {
    let now = now_exact();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// The current time to the nanosecond: for the local stand-ins of the providers, which
/// measure their windows (Stripe's session expiry) as exactly as the real ones.
pub fn now_exact() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Alipay speaks Beijing time (UTC+8, no DST); Lambda clocks are UTC.
pub const BEIJING: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+8 is a valid offset"),
};

/// `yyyy-MM-dd HH:mm:ss` in Beijing time: Alipay's `timestamp` and page-pay `time_expire`.
pub fn beijing_seconds(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    // Formatting a valid OffsetDateTime with a fixed description cannot fail for
    // four-digit years; fall back to RFC 3339 rather than panic if it ever does.
    t.to_offset(BEIJING)
        .format(fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// RFC 3339 in Beijing time, `2026-12-07T19:48:56+08:00`, as WeChat Pay's examples write
/// `time_expire`.
pub fn beijing_rfc3339(t: OffsetDateTime) -> String {
    let fmt = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
    );
    t.to_offset(BEIJING)
        .format(fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `yyyy-MM-dd HH:mm` in Beijing time, rounded down: wap-pay `time_expire`.
pub fn beijing_minutes(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.to_offset(BEIJING)
        .format(fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_in_beijing_time() {
        let t = datetime!(2026-11-21 10:30:59 UTC);
        assert_eq!(beijing_seconds(t), "2026-11-21 18:30:59");
        assert_eq!(beijing_minutes(t), "2026-11-21 18:30");
        // Crosses midnight: 16:00 UTC is the next day in Beijing.
        assert_eq!(
            beijing_seconds(datetime!(2026-12-31 16:00:00 UTC)),
            "2027-01-01 00:00:00"
        );
    }
}
