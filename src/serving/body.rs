//! A request body read whole, bounded in size and in time: a slow body would otherwise hold
//! its connection and whatever the request holds for ever.

use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use futures_util::StreamExt;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than allowed (declared or as sent).
    TooLarge,
    /// The client went away or sent a malformed (e.g. chunked) body.
    Unreadable,
    /// Not complete within the deadline: the rest may still come, so the connection cannot
    /// carry another request.
    TimedOut,
}

/// The whole body, up to `max` bytes, within `deadline`.
pub async fn read(body: Body, max: usize, deadline: Duration) -> Result<Bytes, BodyError> {
    tokio::time::timeout(deadline, read_bounded(body, max))
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

async fn read_bounded(body: Body, max: usize) -> Result<Bytes, BodyError> {
    // A declared Content-Length past the limit is refused before reading anything.
    let declared = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    if declared > max {
        return Err(BodyError::TooLarge);
    }
    let mut buf = Vec::with_capacity(declared);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if buf.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}
