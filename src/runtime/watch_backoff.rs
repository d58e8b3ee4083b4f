//! How long a watch waits before it lists and watches again after an error: client-go's
//! reflector starts at 0.8 s and doubles (with jitter), as here, but up to 30 s. A controller
//! whose watch failed while the API server restarted would then stay blind for up to 30 s
//! after the server is back; capped at 5 s, it resumes within a few seconds, for about one
//! request per watch every 5 s while the server is away.

use std::time::Duration;

use kube::runtime::utils::Backoff;

const FIRST: Duration = Duration::from_millis(800);
const MOST: Duration = Duration::from_secs(5);

/// Doubling from 0.8 s up to 5 s, each delay stretched by up to half at random so that many
/// watches do not retry in step; reset by the first event after an error.
#[derive(Debug, Default)]
pub struct WatchBackoff {
    failures: u32,
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let base = FIRST
            .saturating_mul(2u32.saturating_pow(self.failures))
            .min(MOST);
        self.failures = self.failures.saturating_add(1);
        Some(base.mul_f64(1.0 + fastrand::f64() / 2.0).min(MOST))
    }
}

impl Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_first_to_the_cap_and_start_over_after_a_reset() {
        let mut backoff = WatchBackoff::default();
        let delays: Vec<_> = backoff.by_ref().take(8).collect();
        for (n, delay) in delays.iter().enumerate() {
            let base = FIRST.saturating_mul(1 << n).min(MOST);
            assert!(
                *delay >= base && *delay <= base.mul_f64(1.5).min(MOST),
                "{n}: {delay:?}"
            );
        }
        assert_eq!(delays[7], MOST);
        backoff.reset();
        assert!(backoff.next().unwrap() < FIRST * 2);
    }
}
