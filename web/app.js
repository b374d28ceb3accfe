// @ts-check
// The admin web UI: a page per hash route (#/syncs, #/settings, ...), drawn
// with DOM calls only. Every value from the org goes in as text (h() and
// textContent), never as markup, so a member named <img onerror=...> is
// shown as typed. It calls the same /v1 API as any client, with the
// session cookie, and the session's CSRF token on every change. The types
// come from the OpenAPI description (web/api.d.ts, openapi-typescript).

/** @typedef {import("./api").components["schemas"]} S */
/** @typedef {S["Sync"]} Sync */
/** @typedef {S["Session"]} Session */
/** @typedef {S["Settings"]} Settings */
/** @typedef {S["ChartTeam"]} ChartTeam */
/** @typedef {S["PlanEntry"]} PlanEntry */
/** @typedef {S["Member"]} Member */

/** @type {Session | null} */
let session = null;

class ApiError extends Error {
  /** @param {number} status @param {S["Error"] | null} body */
  constructor(status, body) {
    super(body?.error?.message || "HTTP " + status);
    this.status = status;
    this.code = body?.error?.code || "";
  }
}

/**
 * Calls the API. A change carries the CSRF token; a 401 sends to sign-in.
 * @param {string} method @param {string} path @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session?.csrfToken) headers["X-CSRF-Token"] = session.csrfToken;
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const doc = text ? JSON.parse(text) : null;
  if (res.status === 401 && !path.startsWith("/v1/session")) {
    session = null;
    location.hash = "#/signin";
  }
  if (!res.ok) throw new ApiError(res.status, doc);
  return doc;
}

/** @param {string} s */
const enc = (s) => encodeURIComponent(s);

/**
 * An element with attributes and children; strings become text nodes.
 * @param {string} tag @param {Record<string, any>} [attrs] @param {...any} kids
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

const main = /** @type {HTMLElement} */ (document.getElementById("main"));

