// The playground's page: reads the forms, asks wsgate-core (compiled with wasm-bindgen,
// ./pkg) and draws its answers. All decisions come from the core; this file only
// renders them. Everything written into the page goes through textContent, never HTML:
// configurations and replay reports are other people's text.

import init, * as core from "./pkg/wsgate_playground.js";

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function answerOf(json) {
  const answer = JSON.parse(json);
  if (answer.error !== undefined) throw new Error(answer.error);
  return answer;
}

// ---- Configurations, their problems, and marks over the text ----

// Nothing can be asked before the core is loaded.
await init();

const editors = {
  a: { text: $("config-a"), layers: [$("backdrop-a"), $("rule-layer-a")], problems: $("problems-a"), marks: [] },
  b: { text: $("config-b"), layers: [$("backdrop-b"), $("rule-layer-b")], problems: $("problems-b"), marks: [] },
};

// Draws `marks` over `text` into `layer` (UTF-16 offsets, as the core reports them and
// as JavaScript strings count). A mark inside an earlier one is left out.
function drawLayer(layer, text, marks) {
  layer.replaceChildren();
  let at = 0;
  for (const mark of [...marks].sort((x, y) => x.start - y.start)) {
    if (mark.start < at) continue;
    layer.append(document.createTextNode(text.slice(at, mark.start)));
    const node = element("mark", mark.kind, text.slice(mark.start, mark.end));
    node.dataset.path = mark.path || "";
    layer.append(node);
    at = mark.end;
  }
  layer.append(document.createTextNode(text.slice(at) + "\n"));
}

// Problems on the lower layer, the deciding rule on its own above it, both behind the
// textarea and scrolled with it.
function drawMarks(editor) {
  const text = editor.text.value;
  const [problems, rule] = editor.layers;
  drawLayer(problems, text, editor.marks.filter((mark) => mark.kind !== "rule"));
  drawLayer(rule, text, editor.marks.filter((mark) => mark.kind === "rule"));
  syncScroll(editor);
}

function syncScroll(editor) {
  for (const layer of editor.layers) {
    layer.scrollTop = editor.text.scrollTop;
    layer.scrollLeft = editor.text.scrollLeft;
  }
}

function select(editor, span) {
  editor.text.focus();
  editor.text.setSelectionRange(span.start, span.end);
}

function check(editor) {
  const text = editor.text.value;
  editor.problems.replaceChildren();
  editor.marks = editor.marks.filter((mark) => mark.kind === "rule");
  if (text.trim() === "") {
    drawMarks(editor);
    return null;
  }
  let checked;
  try {
    checked = answerOf(core.check(text));
  } catch (error) {
    editor.problems.append(element("li", "error", error.message));
    drawMarks(editor);
    return null;
  }
  const list = [...checked.errors.map((p) => ["error", p]), ...checked.warnings.map((p) => ["warning", p])];
  for (const [kind, problem] of list) {
    const item = element("li", kind);
    item.dataset.path = problem.path;
    item.append(element("span", "path", problem.path || "(the document)"), element("span", "message", problem.message));
    if (problem.span) {
      editor.marks.push({ ...problem.span, kind, path: problem.path });
      item.tabIndex = 0;
      item.addEventListener("click", () => select(editor, problem.span));
      item.addEventListener("keydown", (event) => {
        if (event.key === "Enter") select(editor, problem.span);
      });
    }
    editor.problems.append(item);
  }
  if (checked.ok) {
    editor.problems.append(element("li", "ok", `ok: a valid ${checked.kind === "config" ? "plugin configuration" : "policy document"}`));
  }
  drawMarks(editor);
  return checked;
}

for (const editor of Object.values(editors)) {
  let pending;
  editor.text.addEventListener("input", () => {
    editor.marks = [];
    clearTimeout(pending);
    pending = setTimeout(() => check(editor), 150);
    drawMarks(editor);
  });
  editor.text.addEventListener("scroll", () => syncScroll(editor));
}

