//! wsgate's policy playground: [`api`]'s questions exported to the page with
//! wasm-bindgen, strings in and JSON strings out. The answers come from wsgate-core,
//! the code that runs in Envoy, compiled for the browser.

pub mod api;
pub mod locate;

use serde::Serialize;
use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;

fn to_json<T: Serialize>(answer: Result<T, String>) -> String {
    match answer.and_then(|value| serde_json::to_string(&value).map_err(|e| e.to_string())) {
        Ok(text) => text,
        Err(error) => json!({ "error": error }).to_string(),
    }
}

/// `wsgate validate`'s errors and warnings, each with its place in `text`.
#[wasm_bindgen]
pub fn check(text: &str) -> String {
    to_json(Ok(api::check(text)))
}

/// The decision for one caller (or token) and request, and the deciding rule's place.
#[wasm_bindgen]
pub fn ask(text: &str, question: &str) -> String {
    to_json(serde_json::from_str(question).map_err(|e| format!("question: {e}")).and_then(|asked| api::ask(text, &asked)))
}

/// Callers × requests (see [`api::matrix`]).
#[wasm_bindgen]
pub fn matrix(text: &str, callers: &str, requests: &str) -> String {
    to_json(api::matrix(text, callers, requests))
}

/// The matrix of `after`, marking the cells `before` decides otherwise.
#[wasm_bindgen]
pub fn compare(before: &str, after: &str, callers: &str, requests: &str) -> String {
    to_json(api::compare(before, after, callers, requests))
}