/** @param {string} title @param {...any} kids */
function page(title, ...kids) {
  document.title = title + " · orgsync";
  main.replaceChildren(h("h1", {}, title), ...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  main.focus({ preventScroll: true });
}

/** @param {unknown} e */
function errorBox(e) {
  return h("p", { class: "msg error", role: "alert" }, e instanceof Error ? e.message : String(e));
}

/** @param {string} status */
const badge = (status) => h("span", { class: "badge b-" + status }, status);

/** @param {string | null | undefined} t */
const when = (t) => (t ? new Date(t).toLocaleString() : "—");

/** A labelled control. @param {string} text @param {HTMLElement} control */
function field(text, control) {
  const id = control.id || "f" + Math.random().toString(36).slice(2);
  control.id = id;
  return h("label", { for: id }, text + " ", control);
}

// --- sign-in -------------------------------------------------------------------

async function loadSession() {
  try {
    session = await api("GET", "/v1/session");
  } catch {
    session = null;
  }
  const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
  const who = /** @type {HTMLElement} */ (document.getElementById("who"));
  nav.hidden = !session;
  who.replaceChildren();
  if (session) {
    who.append(session.orgName + " · " + session.actor + " ",
      h("button", { class: "secondary", type: "button", onclick: signOut }, "Sign out"));
  }
}

async function signOut() {
  try { await api("DELETE", "/v1/session"); } catch { /* signed out either way */ }
  session = null;
  await loadSession();
  location.hash = "#/signin";
}

/** @param {string} token */
function signinWithToken(token) {
  const out = h("div", { "aria-live": "polite" });
  const go = async () => {
    try {
      session = await api("POST", "/v1/session", { token });
      history.replaceState(null, "", location.pathname + "#/syncs");
      await loadSession();
      route();
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  page("Sign in", h("p", {}, "Press the button to sign in with the link you received."),
    h("button", { type: "button", onclick: go, id: "use-link" }, "Sign in"), out);
}

function signinPage() {
  const out = h("div", { "aria-live": "polite" });
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "email", id: "signin-email" });
  const key = h("input", { type: "password", name: "apiKey", required: true, autocomplete: "off", id: "signin-key" });
  const byEmail = h("form", {
    onsubmit: async (/** @type {Event} */ ev) => {
      ev.preventDefault();
      try {
        const r = await api("POST", "/v1/session/link", { email: /** @type {HTMLInputElement} */ (email).value });
        out.replaceChildren(h("p", { class: "msg", role: "status" }, r.message));
      } catch (e) { out.replaceChildren(errorBox(e)); }
    },
  }, h("fieldset", {}, h("legend", {}, "Administrator"), field("Email", email),
    h("button", { type: "submit" }, "Email me a sign-in link")));
  const byKey = h("form", {
    onsubmit: async (/** @type {Event} */ ev) => {
      ev.preventDefault();
      try {
        session = await api("POST", "/v1/session", { apiKey: /** @type {HTMLInputElement} */ (key).value });
        await loadSession();
        location.hash = "#/syncs";
      } catch (e) { out.replaceChildren(errorBox(e)); }
    },
  }, h("fieldset", {}, h("legend", {}, "First setup"), field("Organization API key", key),
    h("button", { type: "submit" }, "Sign in with the key")));
  page("Sign in", byEmail, byKey, out);
}

// --- history and syncs ------------------------------------------------------------

const STATUSES = ["Pending", "Paused", "Rejected", "Success", "Warning", "Failed"];

async function historyPage() {
  const status = h("select", { id: "f-status" }, h("option", { value: "" }, "any"), STATUSES.map((s) => h("option", { value: s }, s)));
  const mode = h("select", { id: "f-mode" }, h("option", { value: "" }, "any"), h("option", { value: "full" }, "full"), h("option", { value: "partial" }, "partial"));
  const body = h("tbody");
  const more = h("button", { type: "button", class: "secondary" }, "Load more");
  /** @type {Sync[]} */
  const all = [];
  /** @type {string | null} */
  let next = "/v1/syncs?limit=100";
  const draw = () => {
    const st = /** @type {HTMLSelectElement} */ (status).value, md = /** @type {HTMLSelectElement} */ (mode).value;
    body.replaceChildren(...all.filter((s) => (!st || s.status === st) && (!md || s.mode === md)).map((s) =>
      h("tr", {}, h("td", {}, h("a", { href: "#/syncs/" + s.id }, "#" + s.id)), h("td", {}, badge(s.status)),
        h("td", {}, s.mode + (s.dryRun ? " (dry run)" : "")), h("td", {}, s.source), h("td", {}, when(s.createdAt)),
        h("td", {}, String(s.issues)))));
    more.hidden = !next;
  };
  const load = async () => {
    if (!next) return;
    const r = await api("GET", next);
    all.push(...r.items);
    next = r.next;
    draw();
  };
  status.addEventListener("change", draw);
  mode.addEventListener("change", draw);
  more.addEventListener("click", load);
  page("Sync history", h("div", { class: "row" }, field("Status", status), field("Mode", mode)),
    h("table", {}, h("caption", { class: "muted" }, "Newest first"),
      h("thead", {}, h("tr", {}, ["Sync", "Status", "Mode", "Source", "Created", "Issues"].map((t) => h("th", { scope: "col" }, t)))), body), more);
  await load();
}

/** @param {Sync} s */
function countsTable(s) {
  const c = s.counts;
  if (!c) return h("p", { class: "muted" }, "No counts yet.");
  const rows = [
    ["Members", `${c.members.created} created, ${c.members.updated} updated, ${c.members.reactivated} reactivated, ${c.members.deactivated} deactivated, ${c.members.deleted} deleted, ${c.members.unchanged} unchanged`],
    ["Teams", `${c.teams.created} created, ${c.teams.renamed} renamed, ${c.teams.deleted} deleted, ${c.teams.unchanged} unchanged`],
    ["Mappings", `${c.mappings.added} added, ${c.mappings.removed} removed, ${c.mappings.changed} changed`],
    ["Invitations", String(c.invitations)],
  ];
  return h("table", { class: "counts" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))));
}

