//! When to try again: one backoff rule and one lapse rule for every outbound call
//! (key fetches, the access token, group names, membership checks), in milliseconds.

/// The first retry after a failure comes this long after it; each further failure
/// doubles the pause.
pub const FIRST_RETRY_MS: u64 = 1000;

/// A call that has not answered by its timeout plus this grace is given up on: its
/// answer was lost (the context or VM that made it went away), so it may be made again.
pub const LAPSE_GRACE_MS: u64 = 1000;

/// The pause after `earlier_failures` failures before this one (0 for the first):
/// `first`, `2 × first`, `4 × first` … never more than `max` (nor less than `first`).
pub fn pause(first: u64, earlier_failures: u32, max: u64) -> u64 {
    first.saturating_mul(1 << earlier_failures.min(20)).min(max.max(first))
}

/// The pause before the next try of anything outbound, after `earlier_failures`
/// consecutive failures, bounded by the configuration's `max_retry_ms`.
pub fn retry_pause_ms(earlier_failures: u32, max_retry_ms: u64) -> u64 {
    pause(FIRST_RETRY_MS, earlier_failures, max_retry_ms)
}

/// When a call started at `started_ms` with `timeout_ms` is given up on.
pub fn lapses_at(started_ms: u64, timeout_ms: u64) -> u64 {
    started_ms.saturating_add(timeout_ms).saturating_add(LAPSE_GRACE_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_up_to_the_bound() {
        let pauses: Vec<u64> = (0..8).map(|n| pause(1000, n, 60_000)).collect();
        assert_eq!(pauses, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
        assert_eq!(pause(1, u32::MAX, u64::MAX), 1 << 20, "the doubling itself is bounded");
        assert_eq!(pause(5, 0, 1), 5, "a bound below the first pause is the first pause");
    }

    #[test]
    fn every_retry_starts_at_one_second_and_every_call_lapses_one_second_after_its_timeout() {
        assert_eq!(retry_pause_ms(0, 60_000), 1000);
        assert_eq!(retry_pause_ms(3, 60_000), 8000);
        assert_eq!(lapses_at(10_000, 5000), 16_000);
        assert_eq!(lapses_at(u64::MAX, 5000), u64::MAX);
    }
}
