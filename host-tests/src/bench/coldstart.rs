//! Where a Wasm filter's cold start goes, read from an Envoy log written at `--component-log-level wasm:trace`.

use serde_json::{Value, json};

/// Milliseconds between consecutive marks in Envoy's log (its timestamps have 1 ms
/// resolution, so a phase under 1 ms reads 0). The phases follow each other: their sum
/// is [`Split::total`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Envoy's own start: its first log line to `Base Wasm created`.
    pub envoy: u64,
    /// V8 compiling and instantiating the module: `Base Wasm created` to the first
    /// `Thread-Local Wasm created` (this includes the base VM's `_initialize`, if the
    /// module has one, because Envoy calls it right after instantiating).
    pub compile: u64,
    /// To the first `proxy_on_vm_start` returning: the first per-thread VM cloned from
    /// the base one, its `_initialize`, root context and `proxy_on_vm_start`.
    pub vm_start: u64,
    /// To the last `proxy_on_configure` returning before the first request: every other
    /// per-thread VM (the main thread's and each worker's) started, and
    /// `proxy_on_configure` in each.
    pub configure: u64,
    /// To the first request's `proxy_on_request_headers` returning: Envoy opening its
    /// listener, the client's first connection (it polls every few ms) and the plugin's
    /// first request.
    pub first_request: u64,
}

impl Split {
    /// Envoy's first log line to the first request the plugin answered.
    pub fn total(&self) -> u64 {
        self.envoy + self.compile + self.vm_start + self.configure + self.first_request
    }

    pub fn to_json(self) -> Value {
        json!({"envoy": self.envoy, "compile": self.compile, "vm_start": self.vm_start,
               "configure": self.configure, "first_request": self.first_request, "total": self.total()})
    }
}

const BASE_CREATED: &str = "Base Wasm created";
const THREAD_LOCAL_CREATED: &str = "Thread-Local Wasm created";
const VM_START_RETURN: &str = "[host<-vm] proxy_on_vm_start return";
const CONFIGURE_RETURN: &str = "[host<-vm] proxy_on_configure return";
const REQUEST_CALL: &str = "[host->vm] proxy_on_request_headers(";
const REQUEST_RETURN: &str = "[host<-vm] proxy_on_request_headers return";

/// Reads the split from Envoy's log; an error names the first mark it could not find
/// (Envoy not at `wasm:trace`, the log not flushed yet, or no request served).
pub fn parse(log: &str) -> Result<Split, String> {
    let lines: Vec<(u64, &str)> = log.lines().filter_map(|line| Some((timestamp_ms(line)?, line))).collect();
    let start = lines.first().map(|(at, _)| *at).ok_or("no timestamped line in Envoy's log")?;
    let base = first(&lines, 0, BASE_CREATED)?;
    let thread_local = first(&lines, base.1, THREAD_LOCAL_CREATED)?;
    let vm_started = first(&lines, thread_local.1, VM_START_RETURN)?;
    let request = first(&lines, vm_started.1, REQUEST_CALL)?;
    let configured = last_before(&lines, vm_started.1, request.1, CONFIGURE_RETURN)?;
    let answered = first(&lines, request.1, REQUEST_RETURN)?;
    // Threads write their lines in turn, so a line may carry a time a little before the
    // one above it: a phase never reads negative.
    Ok(Split {
        envoy: base.0.saturating_sub(start),
        compile: thread_local.0.saturating_sub(base.0),
        vm_start: vm_started.0.saturating_sub(thread_local.0),
        configure: configured.0.saturating_sub(vm_started.0),
        first_request: answered.0.saturating_sub(configured.0),
    })
}

/// The time and index of the first line at or after `from` containing `mark`.
fn first(lines: &[(u64, &str)], from: usize, mark: &str) -> Result<(u64, usize), String> {
    let found = lines.iter().enumerate().skip(from).find(|(_, (_, line))| line.contains(mark));
    found.map(|(index, (at, _))| (*at, index)).ok_or_else(|| format!("no `{mark}` in Envoy's log"))
}

/// The time and index of the last line in `from..until` containing `mark`.
fn last_before(lines: &[(u64, &str)], from: usize, until: usize, mark: &str) -> Result<(u64, usize), String> {
    let found = lines[from..until].iter().enumerate().rev().find(|(_, (_, line))| line.contains(mark));
    found.map(|(index, (at, _))| (*at, from + index)).ok_or_else(|| format!("no `{mark}` before the first request in Envoy's log"))
}

