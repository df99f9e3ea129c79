//! Keeping one bad item from stopping a queue (issue 13 §6): a worker that
//! takes items one by one runs each inside [`contained`], so a panic in
//! the code that handles one item (a bug, arithmetic on a value nobody
//! foresaw) ends that item, not the task that serves every tenant.
//!
//! Unwinding out of an item is safe to continue from here because every
//! item's writes go through its own transaction, which the unwinding drops
//! (rolled back) before the worker records the failure in a fresh one.

use futures::FutureExt;
use std::panic::AssertUnwindSafe;

/// An item's handler panicked; the message, for the item's record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the host panicked while handling it: {0}")]
pub struct Panicked(pub String);

/// Run one item's work; a panic inside it comes back as [`Panicked`].
pub(crate) async fn contained<T>(work: impl Future<Output = T>) -> Result<T, Panicked> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            tracing::error!("queue item handler panicked: {message}");
            Panicked(message)
        })
}

/// How one item ended, for [`each_contained`]'s `park`.
#[derive(Debug)]
pub(crate) enum Failure<E> {
    /// The handler returned an error.
    Error(E),
    /// The handler panicked.
    Panicked(Panicked),
}

/// Run `work` on every item, oldest first. An item whose work fails or
/// panics is handed to `park` with what happened, and the next item runs;
/// only an error from `park` itself (the queue cannot record anything, so
/// every later item would fail the same way) ends the round early.
/// Returns how many items were taken.
pub(crate) async fn each_contained<I, E, W, P>(
    items: Vec<I>,
    mut key: impl FnMut(&I) -> i64,
    mut work: impl FnMut(I) -> W,
    mut park: impl FnMut(i64, Failure<E>) -> P,
) -> Result<usize, E>
where
    W: Future<Output = Result<(), E>>,
    P: Future<Output = Result<(), E>>,
{
    let mut taken = 0;
    for item in items {
        let id = key(&item);
        taken += 1;
        match contained(work(item)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => park(id, Failure::Error(e)).await?,
            Err(p) => park(id, Failure::Panicked(p)).await?,
        }
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn h10_a_panic_in_one_queue_item_parks_it_and_the_worker_goes_on() {
        let done = std::sync::Mutex::new(Vec::new());
        let parked = std::sync::Mutex::new(Vec::new());
        let taken = each_contained(
            vec![1i64, 2, 3, 4],
            |i| *i,
            |i| {
                let done = &done;
                async move {
                    match i {
                        2 => panic!("quantity × price overflowed on item {i}"),
                        3 => return Err(format!("database refused item {i}")),
                        _ => {}
                    }
                    done.lock().unwrap().push(i);
                    Ok(())
                }
            },
            |id, failure| {
                let why = match failure {
                    Failure::Error(e) => e,
                    Failure::Panicked(p) => p.to_string(),
                };
                parked.lock().unwrap().push((id, why));
                async { Ok::<(), String>(()) }
            },
        )
        .await;
        let (done, parked) = (done.into_inner().unwrap(), parked.into_inner().unwrap());
        assert_eq!(taken, Ok(4));
        assert_eq!(done, vec![1, 4], "the items after the bad ones ran");
        assert_eq!(parked.len(), 2, "{parked:?}");
        assert_eq!(parked[0].0, 2);
        assert!(
            parked[0].1.contains("panicked") && parked[0].1.contains("overflowed on item 2"),
            "{parked:?}"
        );
        assert_eq!(parked[1], (3, "database refused item 3".to_owned()));
    }

    #[tokio::test]
    async fn a_queue_that_cannot_record_a_failure_stops_the_round() {
        let ran = std::sync::Mutex::new(Vec::new());
        let result = each_contained(
            vec![1i64, 2],
            |i| *i,
            |i| {
                ran.lock().unwrap().push(i);
                async { Err("down") }
            },
            |_, _| async { Err("down") },
        )
        .await;
        assert_eq!(result, Err("down"));
        assert_eq!(ran.into_inner().unwrap(), vec![1]);
    }
}
