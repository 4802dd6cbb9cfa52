//! Sending at SES's pace, and showing how far a mail-out has got.

use std::io::IsTerminal;
use std::time::Duration;

use tokio::time::Instant;

/// Spaces sends evenly at `per_second`, never bursting to catch up after a slow step.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Option<Instant>,
}

impl Pacer {
    pub fn new(per_second: f64) -> Self {
        // SES reports whole mails per second; guard against 0 or garbage.
        let rate = if per_second.is_finite() && per_second >= 0.1 {
            per_second
        } else {
            1.0
        };
        Pacer {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: None,
        }
    }

    /// The moment the next send may start, given the time now; books that slot.
    pub fn slot(&mut self, now: Instant) -> Instant {
        let at = match self.next {
            Some(next) if next > now => next,
            _ => now,
        };
        self.next = Some(at + self.interval);
        at
    }

    pub async fn wait(&mut self) {
        let at = self.slot(Instant::now());
        tokio::time::sleep_until(at).await;
    }
}

/// SES's sending limits, as `GetSendQuota` reports them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub max_per_second: f64,
    /// Negative: no daily limit.
    pub max_per_day: f64,
    pub sent_last_day: f64,
}

impl Quota {
    /// How many more mails SES will take today (`None`: no limit).
    pub fn left_today(&self) -> Option<usize> {
        if self.max_per_day < 0.0 {
            return None;
        }
        let left = (self.max_per_day - self.sent_last_day).floor();
        Some(if left > 0.0 { left as usize } else { 0 })
    }
}

/// A one-line progress bar on a terminal; elsewhere (CI logs, pipes) a line every tenth.
pub struct Progress {
    total: usize,
    done: usize,
    tty: bool,
    last_tenth: usize,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Progress {
            total,
            done: 0,
            tty: std::io::stderr().is_terminal(),
            last_tenth: 0,
        }
    }

    pub fn tick(&mut self, sent: usize, failed: usize) {
        self.done += 1;
        if self.total == 0 {
            return;
        }
        if self.tty {
            let width = 30;
            let filled = self.done * width / self.total;
            eprint!(
                "\r[{}{}] {}/{} (sent {sent}, failed {failed})",
                "#".repeat(filled),
                ".".repeat(width - filled),
                self.done,
                self.total
            );
            if self.done == self.total {
                eprintln!();
            }
        } else {
            let tenth = self.done * 10 / self.total;
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                eprintln!(
                    "progress: {}/{} (sent {sent}, failed {failed})",
                    self.done, self.total
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_are_spaced_by_the_rate_and_do_not_burst_after_a_pause() {
        let t0 = Instant::now();
        let mut p = Pacer::new(5.0);
        let slots: Vec<Duration> = (0..10).map(|_| p.slot(t0) - t0).collect();
        assert_eq!(slots[0], Duration::ZERO);
        assert_eq!(slots[9], Duration::from_millis(1800));
        // After a long pause the next send goes now, and the one after waits again.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(p.slot(later), later);
        assert_eq!(p.slot(later), later + Duration::from_millis(200));
    }

    #[test]
    fn a_zero_rate_is_treated_as_one_per_second() {
        let t0 = Instant::now();
        let mut p = Pacer::new(0.0);
        p.slot(t0);
        assert_eq!(p.slot(t0) - t0, Duration::from_secs(1));
    }

    #[test]
    fn daily_quota_left() {
        let q = |max, sent| Quota {
            max_per_second: 14.0,
            max_per_day: max,
            sent_last_day: sent,
        };
        assert_eq!(q(200.0, 150.0).left_today(), Some(50));
        assert_eq!(q(200.0, 250.0).left_today(), Some(0));
        assert_eq!(q(-1.0, 1e9).left_today(), None);
    }
}
