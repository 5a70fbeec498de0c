//! What every request of this VM shares, made once per (re)configuration: the gate,
//! the outbound engine, the metrics, the explanation headers waiting for their
//! responses, and where decision lines go.

use crate::metrics::Metrics;
use std::cell::RefCell;
use std::collections::HashMap;
use wsgate_core::config::DecisionLogTo;
use wsgate_core::outbound::Outbound;
use wsgate_core::{ConfigErrors, Gate};

pub struct Vm {
    pub gate: RefCell<Gate>,
    pub outbound: RefCell<Outbound>,
    pub metrics: Metrics,
    /// The opt-in explanation header of each decided request, by context id, until
    /// the upstream's response headers arrive.
    pub explanations: RefCell<HashMap<u32, Vec<(String, String)>>>,
    pub decision_log_to: DecisionLogTo,
}

impl Vm {
    /// Parses and checks the plugin configuration.
    pub fn configure(config: &[u8]) -> Result<Vm, ConfigErrors> {
        let gate = Gate::from_json(config)?;
        let outbound = Outbound::new(&gate);
        let provider_name = |index: usize| gate.settings().verifier.provider(index).map_or_else(String::new, |p| p.name.clone());
        let metric_names: Vec<_> = outbound.metrics().into_iter().map(|metric| (metric, metric.name(provider_name))).collect();
        Ok(Vm {
            metrics: Metrics::define(&metric_names),
            decision_log_to: gate.settings().decision_log_to,
            gate: RefCell::new(gate),
            outbound: RefCell::new(outbound),
            explanations: RefCell::default(),
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
