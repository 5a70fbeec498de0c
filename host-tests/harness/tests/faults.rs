//! Injected faults, checked with a small hand-written plugin (`tests/plugins/probe.wat`)
//! that answers each request with 200 + the status its `proxy_log` call got.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use std::path::PathBuf;
use wsgate_harness::Harness;
use wsgate_harness::faults::{NotImported, Times};
use wsgate_harness::plugin::{HttpRequest, Plugin};
use wsgate_harness::status::Status;

fn probe() -> Plugin {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/probe.wat");
    Harness::load(&path).unwrap().start(b"", 0).unwrap()
}

fn request() -> HttpRequest {
    HttpRequest { headers: vec![(":method".into(), "GET".into()), (":path".into(), "/".into())], ..HttpRequest::default() }
}

/// The statuses of `requests` requests in a row.
fn statuses(plugin: &mut Plugin, requests: usize) -> Vec<u16> {
    (0..requests).map(|_| plugin.send(&request()).unwrap().status).collect()
}

#[test]
fn without_a_fault_every_call_works() {
    let mut plugin = probe();
    assert_eq!(statuses(&mut plugin, 2), [200, 200]);
    assert_eq!(plugin.logs().len(), 2);
    assert_eq!(plugin.failed_calls("proxy_log"), 0);
}

#[test]
fn a_failed_import_answers_the_chosen_status_and_does_none_of_its_work() {
    let mut plugin = probe();
    plugin.fail_import("proxy_log", Status::InternalFailure, Times::Always).unwrap();
    assert_eq!(statuses(&mut plugin, 3), [210, 210, 210]);
    assert!(plugin.logs().is_empty(), "nothing was logged: {:?}", plugin.logs());
    assert_eq!(plugin.failed_calls("proxy_log"), 3);
}

#[test]
fn a_fault_for_the_next_calls_ends_and_the_import_works_again() {
    let mut plugin = probe();
    plugin.fail_import("proxy_log", Status::ParseFailure, Times::Next(2)).unwrap();
    assert_eq!(statuses(&mut plugin, 3), [204, 204, 200]);
    assert_eq!(plugin.logs().len(), 1);
    assert_eq!(plugin.failed_calls("proxy_log"), 2);
}

#[test]
fn a_fault_on_one_import_leaves_the_others_alone() {
    let mut plugin = probe();
    plugin.fail_import("proxy_send_local_response", Status::InternalFailure, Times::Always).unwrap();
    let error = plugin.send(&request()).unwrap_err();
    assert!(format!("{error:#}").contains("never resumed or answered"), "{error:#}");
    assert_eq!(plugin.logs().len(), 1, "proxy_log still worked");
    assert_eq!(plugin.failed_calls("proxy_send_local_response"), 1);
}

#[test]
fn a_fault_on_an_import_the_plugin_lacks_is_refused() {
    let mut plugin = probe();
    assert_eq!(plugin.fail_import("proxy_http_call", Status::InternalFailure, Times::Always), Err(NotImported("proxy_http_call".into())));
    assert_eq!(plugin.fail_import("proxy_lgo", Status::InternalFailure, Times::Always).unwrap_err().to_string(), "the plugin does not import `proxy_lgo`");
}

#[test]
fn a_fault_planned_again_replaces_the_first_and_next_zero_cancels_it() {
    let mut plugin = probe();
    plugin.fail_import("proxy_log", Status::InternalFailure, Times::Always).unwrap();
    plugin.fail_import("proxy_log", Status::NotFound, Times::Next(1)).unwrap();
    assert_eq!(statuses(&mut plugin, 2), [201, 200]);
    plugin.fail_import("proxy_log", Status::InternalFailure, Times::Always).unwrap();
    plugin.fail_import("proxy_log", Status::InternalFailure, Times::Next(0)).unwrap();
    assert_eq!(statuses(&mut plugin, 1), [200]);
}
