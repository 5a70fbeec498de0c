//! What every request of this VM shares, made once per (re)configuration: the gate,
//! the outbound engine, the metrics, the explanation headers waiting for their
//! responses, and where decision lines go.

use crate::metrics::Metrics;
use std::cell::RefCell;
use std::collections::HashMap;
use wsgate_core::config::{DecisionLogTo, Profile};
use wsgate_core::outbound::Outbound;
use wsgate_core::session::RandomSource;
use wsgate_core::{ConfigErrors, Gate};

/// Where one request stands. Its body and trailers pass only once it is
/// `Forwarded`: a request unknown here is treated as answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The decision is open; Envoy holds this much of the request.
    Open(Hold),
    /// Decided and forwarded.
    Forwarded,
    /// Answered here, a refusal or a failure.
    Answered,
}

/// What Envoy holds of one undecided request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hold {
    /// `Some`: the decision waits for the body, of which it reads at most this much.
    pub body_limit: Option<usize>,
    /// Body bytes Envoy holds, and whether that is all of it.
    pub body_size: usize,
    pub body_complete: bool,
}

pub struct Vm {
    pub gate: RefCell<Gate>,
    pub outbound: RefCell<Outbound>,
    pub metrics: Metrics,
    /// The opt-in explanation header of each decided request, by context id, until
    /// the upstream's response headers arrive.
    pub explanations: RefCell<HashMap<u32, Vec<(String, String)>>>,
    pub decision_log_to: DecisionLogTo,
    /// Where each request stands, by context id (see [`crate::hold`]).
    stages: RefCell<HashMap<u32, Stage>>,
    /// The bodies read for open decisions, for their later rounds.
    bodies: RefCell<HashMap<u32, Vec<u8>>>,
}

impl Vm {
    /// Parses and checks the plugin configuration.
    pub fn configure(config: &[u8]) -> Result<Vm, ConfigErrors> {
        // Secrets (`sign_in`'s) come from the VM's environment: Envoy's
        // `vm_config.environment_variables`, read through WASI.
        let mut gate = Gate::from_json_with_env(config, &|name| std::env::var(name).ok())?;
        gate.set_random_source(RandomSource::new(|bytes| getrandom::fill(bytes).is_ok()));
        let outbound = Outbound::new(&gate);
        let provider_name = |index: usize| gate.settings().verifier.provider(index).map_or_else(String::new, |p| p.name.to_string());
        let metric_names: Vec<_> = outbound.metrics().into_iter().map(|metric| (metric, metric.name(provider_name))).collect();
        Ok(Vm {
            metrics: if gate.settings().profile == Profile::ServiceExtensions { Metrics::disabled() } else { Metrics::define(&metric_names, true) },
            decision_log_to: gate.settings().decision_log_to,
            gate: RefCell::new(gate),
            outbound: RefCell::new(outbound),
            explanations: RefCell::default(),
            stages: RefCell::default(),
            bodies: RefCell::default(),
        })
    }

    /// Keeps `headers` for the response of request `context_id`.
    pub fn keep_explanation(&self, context_id: u32, headers: Vec<(String, String)>) {
        if !headers.is_empty()
            && let Ok(mut explanations) = self.explanations.try_borrow_mut()
        {
            explanations.insert(context_id, headers);
        }
    }

    /// Takes the headers kept for the response of request `context_id`.
    pub fn take_explanation(&self, context_id: u32) -> Vec<(String, String)> {
        self.explanations.try_borrow_mut().ok().and_then(|mut e| e.remove(&context_id)).unwrap_or_default()
    }
}

impl Vm {
    pub fn stage(&self, context_id: u32) -> Option<Stage> {
        self.stages.try_borrow().ok()?.get(&context_id).copied()
    }

    /// What Envoy holds of request `context_id`: nothing yet unless its decision is open.
    pub fn hold(&self, context_id: u32) -> Hold {
        match self.stage(context_id) {
            Some(Stage::Open(hold)) => hold,
            _ => Hold::default(),
        }
    }

    /// Records where request `context_id` stands; a decided one forgets its body.
    pub fn set_stage(&self, context_id: u32, stage: Stage) -> Result<(), String> {
        self.stages.try_borrow_mut().map_err(|_| "the request table is busy")?.insert(context_id, stage);
        if !matches!(stage, Stage::Open(_)) && let Ok(mut bodies) = self.bodies.try_borrow_mut() {
            bodies.remove(&context_id);
        }
        Ok(())
    }

    pub fn body(&self, context_id: u32) -> Option<Vec<u8>> {
        self.bodies.try_borrow().ok()?.get(&context_id).cloned()
    }

    pub fn keep_body(&self, context_id: u32, body: Vec<u8>) {
        if let Ok(mut bodies) = self.bodies.try_borrow_mut() {
            bodies.insert(context_id, body);
        }
    }

    /// Request `context_id` ended.
    pub fn forget(&self, context_id: u32) {
        if let Ok(mut stages) = self.stages.try_borrow_mut() {
            stages.remove(&context_id);
        }
        if let Ok(mut bodies) = self.bodies.try_borrow_mut() {
            bodies.remove(&context_id);
        }
    }
}
