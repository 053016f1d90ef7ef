// Drives gridpatrol's web pages in headless Chromium against the real demo server.
//
// Started by scripts/browser-test.sh, which installs Debian's chromium and this folder's
// playwright-core. Environment: GP_BIN (the gridpatrol binary), GP_OUT (where screenshots
// and downloads go), CHROMIUM (default /usr/bin/chromium).
//
// It starts `gridpatrol demo --bind 127.0.0.1:0` (a fresh database, the whole pipeline,
// demo accounts printed), then as each role: the public map, the officer signing in on a
// phone-sized page, recording an inspection through the form and seeing the due list
// change, the bureau head moving a unit on a draft plan and approving it, and the manager
// drilling down and downloading the report. Any console error, uncaught page error, failed
// request or HTTP error answer that the test did not provoke fails the run.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const bin = process.env.GP_BIN;
const out = process.env.GP_OUT ?? "target/browser";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
if (!bin) throw new Error("GP_BIN: the gridpatrol binary to test");
mkdirSync(out, { recursive: true });

const failures = [];
let checks = 0;
const began = Date.now();
const section = (name) => console.log(`${name}  (${((Date.now() - began) / 1000).toFixed(1)} s)`);
function check(ok, what) {
  checks += 1;
  if (ok) {
    console.log(`  ok   ${what}`);
  } else {
    console.log(`  FAIL ${what}`);
    failures.push(what);
  }
}