/** @param {PlanEntry} e */
function planWho(e) {
  if (e.type === "member") return `${e.externalMemberId} <${e.email}>`;
  if (e.type === "team") return `${e.externalTeamId} (${e.teamName})`;
  return `${e.externalTeamId} ← ${e.kind === "subteam" ? "team " + e.externalSubteamId : e.externalMemberId}` +
    (e.isManager ? " (manager)" : "");
}

/** @param {number} id */
async function syncPage(id) {
  /** @type {Sync} */
  const s = await api("GET", `/v1/syncs/${id}`);
  const out = h("div", { "aria-live": "polite" });
  const decision = [];
  if (s.status === "Paused") {
    const reason = h("input", { type: "text", id: "decision-reason", maxlength: 1000 });
    const decide = async (/** @type {string} */ what) => {
      try {
        await api("POST", `/v1/syncs/${id}/${what}`, /** @type {HTMLInputElement} */ (reason).value ? { reason: /** @type {HTMLInputElement} */ (reason).value } : undefined);
        route();
      } catch (e) { out.replaceChildren(errorBox(e)); }
    };
    decision.push(h("section", { "aria-labelledby": "paused-h" }, h("h2", { id: "paused-h" }, "Paused: approve or reject"),
      h("ul", {}, (s.risk?.trips || []).map((t) => h("li", {}, `${t.limit}: ${Math.round(t.actual * 10) / 10} against a limit of ${t.configured} (${t.affected} of ${t.of})`))),
      h("div", { class: "row" }, field("Reason (optional)", reason),
        h("button", { type: "button", onclick: () => decide("approve") }, "Approve"),
        h("button", { type: "button", class: "danger", onclick: () => decide("reject") }, "Reject"))));
  }
  const planBody = h("tbody");
  const planType = h("select", { id: "plan-type" }, h("option", { value: "" }, "all"), ["member", "team", "mapping"].map((t) => h("option", { value: t }, t + "s")));
  const planMore = h("button", { type: "button", class: "secondary" }, "More of the plan");
  /** @type {string | null} */
  let planNext = null;
  const loadPlan = async (/** @type {boolean} */ fresh) => {
    const type = /** @type {HTMLSelectElement} */ (planType).value;
    const url = fresh ? `/v1/syncs/${id}/plan?limit=200${type ? "&type=" + type : ""}` : planNext;
    if (!url) return;
    try {
      const p = await api("GET", url);
      if (fresh) planBody.replaceChildren();
      planBody.append(...p.items.map((/** @type {PlanEntry} */ e) => h("tr", {}, h("td", {}, e.type), h("td", {}, e.action), h("td", {}, planWho(e)),
        h("td", {}, e.changes ? Object.keys(e.changes).join(", ") : ""))));
      planNext = p.next;
    } catch (e) {
      planBody.replaceChildren(h("tr", {}, h("td", { colspan: 4 }, e instanceof ApiError && e.status === 404 ? "No plan yet." : String(e))));
      planNext = null;
    }
    planMore.hidden = !planNext;
  };
  planType.addEventListener("change", () => loadPlan(true));
  planMore.addEventListener("click", () => loadPlan(false));
  const issues = h("tbody");
  page(`Sync #${s.id}`,
    h("p", {}, badge(s.status), " ", `${s.mode} sync from ${s.source}, ${s.format}${s.dryRun ? ", dry run" : ""}; created ${when(s.createdAt)}, finished ${when(s.finishedAt)}`),
    s.reason ? h("p", { class: "msg" }, s.reason) : null,
    s.decision ? h("p", {}, `${s.decision.action === "approve" ? "Approved" : "Rejected"} by ${s.decision.actor} ${when(s.decision.at)}${s.decision.reason ? ": " + s.decision.reason : ""}`) : null,
    decision, out,
    h("h2", {}, "Counts"), countsTable(s),
    h("h2", {}, "Plan"), h("div", { class: "row" }, field("Show", planType)),
    h("table", { id: "plan" }, h("thead", {}, h("tr", {}, ["Type", "Action", "Who", "Fields"].map((t) => h("th", { scope: "col" }, t)))), planBody), planMore,
    h("h2", {}, "Report"),
    h("p", {}, h("a", { href: `/v1/syncs/${id}/report?format=csv`, download: `sync-${id}-report.csv` }, "Download CSV"), " · ",
      h("a", { href: `/v1/syncs/${id}/report?format=json`, download: `sync-${id}-report.json` }, "Download JSON")),
    h("table", {}, h("thead", {}, h("tr", {}, ["Severity", "File", "Line", "Field", "Message"].map((t) => h("th", { scope: "col" }, t)))), issues));
  await loadPlan(true);
  const rep = await api("GET", `/v1/syncs/${id}/report`);
  issues.append(...rep.issues.slice(0, 500).map((/** @type {S["Issue"]} */ i) => h("tr", {}, h("td", {}, i.severity), h("td", {}, i.file), h("td", {}, String(i.line)), h("td", {}, i.field), h("td", {}, i.message))));
}

