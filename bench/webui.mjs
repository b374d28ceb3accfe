// The org chart's timings in headless chromium (bench/webui.sh sets BASE, KEY, RUNS).
import { chromium } from "playwright-core";

const { BASE, KEY } = process.env;
const RUNS = Number(process.env.RUNS || 5);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
});
const context = await browser.newContext();
const signin = await context.request.post(BASE + "/v1/session", { data: { apiKey: KEY } });
if (signin.status() !== 201) throw new Error("sign-in: " + signin.status());
const median = (v) => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)];
const paint = [], own = [], top3 = [], all = [], nodes = [];
for (let i = 0; i < RUNS; i++) {
  const page = await context.newPage();
  await page.goto(BASE + "/#/orgchart");
  await page.waitForSelector(".tree[data-ready=true]");
  paint.push(await page.evaluate(() => window.orgsyncChartAt));
  own.push(await page.evaluate(() => window.orgsyncChartMs));
  await page.evaluate(() => window.orgsyncExpand(2));
  top3.push(await page.evaluate(() => window.orgsyncExpandMs));
  nodes.push(await page.evaluate(() => document.querySelectorAll("li[role=treeitem]").length));
  await page.evaluate(() => window.orgsyncExpand(3));
  all.push(await page.evaluate(() => window.orgsyncExpandMs));
  await page.close();
}
const f = (v) => `median ${median(v).toFixed(1)} ms (runs: ${v.map((x) => x.toFixed(1)).join(", ")})`;
console.log(`first paint of the org chart, from navigation start: ${f(paint)}`);
console.log(`  of which the chart page itself (request, draw, next frame): ${f(own)}`);
console.log(`show the top 3 levels (${median(nodes)} teams drawn): ${f(top3)}`);
console.log(`open every level (1000 teams): ${f(all)}`);
await browser.close();