// --- the demo server -------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), "gridpatrol-browser-"));
const server = spawn(bin, ["--db", join(work, "demo.db"), "demo", "--bind", "127.0.0.1:0"], {
  cwd: work,
  stdio: ["ignore", "pipe", "pipe"],
  env: { ...process.env, RUST_LOG: "warn" },
});
let stdout = "";
let stderr = "";
server.stderr.on("data", (d) => (stderr += d));
const started = new Promise((resolve, reject) => {
  server.stdout.on("data", (d) => {
    stdout += d;
    const base = stdout.match(/serving on (http:\/\/[0-9.:]+)\//);
    if (base && /demo accounts[^\n]*\n(.*\n){4}/.test(stdout)) resolve(base[1]);
  });
  server.on("exit", (code) => reject(new Error(`the demo exited (${code}):\n${stderr}`)));
  // unref: a started demo does not keep the run waiting for this timer.
  setTimeout(() => reject(new Error(`the demo did not start in 180 s:\n${stderr}`)), 180_000).unref();
});

let browser;
try {
  const base = await started;
  const password = {};
  for (const m of stdout.matchAll(/^ {4}(\w+)\s+\w+\s+(\S+)$/gm)) password[m[1]] = m[2];
  console.log(`demo serving on ${base}; accounts: ${Object.keys(password).join(", ")}`);
  check(/open:\s+http:\/\/\S+\/map\/\w+/.test(stdout), "the demo prints the public map to open first");
  check(["admin", "head", "manager", "officer"].every((u) => password[u]), "the demo prints an account per role");

  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });

  // A fresh browser context per role; every page watched for errors.
  const expected = new Set(); // URLs whose error answers a step provoked on purpose
  async function context(options = {}) {
    const ctx = await browser.newContext({ baseURL: base, acceptDownloads: true, ...options });
    ctx.on("page", watch);
    return ctx;
  }
  function watch(page) {
    page.on("console", (m) => {
      if (m.type() === "error" && !expected.has(m.location()?.url ?? "")) {
        failures.push(`console error on ${page.url()}: ${m.text()}`);
      }
    });
    page.on("pageerror", (e) => failures.push(`page error on ${page.url()}: ${e.message}`));
    page.on("requestfailed", (r) => {
      // A download's navigation is aborted by the browser, not failed.
      if (r.failure()?.errorText !== "net::ERR_ABORTED") {
        failures.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
      }
    });
    page.on("response", (r) => {
      if (r.status() >= 400 && !expected.has(r.url())) {
        failures.push(`HTTP ${r.status()} for ${r.url()}`);
      }
    });
  }
  async function signIn(page, user) {
    await page.goto("/login");
    await page.fill("input[name=username]", user);
    await page.fill("input[name=password]", password[user]);
    await Promise.all([page.waitForNavigation(), page.click("button")]);
  }

  // --- the public ------------------------------------------------------------------------
  section("public map");
  {
    const ctx = await context({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await page.goto("/");
    check(/\/map\/\w+$/.test(page.url()), `opening / lands on the public map (${page.url()})`);
    const grids = await page.locator("svg path[data-grid]").count();
    check(grids > 1, `the map draws the grids (${grids})`);
    check((await page.locator("tbody tr").count()) === grids, "a row per grid");
    check((await page.locator("h1").innerText()).includes("辖区监管责任制示意图"), "Chinese by default");
    for (const link of ["/officer", "/head", "/manager"]) {
      check((await page.locator(`nav a[href^="${link}?"]`).count()) === 1, `the map links ${link}`);
    }
    await page.screenshot({ path: join(out, "map.png"), fullPage: true });
    await Promise.all([page.waitForNavigation(), page.click("nav a[href='?lang=en']")]);
    check((await page.locator("h1").innerText()) === "Supervision responsibility map", "English by the switch");
    await page.screenshot({ path: join(out, "map-en.png"), fullPage: true });
    await ctx.close();
  }

  // --- the officer, on a phone -----------------------------------------------------------
  section("officer");
  {
    const ctx = await context({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    const page = await ctx.newPage();
    await page.goto("/officer");
    check(page.url().endsWith("/login"), "a signed-out officer is sent to sign in");
    await signIn(page, "officer");
    check(new URL(page.url()).pathname === "/officer", "the officer lands on the due list");
    await Promise.all([page.waitForNavigation(), page.click("a[href*='days=7']")]);
    // Each stop: its task id and its business (from the card's link).
    const stops = () =>
      page.locator("#due li[data-task]").evaluateAll((lis) =>
        lis.map((li) => ({
          task: li.dataset.task,
          business: new URL(li.querySelector("a").href).pathname.split("/").pop(),
        })),
      );
    const listed = await stops();
    const before = listed.length;
    check(before > 0, `this week's due list has tasks (${before})`);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `the due list fits a phone (${width}px wide)`);
    await page.screenshot({ path: join(out, "officer.png"), fullPage: false });

    await Promise.all([page.waitForNavigation(), page.click("#due li[data-task] a")]);
    check(page.url().includes("/officer/business/"), "the first stop opens the business's card");
    check((await page.locator("fieldset").count()) === 15, "the form has the 12 items, finding, rectification, warning");
    await page.screenshot({ path: join(out, "business.png"), fullPage: true });
    // Item 3 fails, with a note and a minor finding fixed on the spot; one photo.
    await page.check("input[name=item_annual_report_and_scope][value=fail]");
    await page.fill("input[name=note_annual_report_and_scope]", "2025 年报未公示");
    await page.selectOption("select[name=finding_severity]", "minor");
    await page.fill("textarea[name=finding_note]", "年报逾期");
    await page.selectOption("select[name=rectification]", "on_the_spot");
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
      "base64",
    );
    await page.setInputFiles("input[name=photo]", { name: "门头.png", mimeType: "image/png", buffer: png });
    await Promise.all([page.waitForNavigation(), page.click("form[enctype] button")]);
    check(new URL(page.url()).pathname === "/officer", "the form returns to the due list");
    const status = await page.locator("[role=status]").innerText();
    check(status.includes("当日录入"), `the page says it was entered the same day (${status})`);
    await Promise.all([page.waitForNavigation(), page.click("a[href*='days=7']")]);
    // The visit closes every task of the business it satisfies (the first stop's, and any
    // other of that business's due by now), and no other business's list entry changes.
    const relisted = await stops();
    const after = relisted.length;
    const visited = listed[0];
    check(
      !relisted.some((s) => s.task === visited.task) && after < before,
      `the visited task left the week's list (${before} → ${after})`,
    );
    const changed = [
      ...listed.filter((s) => !relisted.some((r) => r.task === s.task)),
      ...relisted.filter((r) => !listed.some((s) => s.task === r.task)),
    ];
    check(
      changed.every((s) => s.business === visited.business),
      `only the visited business's tasks changed (${changed.map((s) => s.task + "@" + s.business).join(", ")})`,
    );
    await page.screenshot({ path: join(out, "officer-recorded.png"), fullPage: false });
    await ctx.close();
  }

  // --- the manager -----------------------------------------------------------------------
  section("manager");
  {
    const ctx = await context({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await signIn(page, "manager");
    check(/\/manager\/\w+/.test(page.url()), `the manager lands on the report (${page.url()})`);
    const grids = await page.locator("#coverage-map path[data-grid]").count();
    check(grids > 1, `the coverage map draws the grids (${grids})`);
    const total = await page.locator("#report tr.total td").allInnerTexts();
    check(Number(total[4]) >= 1, `the month's visits include the officer's (${total[4]})`);
    check((await page.locator("#trend text").count()) >= 12, "the chart has a label per month");
    await page.screenshot({ path: join(out, "manager.png"), fullPage: true });
    // Drill down: a grid → its officers.
    await Promise.all([page.waitForNavigation(), page.click("#report tbody a")]);
    check(page.url().includes("by=officer"), "a grid drills down to its officers");
    check((await page.locator("#crumbs").innerText()).includes("›"), "the trail shows where we are");
    await Promise.all([page.waitForNavigation(), page.click("#report tbody a")]);
    check(page.url().includes("by=business"), "an officer drills down to their businesses");
    await page.screenshot({ path: join(out, "manager-drill.png"), fullPage: true });
    await page.goto("/manager");
    for (const [label, check_file] of [
      ["CSV", (b) => b.toString("utf8").startsWith("key,businesses,required,done")],
      ["Excel", (b) => b.subarray(0, 2).toString() === "PK"],
      ["GeoJSON", (b) => JSON.parse(b.toString("utf8")).type === "FeatureCollection"],
    ]) {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.click(`#downloads a:text-is("${label}")`),
      ]);
      const path = join(out, download.suggestedFilename());
      await download.saveAs(path);
      check(check_file(readFileSync(path)), `${label} downloads (${download.suggestedFilename()})`);
    }
    // English by the switch.
    await Promise.all([page.waitForNavigation(), page.click("nav a[href*='lang=en']")]);
    check((await page.locator("h1").innerText()).startsWith("Coverage"), "the manager's page in English");
    await ctx.close();
  }
  // --- the administrator ----------------------------------------------------------------
  section("admin");
  {
    const ctx = await context({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await signIn(page, "admin");
    check(/\/manager\/\w+/.test(page.url()), `the admin lands on the reports (${page.url()})`);
    await page.screenshot({ path: join(out, "admin.png"), fullPage: false });
    // Signing out ends the session: the page asks to sign in again.
    await Promise.all([page.waitForNavigation(), page.click("nav form button")]);
    await page.goto("/manager");
    check(page.url().endsWith("/login"), "after signing out the reports ask to sign in");
    await ctx.close();
  }

  // --- the bureau head -------------------------------------------------------------------
  section("bureau head");
  {
    const ctx = await context({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await signIn(page, "head");
    check(/\/head\/plan\/\w+\/\d+/.test(page.url()), `the head lands on the plan in force (${page.url()})`);
    const region = page.url().match(/\/head\/plan\/(\w+)\//)[1];
    const grids = await page.locator("svg path[data-grid]").count();
    check(grids > 1, `the plan map draws the grids (${grids})`);
    await page.screenshot({ path: join(out, "head-plan.png"), fullPage: true });
    // A new draft to edit, drafted through the API with the same session.
    const draft = await page.request.post(`/api/regions/${region}/plans`, {
      data: { grids: Math.max(2, grids - 1), seed: 7 },
    });
    check(draft.ok(), `a draft plan is made (${draft.status()})`);
    const version = (await draft.json()).version;
    await page.goto(`/head/plan/${region}/${version}`);
    // A unit that is not in the region is refused with the reason on the page.
    await page.fill("input[name=unit]", "NO-SUCH-UNIT");
    await page.fill("input[name=to_grid]", "G01");
    await Promise.all([page.waitForNavigation(), page.click("form[action$='/move?lang=zh'] button")]);
    const refusal = await page.locator("[role=alert]").innerText();
    check(refusal.includes("NO-SUCH-UNIT"), `a refused move says why (${refusal})`);
    // Move the first unit of the first grid that can go to a neighbour and stay whole.
    const rows = await page.locator("tbody tr[data-grid]").evaluateAll((trs) =>
      trs.map((tr) => ({ grid: tr.dataset.grid, units: tr.lastElementChild.innerText.split(" ") })),
    );
    let moved = null;
    search: for (const from of rows) {
      for (const unit of from.units.slice(0, 8)) {
        for (const to of rows) {
          if (to.grid === from.grid) continue;
          await page.fill("input[name=unit]", unit);
          await page.fill("input[name=to_grid]", to.grid);
          await page.check("input[name=accept_imbalance]");
          await Promise.all([page.waitForNavigation(), page.click("form[action$='/move?lang=zh'] button")]);
          if (page.url().includes("done=")) {
            moved = { unit, to: to.grid };
            break search;
          }
        }
      }
    }
    check(moved !== null, `a unit moves between grids (${JSON.stringify(moved)})`);
    const row = await page.locator(`tbody tr[data-grid="${moved?.to}"]`).innerText();
    check(moved !== null && row.includes(moved.unit), "the unit shows in its new grid");
    await page.screenshot({ path: join(out, "head-draft.png"), fullPage: true });
    await Promise.all([page.waitForNavigation(), page.click("form[action$='/approve?lang=zh'] button")]);
    check((await page.locator("body").innerText()).includes("已批准"), "the draft is approved");
    check((await page.locator("input[name=unit]").count()) === 0, "an approved plan is no longer edited");
    await ctx.close();
  }

} catch (e) {
  failures.push(`the run stopped: ${e.stack ?? e}`);
} finally {
  section("done");
  await browser?.close();
  server.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}

writeFileSync(join(out, "result.txt"), `${checks} checks, ${failures.length} failures\n${failures.join("\n")}\n`);
if (failures.length) {
  console.log(`\n${failures.length} failure(s):\n${failures.map((f) => `  - ${f}`).join("\n")}`);
  process.exit(1);
}
console.log(`\nall ${checks} browser checks passed; screenshots in ${out}`);
process.exit(0);
