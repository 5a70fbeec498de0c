//! wsgate-core: everything wsgate decides, with no proxy-wasm dependency.
//!
//! The proxy-wasm glue (`wsgate-filter`) reads a request's headers through
//! [`RequestHeaders`], passes the host's clock in, and carries out the returned
//! [`Action`]. Everything else — finding the token, verifying it against Google's keys,
//! applying the policy, deciding which group lookups matter and what their answers
//! mean, choosing the response and the log line — happens here and is tested with
//! plain `cargo test`. Whatever waits on the outside world (key fetches, the access
//! token, group lookups) is the I/O-free [`outbound`] engine: it emits calls and takes
//! answers and ticks; the glue only carries them. One clock: Unix milliseconds.

pub mod backoff;
pub mod browser;
pub mod cache;
pub mod config;
pub mod diagnostics;
pub mod document;
pub mod explain;
pub mod extract;
pub mod header_edit;
pub mod header_pairs;
pub mod header_syntax;
pub mod gate;
pub mod group_cache;
pub mod group_lookup;
pub mod jwk;
pub mod jwks;
pub mod key_refresh;
pub mod live_groups;
pub mod log;
#[cfg(any(test, feature = "mint"))]
pub mod mint;
#[cfg(any(test, feature = "mint"))]
pub mod mint_x509;
pub mod outbound;
pub mod policy;
pub mod policy_config;
pub mod provider;
pub mod reason;
pub mod request;
pub mod respond;
pub mod session;
pub mod settings;
pub mod verify;
pub mod x509_keys;

pub use gate::{Action, Gate, Verdict};
pub use wsgate_signatures::{es256, rs256};
pub use reason::Reason;
pub use request::{RequestHeaders, RequestSnapshot};
pub use respond::LocalResponse;
pub use diagnostics::{ConfigError, ConfigErrors};
pub use settings::Settings;
pub use verify::Identity;