// --- settings -------------------------------------------------------------------

/** @param {number | null} v */
const numText = (v) => (v === null || v === undefined ? "" : String(v));
/** @param {string} v */
const numOrNull = (v) => (v.trim() === "" ? null : Number(v));

async function settingsPage() {
  /** @type {Settings} */
  const s = await api("GET", "/v1/settings");
  const out = h("div", { "aria-live": "polite" });
  const method = h("select", { id: "s-method" }, ["api", "scim", "none"].map((m) => h("option", { value: m, selected: s.provisioning.method === m }, m)));
  const mode = h("select", { id: "s-mode" }, ["full", "partial"].map((m) => h("option", { value: m, selected: s.mode === m }, m)));
  const invite = h("input", { type: "checkbox", id: "s-invite", checked: s.autoInvite });
  const rt = s.riskThreshold;
  /** @type {Record<string, HTMLInputElement>} */
  const lim = {};
  const num = (/** @type {string} */ k, /** @type {number|null} */ v) => (lim[k] = /** @type {HTMLInputElement} */ (h("input", { type: "number", min: 0, step: "any", value: numText(v), id: "s-" + k.replace(".", "-"), size: 6 })));
  const emails = h("textarea", { id: "s-emails", rows: 3, cols: 40 }, s.notificationEmails.join("\n"));
  const hooks = h("div", {});
  const hookRow = (/** @type {string} */ url, /** @type {boolean} */ has) => h("div", { class: "row hook" },
    field("Webhook URL", h("input", { type: "url", value: url, class: "hook-url", size: 40 })),
    field(has ? "New secret (blank: keep)" : "Secret", h("input", { type: "password", class: "hook-secret", autocomplete: "off" })),
    h("button", { type: "button", class: "secondary", onclick: (/** @type {Event} */ ev) => /** @type {HTMLElement} */ (ev.target).closest(".hook")?.remove() }, "Remove"));
  s.webhooks.forEach((w) => hooks.append(hookRow(w.url, w.hasSecret)));
  const save = async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const patch = {
      provisioning: { method: /** @type {HTMLSelectElement} */ (method).value },
      mode: /** @type {HTMLSelectElement} */ (mode).value,
      autoInvite: /** @type {HTMLInputElement} */ (invite).checked,
      riskThreshold: {
        members: { percent: numOrNull(lim["members.percent"].value), count: numOrNull(lim["members.count"].value) },
        teams: { percent: numOrNull(lim["teams.percent"].value), count: numOrNull(lim["teams.count"].value) },
        mappings: { percent: numOrNull(lim["mappings.percent"].value), count: numOrNull(lim["mappings.count"].value) },
        managersPercent: numOrNull(lim.managersPercent.value), idSwapPercent: numOrNull(lim.idSwapPercent.value),
        identityChangePercent: numOrNull(lim.identityChangePercent.value),
      },
      notificationEmails: /** @type {HTMLTextAreaElement} */ (emails).value.split(/[\s,]+/).filter(Boolean),
      webhooks: [...hooks.querySelectorAll(".hook")].map((row) => {
        const url = /** @type {HTMLInputElement} */ (row.querySelector(".hook-url")).value;
        const secret = /** @type {HTMLInputElement} */ (row.querySelector(".hook-secret")).value;
        return secret ? { url, secret } : { url };
      }),
    };
    try {
      await api("PATCH", "/v1/settings", patch);
      out.replaceChildren(h("p", { class: "msg", role: "status" }, "Saved."));
    } catch (e) { out.replaceChildren(errorBox(e)); }
  };
  const props = h("ul", { id: "props" });
  const drawProps = async () => {
    const p = await api("GET", "/v1/properties");
    props.replaceChildren(...p.items.map((/** @type {S["Property"]} */ x) => h("li", {}, x.name, " ",
      h("button", { type: "button", class: "secondary", "aria-label": "Delete property " + x.name, onclick: async () => { await api("DELETE", "/v1/properties/" + enc(x.name)); drawProps(); } }, "Delete"))));
  };
  const propName = h("input", { type: "text", id: "prop-name", maxlength: 64 });
  const keyOut = h("div", { "aria-live": "polite" });
  page("Provisioning settings",
    h("form", { onsubmit: save, id: "settings" },
      h("fieldset", {}, h("legend", {}, "Provisioning"), field("Active method", method), field("Sync mode", mode), field("Invite new members automatically", invite)),
      h("fieldset", {}, h("legend", {}, "Risk threshold (blank: no limit)"),
        ["members", "teams", "mappings"].map((k) => h("div", { class: "row" },
          field(`${k}: percent`, num(k + ".percent", rt[/** @type {"members"} */ (k)].percent)), field(`${k}: count`, num(k + ".count", rt[/** @type {"members"} */ (k)].count)))),
        h("div", { class: "row" }, field("Managers percent", num("managersPercent", rt.managersPercent)),
          field("Id swap percent", num("idSwapPercent", rt.idSwapPercent)), field("Identity change percent", num("identityChangePercent", rt.identityChangePercent)))),
      h("fieldset", {}, h("legend", {}, "Notifications"), field("Emails (one a line)", emails), hooks,
        h("button", { type: "button", class: "secondary", onclick: () => hooks.append(hookRow("", false)) }, "Add a webhook")),
      h("button", { type: "submit" }, "Save settings"), out),
    h("h2", {}, "Custom properties"), props,
    h("form", { onsubmit: async (/** @type {Event} */ ev) => { ev.preventDefault(); try { await api("POST", "/v1/properties", { name: /** @type {HTMLInputElement} */ (propName).value }); /** @type {HTMLInputElement} */ (propName).value = ""; drawProps(); } catch (e) { keyOut.replaceChildren(errorBox(e)); } } },
      h("div", { class: "row" }, field("New property", propName), h("button", { type: "submit" }, "Add"))),
    h("h2", {}, "API key"),
    h("p", {}, "A new key replaces every older one at once: update the HRIS export's configuration with it."),
    h("button", { type: "button", class: "danger", id: "rotate", onclick: async () => {
      if (!confirm("Replace the API key? The current key stops working at once.")) return;
      try {
        const k = await api("POST", "/v1/keys/rotate");
        keyOut.replaceChildren(h("p", { class: "msg", role: "status" }, "The new key, shown once: ", h("code", {}, k.apiKey)));
      } catch (e) { keyOut.replaceChildren(errorBox(e)); }
    } }, "Rotate the API key"), keyOut);
  await drawProps();
}

