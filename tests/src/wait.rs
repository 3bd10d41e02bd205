//! Waiting on conditions with a deadline: poll a predicate until it holds or time runs out.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often predicates are polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Polls `probe` every [`POLL_INTERVAL`] until it yields `Some(value)`, failing after
/// `timeout` with `what` and the last error the probe returned (errors count as "not yet").
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut interval = tokio::time::interval(POLL_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_err: Option<anyhow::Error> = None;
    loop {
        interval.tick().await;
        match probe().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = Some(e),
        }
        if Instant::now() >= deadline {
            return Err(match last_err {
                Some(e) => anyhow::anyhow!(
                    "timed out after {timeout:?} waiting for {what}: last error: {e:#}"
                ),
                None => anyhow::anyhow!("timed out after {timeout:?} waiting for {what}"),
            });
        }
    }
}

/// Polls `probe` until it returns `true`; see [`wait_for`].
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut probe: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    wait_for(what, timeout, || {
        let fut = probe();
        async move { Ok(fut.await?.then_some(())) }
    })
    .await
}

/// A blocking poll for non-async callers (drop paths, unit tests): checks `cond` every 20 ms
/// until it holds, or fails after `timeout`.
pub fn wait_until_sync(timeout: Duration, mut cond: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("condition not met within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_once_the_predicate_holds() {
        let mut n = 0;
        let got = wait_for("n to reach 3", Duration::from_secs(5), || {
            n += 1;
            let v = n;
            async move { Ok((v >= 3).then_some(v)) }
        })
        .await
        .expect("reaches 3");
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn times_out_naming_the_condition_and_last_error() {
        let err = wait_until("never", Duration::from_millis(250), || async {
            anyhow::bail!("still broken")
        })
        .await
        .expect_err("never holds");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("never") && msg.contains("still broken"),
            "{msg}"
        );
    }
}