function loadFileInto(input, onText) {
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (file) onText(await file.text());
  });
}

loadFileInto($("file-a"), (text) => setConfig("a", text));
loadFileInto($("file-b"), (text) => setConfig("b", text));

function setConfig(which, text) {
  const editor = editors[which];
  editor.text.value = text;
  editor.marks = [];
  return check(editor);
}

// ---- One question ----

const commaList = (value) => value.split(/[\s,]+/).filter((word) => word !== "");
const optional = (value) => (value.trim() === "" ? null : value.trim());

function question() {
  const token = optional($("token").value);
  const asked = {
    method: $("method").value.trim() || "GET",
    host: $("host").value.trim(),
    path: $("path").value.trim() || "/",
  };
  if (token) {
    asked.token = token;
    asked.time = Number(optional($("time").value) ?? Math.floor(Date.now() / 1000));
  } else {
    Object.assign(asked, {
      email: optional($("email").value),
      groups: commaList($("groups").value),
      domain: optional($("domain").value),
      via: optional($("via").value),
      provider: optional($("provider").value),
    });
  }
  return asked;
}

function ask() {
  const editor = editors.a;
  const out = $("answer");
  out.replaceChildren();
  editor.marks = editor.marks.filter((mark) => mark.kind !== "rule");
  try {
    const answer = answerOf(core.ask(editor.text.value, JSON.stringify(question())));
    // The decision as `wsgate explain` prints it; dry-run's "would deny" beside it.
    const decision = element("p", `decision cell ${answer.effect}`, `${answer.effect} — ${answer.status} ${answer.code}`);
    out.append(decision);
    if (answer.outcome === "would_deny") out.append(element("span", "badge cell would_deny", "dry-run: would deny"));
    const facts = element("dl");
    const fact = (name, value, id) => {
      facts.append(element("dt", "", name));
      const detail = element("dd", "", value);
      if (id) detail.id = id;
      facts.append(detail);
      return detail;
    };
    const rule = fact("rule", answer.rule ?? "default (no rule matched)", "answer-rule");
    if (answer.rule_span) {
      editor.marks.push({ ...answer.rule_span, kind: "rule", path: "" });
      rule.classList.add("link");
      rule.addEventListener("click", () => select(editor, answer.rule_span));
    }
    fact("why", answer.why);
    fact("matched", `${answer.host} ${answer.path}`, "answer-path");
    if (answer.caller) {
      const via = answer.caller.via ? `, via ${answer.caller.via}` : "";
      fact("caller", `${answer.caller.email} (domain ${answer.caller.domain ?? "-"}, policy groups [${answer.caller.groups.join(", ")}]${via})`);
    } else if (answer.caller === null) {
      fact("caller", "anonymous");
    }
    for (const line of answer.dry_run ?? []) fact("dry-run", line);
    if (answer.log) fact("log", answer.log);
    out.append(facts);
  } catch (error) {
    out.append(element("p", "error", error.message));
  }
  drawMarks(editor);
}

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  ask();
});

// ---- The matrix ----

function requestLabel(column) {
  return `${column.method} ${column.host}${column.path}`;
}

function cellTitle(cell) {
  const rule = cell.rule ? `rule ${cell.rule}` : "the default";
  let title = `${cell.outcome.replace("_", " ")} (${cell.status} ${cell.code}) by ${rule}`;
  if (cell.before) {
    const was = cell.before.rule ? `rule ${cell.before.rule}` : "the default";
    title += `; before the change: ${cell.before.outcome.replace("_", " ")} (${cell.before.code}) by ${was}`;
  }
  return title;
}

const SHORT = { allow: "allow", deny: "deny", would_deny: "would deny" };