// --- members and teams --------------------------------------------------------------

/**
 * A searchable, paged list.
 * @param {string} title @param {string} base @param {string[]} cols
 * @param {(item: any) => any[]} cells @param {HTMLElement[]} [filters]
 */
async function listPage(title, base, cols, cells, filters = []) {
  const q = h("input", { type: "search", id: "q" });
  const body = h("tbody");
  const info = h("p", { class: "muted", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "secondary" }, "Previous");
  const next = h("button", { type: "button", class: "secondary" }, "Next");
  let offset = 0;
  const limit = 50;
  const load = async () => {
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    const text = /** @type {HTMLInputElement} */ (q).value.trim();
    if (text) params.set("q", text);
    for (const f of filters) if (/** @type {HTMLSelectElement} */ (f).value) params.set(f.dataset.param || "", /** @type {HTMLSelectElement} */ (f).value);
    const r = await api("GET", `${base}?${params}`);
    body.replaceChildren(...r.items.map((/** @type {any} */ it) => h("tr", {}, cells(it).map((c) => h("td", {}, c)))));
    info.textContent = r.total ? `${offset + 1}–${offset + r.items.length} of ${r.total}` : "None.";
    /** @type {HTMLButtonElement} */ (prev).disabled = offset === 0;
    /** @type {HTMLButtonElement} */ (next).disabled = !r.next;
  };
  const form = h("form", { role: "search", onsubmit: (/** @type {Event} */ ev) => { ev.preventDefault(); offset = 0; load(); } },
    h("div", { class: "row" }, field("Search", q), filters.map((f) => field(f.dataset.label || "", f)), h("button", { type: "submit" }, "Search")));
  prev.addEventListener("click", () => { offset = Math.max(0, offset - limit); load(); });
  next.addEventListener("click", () => { offset += limit; load(); });
  page(title, form, h("table", {}, h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c)))), body), info, h("div", { class: "row" }, prev, next));
  await load();
}

