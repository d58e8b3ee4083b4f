//! Slow-start batches (upstream `slowStartBatch`): call in batches of 1, 2, 4, … in parallel,
//! and stop after the first batch with an error, so a failing API (a quota, say) costs a few
//! calls instead of hundreds.

use std::future::Future;

use futures::future::join_all;

/// Batch sizes for `count` calls starting at `initial`: 1, 2, 4, … then what remains.
pub fn batch_sizes(count: usize, initial: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut remaining = count;
    let mut size = initial.min(remaining);
    while size > 0 {
        sizes.push(size);
        remaining -= size;
        size = (2 * size).min(remaining);
    }
    sizes
}

/// Runs `call` `count` times in slow-start batches. Returns the number of successes and the
/// first error, if a batch had one (the remaining batches are then skipped).
pub async fn run<T, E, F, Fut>(count: usize, mut call: F) -> (Vec<T>, Option<E>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut successes = Vec::with_capacity(count);
    for size in batch_sizes(count, 1) {
        let mut first_error = None;
        for result in join_all((0..size).map(|_| call())).await {
            match result {
                Ok(value) => successes.push(value),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if first_error.is_some() {
            return (successes, first_error);
        }
    }
    (successes, None)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn batches_double_until_the_remainder() {
        assert_eq!(batch_sizes(0, 1), Vec::<usize>::new());
        assert_eq!(batch_sizes(1, 1), [1]);
        assert_eq!(batch_sizes(10, 1), [1, 2, 4, 3]);
        assert_eq!(batch_sizes(15, 1), [1, 2, 4, 8]);
        assert_eq!(batch_sizes(500, 1), [1, 2, 4, 8, 16, 32, 64, 128, 245]);
        assert_eq!(batch_sizes(5, 2), [2, 3]);
    }

    #[tokio::test]
    async fn stops_after_the_first_batch_with_an_error() {
        // The 5th call fails: batches 1, 2 succeed; batch 3 (calls 4–7) has the error.
        let calls = Cell::new(0);
        let (ok, err) = run(20, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n == 5 { Err(n) } else { Ok(n) } }
        })
        .await;
        assert_eq!(calls.get(), 7);
        assert_eq!(ok.len(), 6);
        assert_eq!(err, Some(5));
    }

    #[tokio::test]
    async fn all_succeed() {
        let (ok, err) = run(10, || async { Ok::<_, ()>(()) }).await;
        assert_eq!((ok.len(), err), (10, None));
    }
}