function drawMatrix(matrix) {
  const table = element("table");
  const head = element("tr");
  head.append(element("th", "corner", "caller \\ request"));
  for (const column of matrix.columns) {
    const th = element("th", "request", requestLabel(column));
    th.scope = "col";
    head.append(th);
  }
  table.appendChild(element("thead")).append(head);
  const body = table.appendChild(element("tbody"));
  matrix.rows.forEach((row, r) => {
    const tr = body.appendChild(element("tr"));
    const groups = row.groups.length ? ` [${row.groups.join(", ")}]` : "";
    const th = element("th", "caller", (row.email ?? "anonymous") + groups);
    th.scope = "row";
    tr.append(th);
    matrix.cells[r].forEach((cell, c) => {
      const td = element("td", `cell ${cell.outcome}`, SHORT[cell.outcome] ?? cell.outcome);
      td.title = cellTitle(cell);
      Object.assign(td.dataset, { row: r, column: c, outcome: cell.outcome, code: cell.code, rule: cell.rule ?? "" });
      if (cell.before) {
        td.classList.add("flipped");
        td.dataset.flipped = cell.before.outcome;
      }
      tr.append(td);
    });
  });
  return table;
}

function renderMatrix() {
  const started = performance.now();
  const summary = $("matrix-summary");
  const target = $("matrix");
  try {
    const before = editors.a.text.value;
    const after = editors.b.text.value.trim();
    const callers = $("callers").value;
    const requests = $("requests").value;
    const matrix = answerOf(after ? core.compare(before, after, callers, requests) : core.matrix(before, callers, requests));
    target.replaceChildren(drawMatrix(matrix));
    void target.offsetHeight; // lay the table out before the clock stops
    const elapsed = performance.now() - started;
    window.wsgateLastRender = { ms: elapsed, rows: matrix.rows.length, columns: matrix.columns.length, flipped: matrix.flipped };
    const change = after ? `; the proposed change flips ${matrix.flipped} cell${matrix.flipped === 1 ? "" : "s"}` : "";
    summary.textContent = `${matrix.rows.length} callers × ${matrix.columns.length} requests in ${elapsed.toFixed(1)} ms${change}.`;
  } catch (error) {
    target.replaceChildren();
    summary.textContent = "";
    summary.append(element("span", "error", error.message));
  }
}

$("render").addEventListener("click", renderMatrix);

// ---- Replay reports ----

function showReport(text) {
  const out = $("report");
  out.replaceChildren();
  let report;
  try {
    report = JSON.parse(text);
    if (!Array.isArray(report.cases)) throw new Error("not a `wsgate replay --json` report: it has no `cases`");
  } catch (error) {
    out.append(element("p", "error", error.message));
    return;
  }
  out.append(element("p", "summary", `${report.passed} passed, ${report.failed} failed`));
  const list = out.appendChild(element("ul", "cases"));
  for (const item of report.cases) {
    const li = list.appendChild(element("li", item.passed ? "passed" : "failed"));
    li.append(element("span", "verdict", item.passed ? "PASS" : "FAIL"), element("span", "name", item.name), element("span", "source", item.source));
    if (item.passed) continue;
    const table = li.appendChild(element("table", "diff"));
    const head = table.appendChild(element("tr"));
    head.append(element("th", "", "field"), element("th", "", "expected"), element("th", "", "actual"));
    for (const difference of item.differences ?? []) {
      // Reports before structured differences carried one line of text each.
      const { field, expected, actual } = typeof difference === "string" ? { field: difference, expected: "", actual: "" } : difference;
      const row = table.appendChild(element("tr"));
      row.append(element("td", "field", field), element("td", "expected", expected), element("td", "actual", actual));
    }
  }
}

loadFileInto($("report-file"), (text) => {
  $("report-text").value = text;
  showReport(text);
});
$("show-report").addEventListener("click", () => showReport($("report-text").value));

// ---- Ready ----

// Text typed or dropped in while the core was loading is checked now.
for (const editor of Object.values(editors)) {
  if (editor.text.value.trim() !== "") check(editor);
}

$("status").textContent = "Ready: wsgate-core is loaded.";
document.body.dataset.ready = "true";
