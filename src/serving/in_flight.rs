//! A request's place among those the HTTP transport serves at once. The transport puts it in
//! the request's extensions, so a handler that waits for a person (a secret typed on the
//! intake page) gives it back while it waits instead of pinning it, and takes one again
//! before it goes on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Cheap to clone; clones share the place.
#[derive(Clone, Debug)]
pub struct InFlight(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    limit: Arc<Semaphore>,
    /// `None` while given back.
    permit: Mutex<Option<OwnedSemaphorePermit>>,
    /// How long a request waits for a place before it is shed.
    queue_timeout: Duration,
}

impl InFlight {
    /// A place under `limit`, waiting up to `queue_timeout`; `None`: the server is busy.
    pub async fn acquire(limit: &Arc<Semaphore>, queue_timeout: Duration) -> Option<InFlight> {
        let permit = tokio::time::timeout(queue_timeout, limit.clone().acquire_owned())
            .await
            .ok()?
            .ok()?;
        Some(InFlight(Arc::new(Inner {
            limit: limit.clone(),
            permit: Mutex::new(Some(permit)),
            queue_timeout,
        })))
    }

    /// Gives the place back until [`Self::reacquire`].
    pub fn release(&self) {
        self.permit().take();
    }

    /// Takes a place again, waiting as a new request would; false if none came free in time.
    pub async fn reacquire(&self) -> bool {
        if self.permit().is_some() {
            return true;
        }
        let limit = self.0.limit.clone().acquire_owned();
        match tokio::time::timeout(self.0.queue_timeout, limit).await {
            Ok(Ok(permit)) => {
                *self.permit() = Some(permit);
                true
            }
            _ => false,
        }
    }

    fn permit(&self) -> std::sync::MutexGuard<'_, Option<OwnedSemaphorePermit>> {
        self.0.permit.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_place_given_back_serves_another_request_until_taken_again() {
        let limit = Arc::new(Semaphore::new(1));
        let short = Duration::from_millis(50);
        let first = InFlight::acquire(&limit, short).await.unwrap();
        assert!(InFlight::acquire(&limit, short).await.is_none(), "full");
        first.release();
        let second = InFlight::acquire(&limit, short).await.unwrap();
        assert!(!first.reacquire().await, "taken by the second");
        drop(second);
        assert!(first.reacquire().await);
        assert_eq!(limit.available_permits(), 0);
        drop(first);
        assert_eq!(limit.available_permits(), 1);
    }
}
