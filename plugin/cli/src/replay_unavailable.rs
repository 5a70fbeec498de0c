//! `wsgate replay` in a CLI built without the `replay` feature (as `make run` builds
//! it, to spare compiling wasmtime): it accepts any arguments and says how to get it.

use clap::Args;

#[derive(Args)]
pub struct ReplayArgs {
    /// Parsed only so that any arguments reach the message below.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _arguments: Vec<String>,
}

pub fn replay(_args: &ReplayArgs) -> Result<(), String> {
    Err("this wsgate was built without `replay` (it runs the .wasm in wasmtime, which takes minutes to compile): \
         build the full CLI with `make cli`, or `cargo build -p wsgate-cli --features replay`"
        .to_owned())
}
