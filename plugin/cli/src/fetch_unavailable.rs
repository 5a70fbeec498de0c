//! `wsgate inline-keys --fetch` in a CLI built without the `fetch` feature (as `make
//! run` builds it, to spare compiling a TLS stack): it says how to get it.

pub fn fetch(_url: &str) -> Result<String, String> {
    Err("this wsgate was built without `fetch`: build the full CLI with `make cli`, or pipe the JWKS in (`curl -s URL | wsgate inline-keys … --jwks -`)".to_owned())
}
