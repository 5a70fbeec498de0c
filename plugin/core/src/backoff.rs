//! The pause before retrying after consecutive failures: it doubles from a first
//! pause, up to a bound. One rule for key fetches, group lookups and the access token.

/// The pause after `earlier_failures` failures before this one (0 for the first):
/// `first`, `2 × first`, `4 × first` … never more than `max` (nor less than `first`).
/// Any unit, as long as all three agree.
pub fn pause(first: u64, earlier_failures: u32, max: u64) -> u64 {
    first.saturating_mul(1 << earlier_failures.min(20)).min(max.max(first))
}

#[cfg(test)]
mod tests {
    use super::pause;

    #[test]
    fn the_pause_doubles_up_to_the_bound() {
        let pauses: Vec<u64> = (0..8).map(|n| pause(1000, n, 60_000)).collect();
        assert_eq!(pauses, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
        assert_eq!(pause(1, u32::MAX, u64::MAX), 1 << 20, "the doubling itself is bounded");
        assert_eq!(pause(5, 0, 1), 5, "a bound below the first pause is the first pause");
    }
}