/// `[2026-11-26 15:15:11.278]…` → milliseconds since 1970 (Envoy logs local time; only
/// differences are used, and counting whole days keeps them right across midnight).
fn timestamp_ms(line: &str) -> Option<u64> {
    let stamp = line.strip_prefix('[')?.get(..23)?;
    let number = |range: std::ops::Range<usize>| stamp.get(range)?.parse::<u64>().ok();
    let days = days_from_civil(number(0..4)?, number(5..7)?, number(8..10)?)?;
    let seconds = ((days * 24 + number(11..13)?) * 60 + number(14..16)?) * 60 + number(17..19)?;
    Some(seconds * 1_000 + number(20..23)?)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day.checked_sub(1)?;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Envoy 1.40 starting wsgate.wasm (`--concurrency 1`), lines as logged; the ~70
    /// `proxy_define_metric` calls inside each `proxy_on_configure` left out.
    const WSGATE: &str = "\
[2026-11-26 15:15:11.278][28830][info][main] [source/server/server.cc:463] initializing epoch 0 (base id=0, hot restart version=disabled)
[2026-11-26 15:15:11.291][28830][info][config] [source/server/configuration_impl.cc:148] loading 1 listener(s)
[2026-11-26 15:15:11.300][28830][debug][wasm] [source/extensions/common/wasm/wasm.cc:83] Base Wasm created 1 now active
[2026-11-26 15:15:12.072][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] _initialize()
[2026-11-26 15:15:12.072][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] _initialize return: void
[2026-11-26 15:15:12.074][28830][debug][wasm] [source/extensions/common/wasm/wasm.cc:101] Thread-Local Wasm created 2 now active
[2026-11-26 15:15:12.074][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] _initialize()
[2026-11-26 15:15:12.075][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] _initialize return: void
[2026-11-26 15:15:12.075][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_context_create(1, 0)
[2026-11-26 15:15:12.075][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_context_create return: void
[2026-11-26 15:15:12.075][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_vm_start(1, 0)
[2026-11-26 15:15:12.075][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_vm_start return: 1
[2026-11-26 15:15:12.075][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_configure(1, 1616)
[2026-11-26 15:15:12.075][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_configure return: 1
[2026-11-26 15:15:12.075][28830][debug][wasm] [source/extensions/common/wasm/wasm.cc:144] ~Wasm 1 remaining active
[2026-11-26 15:15:12.077][28830][debug][wasm] [source/extensions/common/wasm/wasm.cc:101] Thread-Local Wasm created 2 now active
[2026-11-26 15:15:12.078][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_vm_start(1, 0)
[2026-11-26 15:15:12.078][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_vm_start return: 1
[2026-11-26 15:15:12.078][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_configure(1, 1616)
[2026-11-26 15:15:12.078][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_configure return: 1
[2026-11-26 15:15:12.079][28830][info][config] [source/common/listener_manager/listener_manager_impl.cc:1149] all dependencies initialized. starting workers
[2026-11-26 15:15:12.081][28836][debug][wasm] [source/extensions/common/wasm/wasm.cc:101] Thread-Local Wasm created 3 now active
[2026-11-26 15:15:12.082][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_vm_start(1, 0)
[2026-11-26 15:15:12.082][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_vm_start return: 1
[2026-11-26 15:15:12.082][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_configure(1, 1616)
[2026-11-26 15:15:12.082][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_configure return: 1
[2026-11-26 15:15:12.082][28830][info][main] [source/server/server.cc:1098] starting main dispatch loop
[2026-11-26 15:15:13.073][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_tick(1)
[2026-11-26 15:15:13.184][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_context_create(2, 1)
[2026-11-26 15:15:13.184][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_request_headers(2, 8, 1)
[2026-11-26 15:15:13.185][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [vm->host] env.proxy_get_current_time_nanoseconds(1048512)
[2026-11-26 15:15:13.185][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_request_headers return: 1
[2026-11-26 15:15:13.185][28836][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_log(2)
[2026-11-26 15:15:14.075][28830][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_configure(1, 1616)
";

    #[test]
    fn wsgate_start_splits_at_the_vm_marks() {
        let split = parse(WSGATE).unwrap();
        assert_eq!(split, Split { envoy: 22, compile: 774, vm_start: 1, configure: 7, first_request: 1103 });
        assert_eq!(split.total(), 1907);
    }

    /// A module without `_initialize` (the floor filter) has the same marks but one.
    #[test]
    fn a_module_without_initialize_splits_the_same_way() {
        let log = "\
[2026-11-26 15:16:03.821][29424][info][main] [source/server/server.cc:463] initializing epoch 0 (base id=0, hot restart version=disabled)
[2026-11-26 15:16:03.835][29424][debug][wasm] [source/extensions/common/wasm/wasm.cc:83] Base Wasm created 1 now active
[2026-11-26 15:16:03.842][29424][debug][wasm] [source/extensions/common/wasm/wasm.cc:101] Thread-Local Wasm created 2 now active
[2026-11-26 15:16:03.843][29424][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_vm_start return: 1
[2026-11-26 15:16:03.848][29430][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_configure return: 1
[2026-11-26 15:16:03.848][29424][info][main] [source/server/server.cc:1098] starting main dispatch loop
[2026-11-26 15:16:05.265][29430][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host->vm] proxy_on_request_headers(2, 8, 1)
[2026-11-26 15:16:05.265][29430][trace][wasm] [source/extensions/common/wasm/wasm_vm.cc:39] [host<-vm] proxy_on_request_headers return: 0
";
        assert_eq!(parse(log).unwrap(), Split { envoy: 14, compile: 7, vm_start: 1, configure: 5, first_request: 1417 });
    }

    #[test]
    fn a_log_not_at_trace_names_the_missing_mark() {
        let info_only: String = WSGATE.lines().filter(|l| !l.contains("][trace][")).map(|l| format!("{l}\n")).collect();
        assert_eq!(parse(&info_only).unwrap_err(), "no `[host<-vm] proxy_on_vm_start return` in Envoy's log");
    }

    #[test]
    fn timestamps_count_across_midnight() {
        let before = timestamp_ms("[2026-12-31 23:59:59.999][1][info][main] x").unwrap();
        let after = timestamp_ms("[2027-01-01 00:00:00.004][1][info][main] x").unwrap();
        assert_eq!(after - before, 5);
        assert_eq!(timestamp_ms("[1970-01-01 00:00:01.000]"), Some(1_000));
        assert_eq!(timestamp_ms("not a log line"), None);
    }
}
