//! Per-object exponential backoff after failed syncs (client-go's default item rate limiter:
//! 5 ms doubling to 1000 s), reset by a successful sync.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

const BASE: Duration = Duration::from_millis(5);
const MAX: Duration = Duration::from_secs(1000);

#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock");
        let count = failures.entry(key.to_owned()).or_default();
        let delay = BASE.saturating_mul(2u32.saturating_pow(*count)).min(MAX);
        *count = count.saturating_add(1);
        delay
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("backoff lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_5ms_up_to_1000s_and_resets() {
        let b = Backoff::default();
        let delays: Vec<_> = (0..4).map(|_| b.failed("k")).collect();
        assert_eq!(delays, [5, 10, 20, 40].map(Duration::from_millis));
        for _ in 0..40 {
            b.failed("k");
        }
        assert_eq!(b.failed("k"), MAX);
        assert_eq!(b.failed("other"), BASE);
        b.succeeded("k");
        assert_eq!(b.failed("k"), BASE);
    }
}
