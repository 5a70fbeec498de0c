//! `make soak`: a long run of real traffic through real Envoy + wsgate.wasm, with the
//! Google stand-in rotating keys and changing a live group underneath, counting every
//! wrong answer in both directions and watching the plugin VM's memory. Never part of
//! `make test`. The binary is `src/bin/wsgate-soak.rs`; the run itself is [`run`].

pub mod client;
pub mod echo;
pub mod plan;
pub mod run;

/// The `q` quantile (0..=1) of sorted values, 0 when there are none.
pub fn quantile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
