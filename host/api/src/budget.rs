//! One memory budget for the request bodies in flight, across every connection and HTTP/2
//! stream of the listener (Kinesis and Firehose alike). Per-request limits (16 MiB for a
//! data action) bound one body, the connection limit bounds connections, but HTTP/2 lets each
//! connection carry hundreds of streams: without a shared budget, 1,024 connections could
//! make the host hold terabytes of bodies at once.
//!
//! A body takes its declared `Content-Length` from the budget before a byte of it is read
//! (a body without one takes its chunks as they come), and gives it back when the request
//! has been answered. What does not fit is refused at once with HTTP 503
//! `ServiceUnavailableException`: every AWS SDK retries a 503 with backoff, and it is
//! Firehose's own "back off and retry" error; the bytes already taken are released.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared budget, in bytes.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

/// Bytes of the budget held by one request until it is dropped.
#[derive(Debug)]
pub(crate) struct Held(Option<OwnedSemaphorePermit>);

/// Why a body was not collected.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The body is over the per-request limit (declared or as it arrived).
    TooLarge,
    /// The shared budget has no room for it now.
    Budget,
    /// The connection failed or the client stopped mid-body.
    Broken,
}

impl BodyBudget {
    pub(crate) fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// The budget's size.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Takes `n` more bytes into `held`, or none when they do not fit.
    fn take(&self, held: &mut Held, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        let Ok(n) = u32::try_from(n) else {
            return false;
        };
        match self.bytes.clone().try_acquire_many_owned(n) {
            Ok(p) => {
                match &mut held.0 {
                    Some(h) => h.merge(p),
                    None => held.0 = Some(p),
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Reads `body` (at most `limit` bytes), holding its size in the budget: `declared` up
    /// front when the client said it, then whatever arrives beyond that.
    pub(crate) async fn collect(
        &self,
        body: Body,
        declared: Option<u64>,
        limit: usize,
    ) -> Result<(Bytes, Held), Refused> {
        let mut held = Held(None);
        let mut have = 0usize;
        if let Some(n) = declared {
            let n = usize::try_from(n).map_err(|_| Refused::TooLarge)?;
            if n > limit {
                return Err(Refused::TooLarge);
            }
            if !self.take(&mut held, n) {
                return Err(Refused::Budget);
            }
            have = n;
        }
        let mut out = Vec::with_capacity(have);
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| Refused::Broken)?;
            let len = out.len() + chunk.len();
            if len > limit {
                return Err(Refused::TooLarge);
            }
            if len > have {
                if !self.take(&mut held, len - have) {
                    return Err(Refused::Budget);
                }
                have = len;
            }
            out.extend_from_slice(&chunk);
        }
        Ok((Bytes::from(out), held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn bodies_share_the_budget_and_give_it_back() {
        let budget = BodyBudget::new(10);
        let (a, held_a) = budget
            .collect(Body::from("123456"), Some(6), 100)
            .await
            .expect("fits");
        assert_eq!(&a[..], b"123456");
        // 4 bytes left: a declared 5 does not fit, an undeclared one fails as it arrives.
        assert_eq!(
            budget
                .collect(Body::from("12345"), Some(5), 100)
                .await
                .err(),
            Some(Refused::Budget)
        );
        assert_eq!(
            budget
                .collect(chunked(&[b"123", b"45"]), None, 100)
                .await
                .err(),
            Some(Refused::Budget)
        );
        // The failed attempts gave back what they took: 4 bytes still fit.
        let (_, held_b) = budget
            .collect(chunked(&[b"12", b"34"]), None, 100)
            .await
            .expect("fits");
        drop((held_a, held_b));
        let (c, _held) = budget
            .collect(Body::from("0123456789"), Some(10), 100)
            .await
            .expect("all of it once released");
        assert_eq!(c.len(), 10);
    }

    #[tokio::test]
    async fn the_per_request_limit_comes_first() {
        let budget = BodyBudget::new(1000);
        assert_eq!(
            budget.collect(Body::from("x"), Some(101), 100).await.err(),
            Some(Refused::TooLarge)
        );
        assert_eq!(
            budget
                .collect(chunked(&[&[b'x'; 60], &[b'x'; 60]]), None, 100)
                .await
                .err(),
            Some(Refused::TooLarge)
        );
    }
}
