//! wsgate-signatures: the two JWS signature checks wsgate verifies Google's tokens
//! with, and nothing else (no token parsing, no claims: `wsgate-core` owns those).

pub mod es256;
pub mod rs256;
