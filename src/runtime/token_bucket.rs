//! client-go's client-side limiter: a token bucket that hands out reservations, as
//! golang.org/x/time/rate does behind `flowcontrol.NewTokenBucketRateLimiter`.
//!
//! A request reserves its token at once and learns when it may go; the next request's
//! reservation comes after it. So requests are served strictly in the order they asked,
//! which the rate-limiting crates do not promise: governor lets a waiter be overtaken again
//! and again, and leaky-bucket's fair mode can let a newcomer arriving at a refill go first.

use std::sync::Mutex;

use tokio::time::{Duration, Instant};

/// A bucket of `burst` tokens refilled at `qps` per second, full at the start.
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Tokens in the bucket at `last`; below zero when reservations are waiting.
    tokens: f64,
    last: Instant,
    /// When the latest reservation may act.
    last_event: Instant,
}

/// A reserved token: it may be used from `at` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub at: Instant,
}

impl TokenBucket {
    pub fn new(qps: f64, burst: u32) -> Self {
        let now = Instant::now();
        let burst = f64::from(burst.max(1));
        Self {
            qps,
            burst,
            state: Mutex::new(State {
                tokens: burst,
                last: now,
                last_event: now,
            }),
        }
    }

    /// Takes one token, now or ahead of time (x/time/rate `reserveN` for one token).
    pub fn reserve(&self) -> Reservation {
        let now = Instant::now();
        let mut state = self.state.lock().expect("token bucket lock");
        let tokens = self.advance(&state, now) - 1.0;
        let wait = if tokens < 0.0 {
            Duration::from_secs_f64(-tokens / self.qps)
        } else {
            Duration::ZERO
        };
        let at = now + wait;
        *state = State {
            tokens,
            last: now,
            last_event: at,
        };
        Reservation { at }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        tokio::time::sleep_until(self.reserve().at).await;
    }

    /// Gives back a reservation that will not be used (x/time/rate `CancelAt`): the token
    /// returns to the bucket, less what reservations made after it already count on.
    pub fn cancel(&self, reservation: Reservation) {
        let now = Instant::now();
        if reservation.at <= now {
            return;
        }
        let mut state = self.state.lock().expect("token bucket lock");
        let reserved_after = state.last_event.saturating_duration_since(reservation.at);
        let restore = 1.0 - reserved_after.as_secs_f64() * self.qps;
        if restore <= 0.0 {
            return;
        }
        let tokens = (self.advance(&state, now) + restore).min(self.burst);
        state.tokens = tokens;
        state.last = now;
        if reservation.at == state.last_event {
            let previous = reservation.at - Duration::from_secs_f64(1.0 / self.qps);
            if previous >= now {
                state.last_event = previous;
            }
        }
    }

    /// The tokens the bucket holds at `now`: refilled since `last`, never above the burst.
    fn advance(&self, state: &State, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        (state.tokens + elapsed * self.qps).min(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_burst_is_free_then_each_token_is_a_refill_later_than_the_one_before() {
        let bucket = TokenBucket::new(10.0, 2);
        let start = Instant::now();
        let at: Vec<Duration> = (0..5).map(|_| bucket.reserve().at - start).collect();
        let ms = Duration::from_millis;
        assert_eq!(at, [ms(0), ms(0), ms(100), ms(200), ms(300)]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_bucket_fills_up_to_its_burst_and_no_more() {
        let bucket = TokenBucket::new(10.0, 3);
        for _ in 0..3 {
            bucket.reserve();
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let now = Instant::now();
        let at: Vec<Instant> = (0..4).map(|_| bucket.reserve().at).collect();
        assert_eq!(&at[..3], &[now; 3]);
        assert_eq!(at[3], now + Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_last_reservation_gives_its_token_back() {
        let bucket = TokenBucket::new(10.0, 1);
        let start = Instant::now();
        bucket.reserve();
        let waiting = bucket.reserve();
        assert_eq!(waiting.at - start, Duration::from_millis(100));
        bucket.cancel(waiting);
        assert_eq!(bucket.reserve().at - start, Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_reservation_others_count_on_is_not_given_back() {
        let bucket = TokenBucket::new(10.0, 1);
        let start = Instant::now();
        bucket.reserve();
        let first = bucket.reserve();
        let second = bucket.reserve();
        assert_eq!(second.at - start, Duration::from_millis(200));
        bucket.cancel(first);
        // The second keeps its time; the token after it is not moved earlier either.
        assert_eq!(bucket.reserve().at - start, Duration::from_millis(300));
    }
}