function membersPage() {
  const state = h("select", { "data-param": "state", "data-label": "State" }, h("option", { value: "" }, "any"), ["created", "invited", "active", "deactivated"].map((s) => h("option", { value: s }, s)));
  return listPage("Members", "/v1/members", ["Member", "Email", "Name", "State", "Role"], (/** @type {Member} */ m) => [
    h("a", { href: "#/members/" + enc(m.externalMemberId) }, m.externalMemberId), m.email, `${m.firstName} ${m.lastName}`, m.state, m.role], [state]);
}

function teamsPage() {
  return listPage("Teams", "/v1/teams", ["Team", "Name"], (/** @type {S["TeamRef"]} */ t) => [
    h("a", { href: "#/orgchart?team=" + enc(t.externalTeamId) }, t.externalTeamId), t.teamName]);
}

/** @param {string} id */
async function memberPage(id) {
  /** @type {S["MemberDetail"]} */
  const m = await api("GET", "/v1/members/" + enc(id));
  const vis = await api("GET", `/v1/members/${enc(id)}/visible-teams`);
  page(`${m.firstName} ${m.lastName}`,
    h("table", {}, h("tbody", {}, [["Id", m.externalMemberId], ["Email", m.email], ["Job title", m.jobTitle], ["State", m.state], ["Role", m.role],
      ...Object.entries(m.customProperties)].map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v))))),
    h("h2", {}, "Teams"), h("ul", {}, m.teams.map((t) => h("li", {}, `${t.teamName} (${t.externalTeamId})${t.isManager ? ", manager" : ""}${t.isMember ? "" : ", not a member"}`))),
    h("h2", {}, `Teams they can see (${vis.items.length})`), h("ul", { id: "visible" }, vis.items.map((/** @type {S["TeamRef"]} */ t) => h("li", {}, `${t.teamName} (${t.externalTeamId})`))));
}

async function auditPage() {
  return listAudit();
}

