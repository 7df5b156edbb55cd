// The dashboard of wavespeed-mock: plain JavaScript, no framework, no build step.
//
// Everything it shows it reads from the control API (/_mock/), and everything it
// changes it changes through it, so it shows nothing that API does not. Text from
// the fake (job inputs, journaled bodies, rule ids) is only ever set as text, never
// parsed as HTML. It polls the view that is open every POLL_MS (the clock too),
// with `X-Mock-Journal: skip` so its reads never push a client's requests out of
// the journal.
"use strict";

(() => {
  const API = new URL(".", location.href); // the page is /_mock/dashboard: this is /_mock/
  const query = new URLSearchParams(location.search);
  // How often the open view is read again, in ms (?poll=N: 100 to 10000; the tests use less).
  const POLL_MS = Math.min(10000, Math.max(100, Number(query.get("poll")) || 500));
  const JOBS_SHOWN = 100;
  const REQUESTS_KEPT = 500;
  const TOKEN_KEY = "wavespeed-mock.control-token";
  const VIEWS = ["jobs", "accounts", "requests", "rules"];
  const TERMINAL = new Set(["completed", "failed", "timeout", "cancelled"]);
  const REFUNDED = new Set(["failed", "timeout", "cancelled"]); // the charge comes back
  // A number as the control API's JSON takes one (the forms send numbers as numbers, so
  // the API's own message, "must be >= 0", is what the page shows).
  const NUMBER = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let waitingForToken = false;
  let clockNowMs = 0;
  const seen = new Map(); // what each part of the page last rendered, as JSON
  const journal = { id: null, last: null, entries: [], filter: "" };

  const $ = (selector) => document.querySelector(selector);

  // --- the control API ---------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.details = (body && body.details) || [];
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (method === "GET") headers["X-Mock-Journal"] = "skip";
    if (token) headers["X-Mock-Token"] = token;
    const init = { method, headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(new URL(path, API), init);
    } catch {
      throw new ApiError(0, { message: "the mock does not answer: is it still running?" });
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok) {
      const error = new ApiError(response.status, payload);
      if (response.status === 403 && /X-Mock-Token/.test(error.message)) askForToken(error.message);
      throw error;
    }
    return payload.data;
  }

  // --- building the page ---------------------------------------------------------

  // An element with attributes and children; strings become text nodes, never HTML.
  function h(tag, attributes, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") element.className = value;
      else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : String(child));
    }
    return element;
  }

  // Replace a container's children, keeping the keyboard focus on the element with the
  // same data-key (a live update must not throw a keyboard user back to the top).
  function swap(container, ...nodes) {
    const active = document.activeElement;
    const key = active && container.contains(active) ? active.getAttribute("data-key") : null;
    container.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
    if (key) {
      const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (again) again.focus();
    }
  }

  // Whether `data` differs from what `part` showed last (nothing to redraw otherwise).
  function changed(part, data) {
    const text = JSON.stringify(data);
    if (seen.get(part) === text) return false;
    seen.set(part, text);
    return true;
  }

  // An account's short, stable label: its id's first 13 characters, as the log shows it
  // (acct_ and 8 hex digits of a hash of the key). Never the key: the fake keeps none.
  const label = (account) => (account ? account.slice(0, 13) : "no key");
  const time = (iso) => (iso ? iso.slice(11, 23) : "never");
  const dateTime = (iso) => iso.replace("T", " ").replace("Z", " UTC");
  // USD as the page shows it everywhere: at least two decimals, every micro-dollar kept
  // (the API's amounts are numbers like 42.5 or decimal strings like "0.15").
  function usd(amount) {
    if (amount === null || amount === undefined) return "–";
    let text = String(amount);
    const sign = text.startsWith("-") ? "-" : "";
    if (sign) text = text.slice(1);
    const [whole, fraction = ""] = text.split(".");
    return `${sign}$${whole}.${fraction.padEnd(2, "0")}`;
  }
  const pretty = (value) => JSON.stringify(value, null, 2);

  function say(text, kind = "info") {
    const status = $("#status");
    status.textContent = text;
    status.className = kind;
  }

  function table(tbody, rows, empty) {
    swap(tbody, ...rows);
    $(empty).hidden = rows.length > 0;
  }

  // --- the token -----------------------------------------------------------------

  function askForToken(reason) {
    waitingForToken = true;
    const form = $("#token-form");
    $("#token-why").textContent = `The control API answered: ${reason}.`;
    if (form.hidden) {
      form.hidden = false;
      form.elements.token.focus();
    }
  }

  $("#token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    token = form.elements.token.value;
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await api("GET", "clock"); // the API says whether it takes this token
    } catch (error) {
      form.elements.token.select();
      if (error.status === 403) {
        $("#token-why").textContent = `The control API refused this token: ${error.message}.`;
        say("Token refused: enter the one serve was started with (--control-token).", "error");
      } else {
        say(error.message, error.status === 0 ? "offline" : "error");
      }
      return;
    }
    form.hidden = true;
    form.reset();
    waitingForToken = false;
    seen.clear();
    say("Token accepted.");
    refreshSoon();
  });

  // --- the clock -----------------------------------------------------------------

  async function refreshClock() {
    const clock = await api("GET", "clock");
    clockNowMs = clock.now_ms;
    if (!changed("clock", clock)) return;
    $("#clock-now").textContent = dateTime(clock.now);
    const steerable = clock.kind !== "system";
    $("#clock-kind").textContent = `${clock.frozen ? "frozen" : "flowing"} (${clock.kind} clock)`;
    const freeze = $("#clock-freeze");
    const resume = $("#clock-resume");
    freeze.disabled = clock.kind !== "offset" || clock.frozen;
    resume.disabled = clock.kind !== "offset" || !clock.frozen;
    freeze.title = resume.title = clock.kind === "manual" ? "a manual clock is always frozen" : "";
    for (const control of document.querySelectorAll("#clock-advance button, #clock-idle")) {
      control.disabled = !steerable;
    }
  }

  async function steer(body, done) {
    try {
      await api("POST", "clock", body);
      say(done);
    } catch (error) {
      say(`Clock: ${error.message}`, "error");
    }
    refreshSoon();
  }

  $("#clock-freeze").addEventListener("click", () => steer({ action: "freeze" }, "Clock frozen."));
  $("#clock-resume").addEventListener("click", () => steer({ action: "resume" }, "Clock resumed."));
  $("#clock-idle").addEventListener("click", () =>
    steer({ action: "run_until_idle" }, "Ran the clock until every job that can finish has."),
  );
  $("#clock-advance").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = event.target.elements.seconds.value.trim();
    const seconds = NUMBER.test(text) ? Number(text) : text;
    steer({ action: "advance", seconds }, `Advanced the clock by ${text} s.`);
  });

  // --- jobs ----------------------------------------------------------------------

  function timeline(job) {
    const steps = [
      ["created", job.created_at],
      ["processing", job.started_at],
      [job.outcome.status, job.finished_at],
    ];
    const parts = [];
    for (const [name, at] of steps) {
      const planned = !at || Date.parse(at) > clockNowMs;
      if (parts.length) parts.push(h("span", { class: "arrow", "aria-hidden": "true" }, " → "));
      parts.push(
        h(
          "span",
          { class: planned ? "step planned" : "step", title: at || "never" },
          `${name} ${time(at)}`,
          planned && at ? " (planned)" : "",
        ),
      );
    }
    return parts;
  }

  function outcome(job) {
    if (!TERMINAL.has(job.status)) return h("span", { class: "planned" }, `will end ${job.outcome.status}`);
    const code = job.outcome.code ? ` · task code ${job.outcome.code}` : "";
    return h("span", { class: `badge ${job.status}` }, `${job.status}${code}`);
  }

  function jobRow(job) {
    const quote = job.quote || {};
    const selected = route().id === job.id;
    return h(
      "tr",
      { class: selected ? "selected" : null, "data-job": job.id },
      h("td", {}, h("a", { href: `#jobs/${job.id}`, "data-key": `job-${job.id}`, title: job.id }, job.id.slice(0, 12))),
      h("td", { title: job.account }, label(job.account)),
      h("td", {}, job.model.replace(/^wavespeed-ai\//, "")),
      h("td", {}, h("span", { class: `badge ${job.status}` }, job.status)),
      h("td", { class: "timeline" }, timeline(job)),
      h("td", { class: "num" }, quote.billed_seconds === undefined ? "–" : `${quote.billed_seconds} s`),
      h("td", { class: "num" }, usd(quote.cost_usd), REFUNDED.has(job.status) && quote.cost_usd !== undefined ? " refunded" : ""),
      h("td", {}, outcome(job)),
      h("td", {}, job.outcome.nsfw ? h("span", { class: "badge nsfw" }, "NSFW") : "no"),
    );
  }

  function fillAccounts(select, accounts) {
    const chosen = select.value;
    const options = accounts.map((a) => h("option", { value: a.account, title: a.account }, a.label));
    swap(select, h("option", { value: "" }, "any"), ...options);
    select.value = accounts.some((a) => a.account === chosen) ? chosen : "";
  }

  async function refreshAccountChoices() {
    const data = await api("GET", "accounts");
    if (!changed("account-choices", data)) return;
    for (const select of document.querySelectorAll("select[name=account]")) fillAccounts(select, data.accounts);
  }

  async function refreshJobs(id) {
    const filter = $("#jobs-filter").elements;
    const params = new URLSearchParams({ limit: String(JOBS_SHOWN) });
    if (filter.account.value) params.set("account", filter.account.value);
    if (filter.status.value) params.set("status", filter.status.value);
    const data = await api("GET", `jobs?${params}`);
    // Redrawn only when something shown changes (a redraw would drop a text selection):
    // the jobs, the selection, or which steps of their timelines are still to come.
    const planned = data.jobs.map((j) => [j.created_at, j.started_at, j.finished_at].map((at) => !at || Date.parse(at) > clockNowMs));
    if (changed("jobs", { data, id, planned })) {
      table($("#jobs-table tbody"), data.jobs.slice().reverse().map(jobRow), "#jobs-empty");
      await refreshAccountChoices(); // a new job may be a new account's
    }
    const detail = $("#job-detail");
    if (!id) {
      detail.hidden = true;
      seen.delete("job");
      return;
    }
    let job;
    try {
      job = await api("GET", `jobs/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error.status !== 404) throw error;
      if (changed("job", id)) swap(detail, h("p", {}, `No job ${id}: ${error.message}.`));
      detail.hidden = false;
      return;
    }
    if (changed("job", job)) renderJob(detail, job);
    detail.hidden = false;
  }

  function facts(pairs) {
    return h("dl", {}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  function ledgerRows(entries) {
    return entries.map((e) =>
      h(
        "tr",
        { class: e.kind },
        h("td", { title: e.at }, time(e.at)),
        h("td", {}, e.kind),
        h("td", { class: "num" }, e.amount), // formatted by the API: -$0.15
        h("td", {}, e.job_id ? h("a", { href: `#jobs/${e.job_id}` }, e.job_id.slice(0, 12)) : ""),
        h("td", {}, e.note),
        h("td", {}, e.in_effect ? "yes" : "not yet"),
      ),
    );
  }

  function deliveries(list) {
    if (!list.length) return h("p", { class: "empty" }, "No webhook for this job.");
    return list.map((d) =>
      h(
        "div",
        { class: "delivery" },
        facts([
          ["Webhook", d.url],
          ["State", d.state],
          ["Delivery id", d.id],
          ["Next attempt", d.next_attempt_ms === null ? null : time(new Date(d.next_attempt_ms).toISOString())],
        ]),
        d.attempts.length
          ? h(
              "table",
              {},
              h("caption", {}, "Attempts"),
              h("thead", {}, h("tr", {}, ["When", "Answer", "Error", "ms"].map((t) => h("th", { scope: "col" }, t)))),
              h(
                "tbody",
                {},
                d.attempts.map((a) =>
                  h(
                    "tr",
                    {},
                    h("td", {}, time(new Date(a.at_ms).toISOString())),
                    h("td", {}, a.status === null ? "no answer" : String(a.status)),
                    h("td", {}, a.error),
                    h("td", { class: "num" }, String(a.duration_ms)),
                  ),
                ),
              ),
            )
          : h("p", { class: "empty" }, "No attempt yet."),
      ),
    );
  }

  function renderJob(detail, job) {
    const quote = job.quote;
    const opened = detail.querySelector("details[open]") !== null;
    const old = detail.querySelector("video");
    let video = null;
    if (job.output_url) {
      const path = new URL(job.output_url, location.href).pathname; // this origin's copy
      video = old && old.getAttribute("src") === path ? old : h("video", { src: path, controls: true, preload: "metadata", "aria-label": `Output of job ${job.id}` });
    }
    swap(
      detail,
      h("h3", { id: "job-detail-title", tabindex: "-1" }, `Job ${job.id}`),
      facts([
        ["Account", `${label(job.account)} (${job.account})`],
        ["Model", job.model],
        ["Status", h("span", { class: `badge ${job.status}` }, job.status)],
        ["Timeline", h("span", { class: "timeline" }, timeline(job))],
        ["Outcome", `${job.outcome.status}${job.outcome.code ? `, task code ${job.outcome.code}` : ""}${job.outcome.error ? `: ${job.outcome.error}` : ""}`],
        ["NSFW", job.outcome.nsfw ? "yes" : "no"],
        ["Seed", String(job.seed)],
        ["Billed", quote ? `${quote.billed_seconds} s for ${usd(quote.cost_usd)}` : "not priced (the inputs could not be read)"],
        ["Rule", quote ? quote.rule : null],
      ]),
      video ? h("div", { class: "output" }, h("h4", {}, "Output"), video) : null,
      h("h4", {}, "Charge and refund"),
      job.ledger.length
        ? h("table", { class: "ledger" }, h("thead", {}, h("tr", {}, ["When", "Kind", "Amount", "Job", "Note", "In effect"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, ledgerRows(job.ledger)))
        : h("p", { class: "empty" }, "Nothing charged."),
      h("h4", {}, "Webhook deliveries"),
      deliveries(job.deliveries),
      h("h4", {}, "Input"),
      h("pre", {}, pretty(job.input)),
      h("details", { open: opened }, h("summary", {}, "Plan and quote, as the control API answers them"), h("pre", {}, pretty({ ...job, ledger: undefined, deliveries: undefined, input: undefined }))),
    );
  }

  $("#jobs-filter").addEventListener("change", () => refreshSoon());

  // --- accounts ------------------------------------------------------------------

  async function refreshAccounts(id) {
    const data = await api("GET", "accounts");
    if (changed("accounts", data)) {
      const rows = data.accounts.map((a) =>
        h(
          "tr",
          { class: route().id === a.account ? "selected" : null },
          h("td", {}, h("a", { href: `#accounts/${a.account}`, "data-key": `account-${a.account}` }, a.label)),
          h("td", { class: "mono" }, a.account),
          h("td", { class: "num" }, usd(a.balance)),
        ),
      );
      table($("#accounts-table tbody"), rows, "#accounts-empty");
    }
    const detail = $("#account-detail");
    if (!id) {
      detail.hidden = true;
      return;
    }
    const account = await api("GET", `accounts/${encodeURIComponent(id)}`);
    $("#account-title").textContent = `Account ${account.label} (${account.account})`;
    $("#account-balance").textContent = usd(account.balance);
    if (changed("ledger", account)) swap($("#ledger-table tbody"), ...ledgerRows(account.entries));
    detail.hidden = false;
  }

  $("#balance-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const error = form.querySelector(".form-error");
    const text = form.elements.balance.value.trim();
    const id = route().id;
    // An amount the API takes as a string is sent as typed (exact to the micro-dollar);
    // any other number as a number, so the API says what is wrong with it ("must be >= 0").
    const exact = /^\d{1,10}(\.\d{1,6})?$/.test(text);
    const balance = !exact && NUMBER.test(text) ? Number(text) : text;
    try {
      const answer = await api("PUT", `accounts/${encodeURIComponent(id)}/balance`, { balance });
      error.textContent = "";
      form.reset();
      say(`Set the balance of ${label(id)} to ${usd(answer.balance)}.`);
    } catch (failure) {
      error.textContent = failure.message;
    }
    refreshSoon();
  });

  // --- requests ------------------------------------------------------------------

  function problem(entry) {
    // A stub's answer is the rule's, not the fake's: say so first (the spec check of
    // that answer, if any, follows).
    const parts = entry.stub ? [`answered by stub rule ${entry.stub}`] : [];
    parts.push(...entry.violations.map((v) => `${v.field}: ${v.reason}`));
    if (!entry.stub && !entry.violations.length && entry.status >= 400 && entry.response && entry.response.message) {
      parts.push(entry.response.message);
    }
    if (entry.fault) parts.push(`fault rule ${entry.fault}`);
    return parts.join("; ");
  }

  function requestParams() {
    const filter = $("#requests-filter").elements;
    const params = new URLSearchParams();
    for (const name of ["method", "path", "status", "account"]) {
      const value = filter[name].value.trim();
      if (value) params.set(name, value);
    }
    if (filter.show.value === "invalid") params.set("invalid", "true");
    return params;
  }

  function shown(entry) {
    const filter = $("#requests-filter").elements;
    if (!filter.control.checked && entry.path.startsWith("/_mock/")) return false;
    if (filter.show.value === "refused") return entry.status >= 400;
    return true;
  }

  async function refreshRequests(seq) {
    if (journal.last === null) await refreshAccountChoices(); // with every new filter
    const params = requestParams();
    const key = params.toString();
    if (key !== journal.filter) Object.assign(journal, { id: null, last: null, entries: [], filter: key });
    params.set("limit", "200");
    if (journal.last !== null) params.set("after", String(journal.last));
    const error = $("#requests-filter .form-error");
    let data;
    try {
      data = await api("GET", `journal?${params}`);
      error.textContent = "";
    } catch (failure) {
      if (failure.status !== 400) throw failure;
      error.textContent = failure.message; // a filter the API refuses, in its words
      return;
    }
    if (journal.id !== null && data.journal !== journal.id) {
      // Another worker answered: its entries are another journal's, numbered apart.
      Object.assign(journal, { id: null, last: null, entries: [] });
      return refreshRequests(seq);
    }
    journal.id = data.journal;
    if (data.entries.length) {
      journal.entries = journal.entries.concat(data.entries).slice(-REQUESTS_KEPT);
      journal.last = journal.entries[journal.entries.length - 1].seq;
    } else if (journal.last === null) {
      journal.last = 0;
    }
    const visible = journal.entries.filter(shown).reverse();
    if (changed("requests", { ids: visible.map((e) => e.seq), seq, control: $("#requests-filter").elements.control.checked })) {
      const rows = visible.map((e) => {
        const what = problem(e);
        const kind = e.violations.length ? "invalid" : e.status >= 400 ? "refused" : null;
        return h(
          "tr",
          { class: [kind, String(e.seq) === seq ? "selected" : null].filter(Boolean).join(" ") || null },
          h("td", {}, h("a", { href: `#requests/${e.seq}`, "data-key": `request-${e.seq}` }, String(e.seq))),
          h("td", { title: e.at }, time(e.at)),
          h("td", { class: "mono" }, `${e.method} ${e.path}${e.query ? `?${e.query}` : ""}`),
          h("td", { title: e.account || "" }, label(e.account)),
          h("td", {}, h("span", { class: `badge http${String(e.status)[0]}` }, String(e.status))),
          h("td", { class: "num" }, String(e.duration_ms)),
          h("td", { class: "problem" }, what),
        );
      });
      table($("#requests-table tbody"), rows, "#requests-empty");
    }
    const detail = $("#request-detail");
    if (!seq) {
      detail.hidden = true;
      return;
    }
    const entry = journal.entries.find((e) => String(e.seq) === seq);
    if (changed("request", entry || seq)) {
      if (!entry) {
        swap(detail, h("p", {}, `Request #${seq} is not among those shown (another filter, or dropped).`));
      } else {
        swap(
          detail,
          h("h3", { tabindex: "-1" }, `Request #${entry.seq}: ${entry.method} ${entry.path}`),
          facts([
            ["When (fake clock)", dateTime(entry.at)],
            ["Query", entry.query],
            ["Account", entry.account ? `${label(entry.account)} (${entry.account})` : "no key"],
            ["Status", String(entry.status)],
            ["Took", `${entry.duration_ms} ms`],
            ["Fault rule", entry.fault],
            ["Stub rule", entry.stub ? `${entry.stub} (the rule's answer, not the fake's)` : null],
          ]),
          entry.violations.length
            ? h("div", { class: "violations" }, h("h4", {}, "Spec violations"), h("ul", {}, entry.violations.map((v) => h("li", {}, h("code", {}, v.field), ` (${v.location}): ${v.reason}`))))
            : null,
          h("h4", {}, "Request body"),
          entry.request === null ? h("p", { class: "empty" }, "None kept (only JSON bodies up to 64 KiB are).") : h("pre", {}, pretty(entry.request)),
          h("h4", {}, "Answer body"),
          entry.response === null ? h("p", { class: "empty" }, "None kept (only JSON bodies up to 64 KiB are).") : h("pre", {}, pretty(entry.response)),
        );
      }
    }
    detail.hidden = false;
  }

  $("#requests-filter").addEventListener("change", () => refreshSoon());
  $("#requests-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    refreshSoon();
  });

  // --- rules ---------------------------------------------------------------------

  function deleteButton(kind, rule) {
    const what = RULE_KINDS[kind];
    return h(
      "button",
      {
        type: "button",
        "data-key": `delete-${kind}-${rule.id}`,
        "aria-label": `Delete ${what} rule ${rule.id}`,
        onclick: async () => {
          try {
            await api("DELETE", `${kind}/${encodeURIComponent(rule.id)}`);
            say(`Deleted ${what} rule ${rule.id}.`);
          } catch (error) {
            say(error.message, "error");
          }
          refreshSoon();
        },
      },
      "Delete",
    );
  }

  const RULE_KINDS = { faults: "fault", scenarios: "scenario", stubs: "stub" };

  const times = (rule) => (rule.times === null || rule.times === undefined ? "every" : String(rule.times));

  async function refreshRules() {
    const [faults, scenarios, stubs] = await Promise.all([api("GET", "faults"), api("GET", "scenarios"), api("GET", "stubs")]);
    if (changed("faults", faults)) {
      const rows = faults.faults.map((r) => {
        const detail = r.kind === "status" ? `${r.status}${r.retry_after !== null ? `, Retry-After ${r.retry_after}` : ""}` : r.latency_ms !== null ? `${r.latency_ms} ms` : "";
        return h(
          "tr",
          { "data-rule": r.id },
          h("td", {}, r.id),
          h("td", {}, `${r.kind} ${detail}`.trim()),
          h("td", { class: "mono" }, `${r.method || "any"} ${r.path}${r.api_key ? " (one key)" : ""}`),
          h("td", {}, times(r)),
          h("td", { class: "num counter-matched" }, String(r.matched)),
          h("td", { class: "num counter-applied" }, String(r.applied)),
          h("td", {}, deleteButton("faults", r)),
        );
      });
      swap($("#faults-table tbody"), ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No fault rule."))]));
    }
    if (changed("scenarios", scenarios)) {
      const rows = scenarios.scenarios.map((r) => {
        const match = [r.match.prompt_contains ? `prompt contains "${r.match.prompt_contains}"` : null, r.match.api_key ? "one key" : null, Object.keys(r.match.input || {}).length ? `input ${JSON.stringify(r.match.input)}` : null].filter(Boolean).join(", ");
        return h(
          "tr",
          { "data-rule": r.id },
          h("td", {}, r.id),
          h("td", {}, `${r.then}${r.code ? ` (task code ${r.code})` : ""}`),
          h("td", {}, match || "every job"),
          h("td", {}, times(r)),
          h("td", { class: "num counter-matched" }, String(r.matched)),
          h("td", { class: "num counter-applied" }, String(r.applied)),
          h("td", {}, deleteButton("scenarios", r)),
        );
      });
      swap($("#scenarios-table tbody"), ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No scenario rule."))]));
    }
    if (changed("stubs", stubs)) {
      const rows = stubs.stubs.map((r) => {
        const match = [
          r.api_key ? "one key" : null,
          Object.keys(r.query || {}).length ? `query ${JSON.stringify(r.query)}` : null,
          Object.keys(r.input || {}).length ? `input ${JSON.stringify(r.input)}` : null,
        ].filter(Boolean);
        const body = ["json", "text", "base64"].find((name) => name in r);
        return h(
          "tr",
          { "data-rule": r.id },
          h("td", {}, r.id),
          h("td", { class: "mono" }, `${r.method || "any"} ${r.path}${match.length ? ` (${match.join(", ")})` : ""}`),
          h("td", {}, `${r.status}${body ? ` with a ${body} body` : ""}`),
          h("td", {}, times(r)),
          h("td", { class: "num counter-matched" }, String(r.matched)),
          h("td", { class: "num counter-applied" }, String(r.applied)),
          h("td", {}, deleteButton("stubs", r)),
        );
      });
      swap($("#stubs-table tbody"), ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No stub rule."))]));
    }
  }

  // A form's fields as the API's body: empty fields left out, numbers sent as numbers
  // when they read as one and as typed otherwise, so the API's own validation (and its
  // message, naming the field) decides, exactly as for any other client.
  function ruleBody(form) {
    const body = {};
    for (const field of form.querySelectorAll("input, select")) {
      const text = field.value.trim();
      if (!field.name || text === "") continue;
      let value = field.dataset.type === "number" && NUMBER.test(text) ? Number(text) : text;
      if (field.dataset.type === "json") {
        try {
          value = JSON.parse(text);
        } catch (error) {
          const reason = `is not JSON (${error.message})`;
          throw new ApiError(400, { message: `field "${field.name}" ${reason}`, details: [{ field: field.name, reason }] });
        }
      }
      const [head, tail] = field.name.split(".");
      if (tail) body[head] = { ...(body[head] || {}), [tail]: value };
      else body[head] = value;
    }
    return body;
  }

  for (const form of document.querySelectorAll(".rule-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = form.querySelector(".form-error");
      for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
      try {
        const rule = await api("POST", form.dataset.kind, ruleBody(form));
        error.textContent = "";
        form.reset();
        say(`Added ${RULE_KINDS[form.dataset.kind]} rule ${rule.id}.`);
      } catch (failure) {
        error.textContent = failure.message;
        for (const detail of failure.details) {
          const field = form.querySelector(`[name="${CSS.escape(detail.field)}"]`);
          if (field) field.setAttribute("aria-invalid", "true");
        }
      }
      refreshSoon();
    });
  }

  // --- the loop ------------------------------------------------------------------

  function route() {
    const [view, ...rest] = location.hash.slice(1).split("/");
    const id = rest.join("/");
    return { view: VIEWS.includes(view) ? view : "jobs", id: id ? decodeURIComponent(id) : null };
  }

  const refresh = { jobs: refreshJobs, accounts: refreshAccounts, requests: refreshRequests, rules: refreshRules };

  function show() {
    const { view, id } = route();
    for (const name of VIEWS) {
      $(`#view-${name}`).hidden = name !== view;
      const link = $(`nav a[data-view=${name}]`);
      if (name === view) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.title = `${view[0].toUpperCase()}${view.slice(1)} · wavespeed-mock`;
    return id;
  }

  let timer = null;
  let busy = false;
  let again = false;
  let focusDetail = false;

  function focusShownDetail() {
    if (!focusDetail) return;
    const heading = document.querySelector("main > section:not([hidden]) .detail:not([hidden]) h3");
    if (heading) {
      focusDetail = false;
      heading.focus();
    }
  }

  async function tick() {
    timer = null;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      if (!waitingForToken) {
        await refreshClock();
        const { view, id } = route();
        await refresh[view](id);
        focusShownDetail();
        if ($("#status").className === "offline") say("");
      }
    } catch (error) {
      if (error.status === 0) say(error.message, "offline");
      else if (error.status !== 403 || !waitingForToken) say(error.message, "error");
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      refreshSoon();
    } else {
      schedule(document.hidden ? Math.max(POLL_MS, 5000) : POLL_MS);
    }
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
  }

  function refreshSoon() {
    schedule(0);
  }

  let shownView = route().view;
  window.addEventListener("hashchange", () => {
    if (route().view !== shownView) say(""); // a message is about the view it was said in
    shownView = route().view;
    // After following a row's link, the detail's heading takes the focus once drawn.
    focusDetail = show() !== null;
    refreshSoon();
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshSoon(); });

  show();
  refreshSoon();
})();
