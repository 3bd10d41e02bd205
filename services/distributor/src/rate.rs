//! The per-tenant ingestion rate limit: one token bucket per tenant in each distributor.
//!
//! Global strategy (as Mimir's `ingestion_rate_strategy: global`): a tenant's
//! `ingestion_rate` and `ingestion_burst_size` are for the whole cluster, so each of the
//! `n` healthy distributors refills its bucket at `rate / n` and holds at most
//! `burst / n` tokens. Distributors do not register in the ring, so `n` is the
//! `-distributor.instances` hint (default 1), see [`crate::Distributor::set_instances`].
//! A request of `n` samples takes `n` tokens or is refused whole (429).

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

/// A token bucket: `rate` tokens a second up to `burst`.
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            last: now,
            rate,
            burst,
        }
    }

    /// Takes `n` tokens if the bucket holds them at `now` (after refilling at `rate`, and
    /// taking a changed `rate`/`burst` into account); otherwise takes none.
    pub fn allow(&mut self, n: f64, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.rate = rate;
        self.burst = burst;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// One bucket per tenant.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl RateLimiter {
    /// Whether `tenant` may push `n` samples now under `rate`/s and `burst` (this
    /// distributor's share). A rate of infinity or a non-positive `n` always passes. Only a
    /// tenant's first request allocates (its bucket).
    pub fn allow(&self, tenant: &str, n: u64, rate: f64, burst: f64, now: Instant) -> bool {
        if n == 0 || rate.is_infinite() {
            return true;
        }
        let mut b = self.buckets.lock();
        match b.get_mut(tenant) {
            Some(bucket) => bucket.allow(n as f64, rate, burst, now),
            None => {
                let mut bucket = TokenBucket::new(rate, burst, now);
                let ok = bucket.allow(n as f64, rate, burst, now);
                b.insert(tenant.to_string(), bucket);
                ok
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills_at_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 20.0, t0);
        assert!(b.allow(20.0, 10.0, 20.0, t0), "a full burst passes");
        assert!(!b.allow(1.0, 10.0, 20.0, t0), "empty");
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.allow(5.0, 10.0, 20.0, t1), "5 tokens after half a second");
        assert!(!b.allow(1.0, 10.0, 20.0, t1));
        let t2 = t1 + Duration::from_secs(100);
        assert!(!b.allow(21.0, 10.0, 20.0, t2), "never more than the burst");
        assert!(b.allow(20.0, 10.0, 20.0, t2));
        // A lowered burst caps what is held.
        let t3 = t2 + Duration::from_secs(100);
        assert!(!b.allow(6.0, 10.0, 5.0, t3));
        assert!(b.allow(5.0, 10.0, 5.0, t3));
    }

    #[test]
    fn limiter_keeps_tenants_apart() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        assert!(l.allow("a", 10, 1.0, 10.0, t0));
        assert!(!l.allow("a", 1, 1.0, 10.0, t0));
        assert!(l.allow("b", 10, 1.0, 10.0, t0), "b has its own bucket");
        assert!(l.allow("a", 1, 1.0, 10.0, t0 + Duration::from_secs(1)));
        assert!(l.allow("a", 0, 1.0, 10.0, t0), "nothing to take");
    }
}