async function listAudit() {
  const r = await api("GET", "/v1/audit?limit=100");
  page("Audit trail", h("table", {}, h("thead", {}, h("tr", {}, ["When", "Actor", "Action", "Target"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, r.items.map((/** @type {S["AuditEntry"]} */ e) => h("tr", {}, h("td", {}, when(e.at)), h("td", {}, e.actor), h("td", {}, e.action), h("td", {}, e.target))))));
}

// --- the org chart ------------------------------------------------------------------

/**
 * The team tree, a level at a time (GET /v1/orgchart?parent=): only open
 * teams have their subteams in the page. Choosing a manager marks every
 * team they can see, drawn now or later.
 * @param {string} [focusTeam]
 */
async function chartPage(focusTeam) {
  const t0 = performance.now();
  /** @type {Set<string>} */
  let reach = new Set();
  /** @type {Map<string, HTMLElement[]>} */
  const nodes = new Map();
  const tree = h("ul", { class: "tree", role: "tree", "aria-label": "Teams" });
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const results = h("ul", { id: "chart-results" });

  /** @param {string | null} parent */
  const fetchLevel = async (parent) => {
    /** @type {ChartTeam[]} */
    const items = [];
    let url = "/v1/orgchart?limit=500" + (parent ? "&parent=" + enc(parent) : "");
    for (;;) {
      const r = await api("GET", url);
      items.push(...r.items);
      if (!r.next) return items;
      url = r.next;
    }
  };
  /** @param {ChartTeam} t */
  const node = (t) => {
    const kids = h("ul", { role: "group", hidden: true });
    const li = h("li", { role: "treeitem", "aria-expanded": t.subteamCount ? "false" : undefined, "data-team": t.externalTeamId });
    const tog = h("button", { type: "button", class: "tog", "aria-label": (t.subteamCount ? "Open " : "No subteams: ") + t.teamName, disabled: !t.subteamCount }, t.subteamCount ? "▸" : "·");
    const row = h("div", { class: "node" + (reach.has(t.externalTeamId) ? " reach" : "") }, tog,
      h("span", { class: "name" }, t.teamName), h("span", { class: "muted" }, `${t.memberCount} members, ${t.subteamCount} subteams`),
      t.managers.length ? h("span", {}, "managed by ", t.managers.map((m, i) => [i ? ", " : "",
        h("button", { type: "button", class: "mgr", "aria-label": `Show what ${m.firstName} ${m.lastName} can see`, onclick: () => highlight(m.externalMemberId, `${m.firstName} ${m.lastName}`) },
          `${m.firstName} ${m.lastName}`)])) : null);
    li.append(row, kids);
    const list = nodes.get(t.externalTeamId) || [];
    list.push(row);
    nodes.set(t.externalTeamId, list);
    let loaded = false;
    const open = async (/** @type {boolean} */ want) => {
      if (!t.subteamCount) return;
      if (want && !loaded) {
        loaded = true;
        kids.append(...(await fetchLevel(t.externalTeamId)).map(node));
      }
      kids.hidden = !want;
      li.setAttribute("aria-expanded", String(want));
      tog.textContent = want ? "▾" : "▸";
      tog.setAttribute("aria-label", (want ? "Close " : "Open ") + t.teamName);
    };
    tog.addEventListener("click", () => open(kids.hidden));
    /** @type {any} */ (li).open = open;
    return li;
  };
  /** @param {string} id @param {string} name */
  const highlight = async (id, name) => {
    const v = await api("GET", `/v1/members/${enc(id)}/visible-teams`);
    reach = new Set(v.items.map((/** @type {S["TeamRef"]} */ t) => t.externalTeamId));
    for (const [team, rows] of nodes) for (const r of rows) r.classList.toggle("reach", reach.has(team));
    status.textContent = `${name} can see ${reach.size} teams: highlighted.`;
  };
  /** Opens depth levels of the tree (1: the roots show their subteams). @param {number} depth */
  const expand = async (depth) => {
    const t1 = performance.now();
    let level = [...tree.children];
    for (let d = 0; d < depth; d++) {
      await Promise.all(level.map((li) => /** @type {any} */ (li).open?.(true)));
      level = level.flatMap((li) => [...(li.querySelector(":scope > ul")?.children || [])]);
    }
    const ms = performance.now() - t1;
    /** @type {any} */ (window).orgsyncExpandMs = ms;
    status.textContent = `Showed ${depth + 1} levels in ${Math.round(ms)} ms.`;
  };
  /** Opens the path down to a team and marks it. @param {string[]} path @param {string} id */
  const reveal = async (path, id) => {
    let scope = tree;
    for (const step of [...path, id]) {
      const li = /** @type {any} */ ([...scope.children].find((c) => /** @type {HTMLElement} */ (c).dataset.team === step));
      if (!li) return;
      if (step !== id) await li.open(true);
      else {
        li.querySelector(".node").classList.add("found");
        li.querySelector("button").focus();
        li.scrollIntoView({ block: "center" });
      }
      scope = li.querySelector(":scope > ul");
    }
  };
  const q = h("input", { type: "search", id: "chart-q" });
  const search = h("form", { role: "search", onsubmit: async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const text = /** @type {HTMLInputElement} */ (q).value.trim();
    if (!text) return;
    const r = await api("GET", `/v1/orgchart?limit=20&q=${enc(text)}`);
    results.replaceChildren(...r.items.map((/** @type {ChartTeam} */ t) => h("li", {},
      h("button", { type: "button", class: "mgr", onclick: () => reveal(t.path || [], t.externalTeamId) }, `${t.teamName} (${t.externalTeamId})`))));
    if (!r.items.length) results.replaceChildren(h("li", {}, "No team matches."));
  } }, h("div", { class: "row" }, field("Find a team", q), h("button", { type: "submit" }, "Find"),
    h("button", { type: "button", class: "secondary", id: "expand3", onclick: () => expand(2) }, "Show the top 3 levels"),
    h("button", { type: "button", class: "secondary", onclick: () => { reach = new Set(); for (const rows of nodes.values()) for (const r of rows) r.classList.remove("reach"); status.textContent = ""; } }, "Clear highlight")));
  page("Org chart", search, results, status, tree);
  tree.append(...(await fetchLevel(null)).map(node));
  await new Promise((r) => requestAnimationFrame(() => r(null)));
  /** @type {any} */ (window).orgsyncChartMs = performance.now() - t0;
  /** @type {any} */ (window).orgsyncChartAt = performance.now();
  /** @type {any} */ (window).orgsyncExpand = expand;
  tree.dataset.ready = "true";
  if (focusTeam) {
    const r = await api("GET", `/v1/orgchart?limit=500&q=${enc(focusTeam)}`);
    const t = r.items.find((/** @type {ChartTeam} */ x) => x.externalTeamId === focusTeam);
    if (t) await reveal(t.path || [], t.externalTeamId);
  }
}

// --- routing ------------------------------------------------------------------------

async function route() {
  const hash = location.hash;
  if (hash.startsWith("#signin=")) return signinWithToken(decodeURIComponent(hash.slice(8)));
  if (!session) await loadSession();
  if (!session || hash === "#/signin") return session ? (location.hash = "#/syncs") : signinPage();
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  for (const a of document.querySelectorAll("nav a")) {
    if (path.startsWith(a.getAttribute("href")?.slice(1) || "-")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "syncs" && parts[1]) await syncPage(Number(parts[1]));
    else if (parts[0] === "settings") await settingsPage();
    else if (parts[0] === "members" && parts[1]) await memberPage(parts[1]);
    else if (parts[0] === "members") await membersPage();
    else if (parts[0] === "teams") await teamsPage();
    else if (parts[0] === "orgchart") await chartPage(params.get("team") || undefined);
    else if (parts[0] === "audit") await auditPage();
    else await historyPage();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) main.append(errorBox(e));
  }
}

window.addEventListener("hashchange", route);
route();
