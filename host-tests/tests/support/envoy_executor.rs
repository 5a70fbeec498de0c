//! Real Envoy (with wsgate and the echo upstream) as a replay executor: what the
//! harness and the core must agree with. It needs the Envoy runner, so it lives here
//! on the test side, not in wsgate-harness.

use std::time::Duration;
use wsgate_harness::replay::executor::Executor;
use wsgate_harness::replay::outcome::Outcome;
use wsgate_host_tests::http;
use wsgate_host_tests::stack::Stack;

pub struct EnvoyExecutor<'a> {
    stack: &'a Stack,
    sent: u64,
}

impl<'a> EnvoyExecutor<'a> {
    pub fn new(stack: &'a Stack) -> Self {
        Self { stack, sent: 0 }
    }
}

impl Executor for EnvoyExecutor<'_> {
    /// Envoy keeps its own clock: `now` must be the real time. The echo upstream always
    /// answers 200, so only cases expecting that can run here.
    fn send(&mut self, headers: &[(String, String)], _upstream: (u16, &[(String, String)]), _now: u64) -> Result<Outcome, String> {
        self.sent += 1;
        let request_id = format!("replay-{}-{}", std::process::id(), self.sent);
        let pseudo = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_default();
        let mut plain: Vec<(&str, &str)> = headers.iter().filter(|(n, _)| !n.starts_with(':')).map(|(n, v)| (n.as_str(), v.as_str())).collect();
        plain.push(("host", pseudo(":authority")));
        plain.push(("x-request-id", &request_id));
        let response = http::request(self.stack.port(), pseudo(":method"), pseudo(":path"), &plain).map_err(|e| e.to_string())?;
        let forwarded = response.header("x-envoy-upstream-service-time").is_some();
        let upstream_headers = forwarded.then(|| {
            let echo = response.json();
            echo["headers"].as_object().map(|h| h.iter().map(|(n, v)| (n.clone(), v.as_str().unwrap_or_default().to_owned())).collect()).unwrap_or_default()
        });
        std::thread::sleep(Duration::from_millis(20));
        let logs = self.stack.envoy.log().lines().filter(|l| l.contains(&request_id)).map(str::to_owned).collect();
        Ok(Outcome {
            status: response.status,
            local_reply: !forwarded,
            body: if forwarded { String::new() } else { response.body.clone() },
            response_headers: response.headers,
            upstream_headers,
            logs,
        })
    }
}
