// The web UI, as an administrator uses it, in headless chromium (run.sh
// starts the service and the SMTP server and sets BASE, KEY, MAILDIR,
// ADMIN, OUT). One "ok - browser: CASE" or "not ok" line per case, then
// "browser: N passed, M failed". axe-core checks every page: a serious or
// critical violation fails the page's case.
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import { readdirSync, readFileSync } from "node:fs";

const { BASE, KEY, MAILDIR, ADMIN, OUT } = process.env;
const XSS = "<img src=x onerror=alert(1)>";
let passed = 0, failed = 0;
let page;

async function api(method, path, body) {
  const res = await fetch(BASE + path, {
    method, headers: { Authorization: "Bearer " + KEY, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function org(n, { xss = false } = {}) {
  const members = [], teams = [], teamMappings = [];
  for (let i = 1; i <= n; i++) {
    const id = "M" + String(i).padStart(3, "0");
    members.push({ externalMemberId: id, email: id.toLowerCase() + "@acme.example", firstName: i === 7 && xss ? XSS : "First" + i, lastName: "Last" + i });
  }
  teams.push({ externalTeamId: "ROOT", teamName: "Acme" });
  for (const t of ["ENG", "OPS", "SALES"]) {
    teams.push({ externalTeamId: t, teamName: t[0] + t.slice(1).toLowerCase() });
    teamMappings.push({ externalTeamId: "ROOT", externalSubteamId: t });
  }
  teams.push({ externalTeamId: "WEB", teamName: "Web" });
  teamMappings.push({ externalTeamId: "ENG", externalSubteamId: "WEB" });
  teamMappings.push({ externalTeamId: "ROOT", externalMemberId: "M001", isMember: true, isManager: true });
  teamMappings.push({ externalTeamId: "ENG", externalMemberId: "M002", isMember: true, isManager: true });
  members.forEach((m, i) => { if (i > 1) teamMappings.push({ externalTeamId: ["ENG", "OPS", "SALES", "WEB"][i % 4], externalMemberId: m.externalMemberId, isMember: true, isManager: false }); });
  return { members, teams, teamMappings };
}

async function push(payload) {
  const r = await api("POST", "/v1/syncs", payload);
  if (r.status !== 202) throw new Error("push: " + r.status + " " + JSON.stringify(r.body));
  for (let i = 0; i < 200; i++) {
    const s = await api("GET", "/v1/syncs/" + r.body.id);
    if (s.body.status !== "Pending") return s.body;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error("sync " + r.body.id + " stayed Pending");
}

async function axe(page, name) {
  const res = await new AxeBuilder({ page }).analyze();
  const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length) throw new Error(`axe on ${name}: ` + bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} nodes, e.g. ${v.nodes[0]?.target}`).join("; "));
}

async function shot(page, name) {
  await page.screenshot({ path: `${OUT}/${name}.png`, fullPage: true });
}

async function t(name, fn) {
  try {
    await fn();
    console.log(`ok - browser: ${name}`);
    passed++;
  } catch (e) {
    console.log(`not ok - browser: ${name}\n    ${String(e && e.stack || e).split("\n").slice(0, 4).join("\n    ")}`);
    failed++;
    await page.screenshot({ path: `${OUT}/failed-${failed}.png`, fullPage: true }).catch(() => {});
  }
}

function expect(what, cond) {
  if (!cond) throw new Error(what);
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
page = await context.newPage();
page.setDefaultTimeout(10000);
const dialogs = [];
page.on("dialog", async (d) => {
  dialogs.push(d.message());
  await (d.type() === "confirm" ? d.accept() : d.dismiss());
});
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));

await api("PATCH", "/v1/settings", { provisioning: { method: "api" } });
const first = await push(org(40, { xss: true }));

await t("the sign-in page is accessible, and the org's API key signs in", async () => {
  await page.goto(BASE + "/");
  await page.locator("#signin-key").waitFor();
  await axe(page, "sign-in");
  await shot(page, "signin");
  await page.fill("#signin-key", KEY);
  await page.click("text=Sign in with the key");
  await page.locator("h1", { hasText: "Sync history" }).waitFor();
  expect("the nav shows once signed in", await page.locator("#nav").isVisible());
});

await t("sign out, then sign in with the link mailed through the outbox", async () => {
  await page.click("text=Sign out");
  await page.locator("#signin-email").waitFor();
  await page.fill("#signin-email", ADMIN);
  await page.click("text=Email me a sign-in link");
  await page.locator("[role=status]").waitFor();
  let link = null;
  for (let i = 0; i < 100 && !link; i++) {
    for (const f of readdirSync(MAILDIR).filter((n) => n.endsWith(".eml"))) {
      const m = readFileSync(`${MAILDIR}/${f}`, "utf8").match(/(http\S+#signin=[A-Za-z0-9_-]+)/);
      if (m) link = m[1];
    }
    if (!link) await new Promise((r) => setTimeout(r, 100));
  }
  expect("a sign-in email arrived", link);
  await page.goto(link);
  await page.click("#use-link");
  await page.locator("h1", { hasText: "Sync history" }).waitFor();
  expect("signed in as the administrator", (await page.textContent("#who")).includes("admin:" + ADMIN));
  const again = await page.evaluate(async (tok) => (await fetch("/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: tok }) })).status, link.split("#signin=")[1]);
  expect("the link works once (second use: 401, got " + again + ")", again === 401);
  const mail = await api("GET", "/v1/deliveries");
  expect("the sent link is listed as sent", mail.body.items.some((d) => d.recipient === ADMIN && d.status === "sent"));
});

await t("change settings; the audit trail names the administrator", async () => {
  await page.goto(BASE + "/#/settings");
  await page.locator("#s-invite").waitFor();
  await axe(page, "settings");
  await page.check("#s-invite");
  await page.fill("#s-managersPercent", "25");
  await page.fill("#s-emails", "it@acme.example");
  await page.click("text=Save settings");
  await page.locator("text=Saved.").waitFor();
  await shot(page, "settings");
  const s = await api("GET", "/v1/settings");
  expect("autoInvite saved", s.body.autoInvite === true);
  expect("managersPercent saved", s.body.riskThreshold.managersPercent === 25);
  const audit = await api("GET", "/v1/audit?action=settings.update");
  expect("audit actor admin:" + ADMIN + ", got " + audit.body.items[0]?.actor, audit.body.items[0]?.actor === "admin:" + ADMIN);
});

let paused1, paused2;
await t("push an org with the key and see it in history, Paused with its badge", async () => {
  const small = org(20, { xss: true });
  paused1 = await push(small);
  expect("the push pauses (got " + paused1.status + ")", paused1.status === "Paused");
  await page.goto(BASE + "/#/syncs");
  await page.locator(`a[href="#/syncs/${paused1.id}"]`).waitFor();
  const row = page.locator("tr", { has: page.locator(`a[href="#/syncs/${paused1.id}"]`) });
  expect("the badge says Paused", (await row.locator(".badge").textContent()) === "Paused");
  await page.selectOption("#f-status", "Success");
  expect("the filter hides it", !(await page.locator(`a[href="#/syncs/${paused1.id}"]`).count()));
  await page.selectOption("#f-status", "");
  await axe(page, "history");
  await shot(page, "history");
});

await t("open the plan of the Paused sync and approve it: the limit that tripped is shown", async () => {
  await page.goto(BASE + `/#/syncs/${paused1.id}`);
  await page.locator("#paused-h").waitFor();
  expect("the limit that tripped", (await page.textContent("main")).includes("members.percent"));
  await page.locator("#plan tbody tr").first().waitFor();
  expect("the plan lists the removals", (await page.textContent("#plan")).includes("delete"));
  await axe(page, "sync detail");
  await shot(page, "sync-paused");
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await page.locator(".badge", { hasText: /Pending|Success/ }).first().waitFor();
  let s;
  for (let i = 0; i < 100; i++) { s = await api("GET", "/v1/syncs/" + paused1.id); if (s.body.status !== "Pending") break; await new Promise((r) => setTimeout(r, 50)); }
  expect("approved and applied (got " + s.body.status + ")", s.body.status === "Success");
  expect("decided by the administrator", s.body.decision.actor === "admin:" + ADMIN);
});

await t("reject another Paused sync", async () => {
  paused2 = await push(org(3));
  expect("paused", paused2.status === "Paused");
  await page.goto(BASE + `/#/syncs/${paused2.id}`);
  await page.fill("#decision-reason", "an export cut short");
  await page.getByRole("button", { name: "Reject", exact: true }).click();
  await page.locator(".badge", { hasText: "Rejected" }).first().waitFor();
  await shot(page, "sync-rejected");
  const s = await api("GET", "/v1/syncs/" + paused2.id);
  expect("rejected with the reason", s.body.status === "Rejected" && s.body.decision.reason === "an export cut short");
});

await t("the org chart: open a team, and a manager's reach is highlighted", async () => {
  await page.goto(BASE + "/#/orgchart");
  await page.locator(".tree[data-ready=true]").waitFor();
  await page.click("button[aria-label='Open Acme']");
  await page.locator("li[data-team=ENG]").waitFor();
  await page.click("li[data-team=ENG] > .node button[aria-label='Open Eng']");
  await page.locator("li[data-team=WEB]").waitFor();
  await page.click("li[data-team=ENG] > .node .mgr");
  await page.locator("li[data-team=WEB] > .node.reach").waitFor();
  expect("OPS is outside M002's reach", !(await page.locator("li[data-team=OPS] > .node.reach").count()));
  expect("ENG is inside", await page.locator("li[data-team=ENG] > .node.reach").count());
  await axe(page, "org chart");
  await shot(page, "orgchart");
  await page.fill("#chart-q", "web");
  await page.click("form[role=search] button[type=submit]");
  await page.locator("#chart-results button").first().waitFor();
});

await t("search a member; a name made of markup stays text", async () => {
  await page.goto(BASE + "/#/members");
  await page.locator("#q").waitFor();
  await page.fill("#q", "M007");
  await page.click("form[role=search] button[type=submit]");
  await page.locator("td", { hasText: XSS }).first().waitFor();
  expect("no img element made from the name", !(await page.locator("main img").count()));
  await axe(page, "members");
  await shot(page, "members");
  await page.click("a[href='#/members/M007']");
  await page.locator("h1", { hasText: XSS }).waitFor();
  await page.locator("#visible li").first().waitFor();
  await axe(page, "member");
  await shot(page, "member");
  expect("no alert ran (" + dialogs.join(",") + ")", !dialogs.some((d) => d === "1"));
  await page.goto(BASE + "/#/teams");
  await page.locator("tbody tr").first().waitFor();
  await axe(page, "teams");
  await shot(page, "teams");
  await page.goto(BASE + "/#/audit");
  await page.locator("tbody tr").first().waitFor();
  await axe(page, "audit");
  await shot(page, "audit");
});

await t("a change from another origin is refused: no cookie cross-site, 403 without the CSRF token or with a foreign Origin", async () => {
  const p3 = await push(org(2));
  expect("paused", p3.status === "Paused");
  // A page of another site (localhost is another site than 127.0.0.1) posts to the service.
  const other = BASE.replace("127.0.0.1", "localhost");
  await page.goto(other + "/healthz");
  const cross = await page.evaluate(async (url) => {
    try {
      const r = await fetch(url, { method: "POST", credentials: "include", mode: "no-cors" });
      return r.type;
    } catch (e) { return "blocked"; }
  }, `${BASE}/v1/syncs/${p3.id}/approve`);
  let s = await api("GET", "/v1/syncs/" + p3.id);
  expect("the cross-site post changed nothing (" + cross + ")", s.body.status === "Paused");
  const withCookie = context.request;
  let r = await withCookie.post(`${BASE}/v1/syncs/${p3.id}/approve`, { headers: { Origin: "http://evil.example" } });
  expect("foreign Origin: 403, got " + r.status(), r.status() === 403);
  r = await withCookie.post(`${BASE}/v1/syncs/${p3.id}/approve`, { headers: { "Sec-Fetch-Site": "same-origin" } });
  expect("no CSRF token: 403 csrf, got " + r.status(), r.status() === 403 && (await r.json()).error.code === "csrf");
  s = await api("GET", "/v1/syncs/" + p3.id);
  expect("still Paused", s.body.status === "Paused");
  await api("POST", `/v1/syncs/${p3.id}/reject`);
});

await t("the page ran without script errors", async () => {
  expect(pageErrors.join("; "), pageErrors.length === 0);
});

await browser.close();
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
