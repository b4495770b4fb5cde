// Drives the dashboard in Debian's Chromium, headless, through playwright-core (no browser
// download): `node dashboard.mjs BRIEF.json`, the brief written by
// tests/tests/suite/browser_dashboard.rs with the page's address, tokens and the figures the
// node's API answered. Checks that the page shows exactly those, saves screenshots, then
// prints `WAITING live`, reads one line of new figures on stdin and checks that the open page
// shows them without a reload. Before that, a form of Thông tư 06/2025 (brief.form) is opened
// in a second tab: every cell must equal GetFormReport's, unrecorded columns empty, and "Tải
// .xlsx" must save the very bytes /forms.xlsx served; the saved path is printed as
// `DOWNLOADED <path>` for the Rust side's openpyxl check. Exits non-zero on the first
// difference.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const brief = JSON.parse(readFileSync(process.argv[2], "utf8"));
const expected = brief.expected;
const executablePath = process.env.TIEPDAN_CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 30_000;

// The whole run is bounded: a hung browser fails the test instead of holding it.
const alarm = setTimeout(() => {
  console.error("dashboard.mjs: gave up after 180 s");
  process.exit(2);
}, 180_000);

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
}
function done(what) {
  if (failures.length) {
    console.error(`${what}:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

/** A figure as displayed ("1.234", "63 %") as a number. */
const parse = (text) => Number(text.replace(/[^\d-]/g, ""));

/** A form's figure as the page prints it, read back independently of the page's formatter:
 *  Vietnamese grouping dots and decimal comma ("36.500.000", "12,5") or null for an empty cell. */
function vnFigure(text) {
  if (text === "") return null;
  if (!/^-?\d{1,3}(\.\d{3})*(,\d{1,2})?$/.test(text)) return NaN;
  return Number(text.replaceAll(".", "").replace(",", "."));
}

async function shot(page, name) {
  const path = join(brief.screenshots, name);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

async function waitState(page, state) {
  await page.waitForSelector(`body[data-state="${state}"]`, { timeout: TIMEOUT });
}

/** Every row of the report table: unit code (or "own", "total") → field → number. */
async function reportRows(page) {
  return page.$$eval("#report-table tr[data-unit]", (rows) =>
    rows.map((tr) => ({
      unit: tr.dataset.unit,
      cells: Object.fromEntries(
        [...tr.querySelectorAll("td[data-field]")].map((td) => [
          td.dataset.field,
          { text: td.textContent, offline: td.dataset.offline },
        ]),
      ),
    })),
  );
}

function compareRow(where, shown, want) {
  if (!shown) return check(false, `${where}: row missing`);
  for (const [field, value] of Object.entries(want)) {
    const cell = shown.cells[field];
    check(
      cell && parse(cell.text) === Number(value),
      `${where}.${field}: page shows ${cell?.text}, API says ${value}`,
    );
  }
}

async function expectNoFigures(page, what) {
  await waitState(page, "auth-error");
  const error = await page.textContent("#error");
  const figures = await page.$$eval("td[data-field], #chart rect", (cells) => cells.length);
  const hidden = await page.$eval("#content", (el) => el.hidden);
  check(figures === 0, `${what}: ${figures} figures on the page`);
  check(hidden, `${what}: the report is not hidden`);
  check(/mã truy cập/i.test(error ?? ""), `${what}: error says ${JSON.stringify(error)}`);
  return error;
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start.
  args: ["--no-sandbox"],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: "vi-VN",
    timezoneId: "Asia/Ho_Chi_Minh",
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  const url = `${brief.url}?period=${encodeURIComponent(brief.period)}`;

  // 1. No token, a forged one, one of another unit's node: nothing shown.
  await page.goto(url);
  let error = await expectNoFigures(page, "no token");
  check(error.includes("Unauthenticated"), `no token: ${error}`);
  await shot(page, "dashboard-no-token.png");
  for (const [what, token, code] of [
    ["forged token", brief.forged, "Unauthenticated"],
    ["another unit's token", brief.otherUnit, "PermissionDenied"],
  ]) {
    await page.fill("#token", token);
    await page.click("#token-form button[type=submit]");
    error = await expectNoFigures(page, what);
    check(error.includes(code), `${what}: ${error}`);
  }
  done("a page without a valid token shows no figure");

  // A reporter reads the report but not the overdue list.
  await page.fill("#token", brief.reporter);
  await page.click("#token-form button[type=submit]");
  await waitState(page, "ready");
  const reporterRows = await reportRows(page);
  compareRow("reporter total", reporterRows.find((r) => r.unit === "total"), expected.total);
  const overdueRows = await page.$$eval("#overdue-table tr[data-id]", (rows) => rows.length);
  check(overdueRows === 0, `reporter: ${overdueRows} overdue rows`);
  check(
    /không được xem danh sách quá hạn/.test(await page.textContent("#overdue-meta")),
    "reporter: the overdue list's refusal is not shown",
  );
  done("a reporter's page shows the report and no overdue item");

  // 2. The head's token: the report, row by row, equals GetReport.
  await page.fill("#token", brief.token);
  await page.click("#token-form button[type=submit]");
  await waitState(page, "ready");
  const rows = await reportRows(page);
  const byUnit = new Map(rows.map((r) => [r.unit, r]));
  const children = rows.filter((r) => r.unit !== "own" && r.unit !== "total").map((r) => r.unit);
  check(
    JSON.stringify([...children].sort()) === JSON.stringify(Object.keys(expected.rows).sort()),
    `child rows: page ${children}, API ${Object.keys(expected.rows)}`,
  );
  for (const [code, want] of Object.entries(expected.rows)) compareRow(code, byUnit.get(code), want);
  compareRow("own", byUnit.get("own"), expected.own);
  compareRow("total", byUnit.get("total"), expected.total);
  done("the report's rows and total equal GetReport");

  // 3. Freshness: the cut ward is offline, the other synced.
  for (const code of expected.offline) {
    const cell = byUnit.get(code)?.cells.freshness;
    check(
      cell?.offline === "true" && cell.text.startsWith("mất kết nối từ"),
      `${code} should show offline: ${JSON.stringify(cell)}`,
    );
  }
  for (const code of expected.online) {
    const cell = byUnit.get(code)?.cells.freshness;
    check(
      cell?.offline === "false" && cell.text.startsWith("đồng bộ lúc"),
      `${code} should show synced: ${JSON.stringify(cell)}`,
    );
  }
  done("the cut-off ward shows as offline, the other as synced");

  // 4. The overdue list: the same items, in the same order (most overdue first), same days.
  const overdue = await page.$$eval("#overdue-table tr[data-id]", (rows) =>
    rows.map((tr) => ({
      id: tr.dataset.id,
      days: tr.querySelector("td[data-field=days]")?.textContent ?? "",
    })),
  );
  check(
    overdue.length === expected.overdue.length,
    `overdue: page lists ${overdue.length}, API ${expected.overdue.length}`,
  );
  expected.overdue.forEach((want, i) => {
    const shown = overdue[i];
    check(
      shown && shown.id === want.id && parse(shown.days) === want.days,
      `overdue #${i}: page ${JSON.stringify(shown)}, API ${JSON.stringify(want)}`,
    );
  });
  const bars = await page.$$eval("#chart rect.visits", (r) => r.length);
  check(bars === 13, `chart: ${bars} visit bars (12 months and the legend)`);
  done("the overdue list equals ListOverdueItems; the chart is drawn");

  await shot(page, "dashboard.png");
  await page.screenshot({ path: join(brief.screenshots, "dashboard-top.png") });
  await page.click("#lang");
  check((await page.textContent("#report-table thead")).includes("Visits"), "English headers");
  await shot(page, "dashboard-en.png");
  await page.click("#lang");
  await page.emulateMedia({ media: "print" });
  await page.pdf({
    path: join(brief.screenshots, "report-a4.pdf"),
    format: "A4",
    landscape: true,
  });
  await shot(page, "dashboard-print.png");
  await page.emulateMedia({ media: "screen" });
  // The token lives in the tab's sessionStorage: the phone view is the same tab, narrowed.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.body.scrollWidth - window.innerWidth);
  check(overflow <= 1, `phone: the page is ${overflow}px wider than the screen`);
  await shot(page, "dashboard-phone.png");
  await page.setViewportSize({ width: 1280, height: 800 });
  done("English, print and phone views");

  // 5. A form, in a tab of its own (the token is the tab's): the table equals GetFormReport
  //    cell by cell, and the download saves what the node served.
  {
  const form = brief.form;
  const want = form.expected;
  const formsPage = await context.newPage();
  formsPage.on("pageerror", (e) => failures.push(`forms page error: ${e.message}`));
  await formsPage.goto(
    `${brief.url}?period=${encodeURIComponent(form.period)}&calendar=calendar` +
      `&form=${encodeURIComponent(form.code)}`,
  );
  await formsPage.fill("#token", brief.token);
  await formsPage.click("#token-form button[type=submit]");
  await waitState(formsPage, "ready");
  await formsPage.waitForSelector("#form-table tbody tr[data-row]", { timeout: TIMEOUT });
  const sheet = await formsPage.evaluate(() => {
    const text = (sel) => document.querySelector(sel)?.textContent ?? "";
    return {
      code: text("#form-code-line"),
      title: text("#form-title"),
      meta: text("#form-meta"),
      notes: text("#form-notes"),
      labels: [...document.querySelectorAll("#form-table thead th[data-col]")].map((th) => ({
        col: Number(th.dataset.col),
        text: th.textContent,
        rowspan: Number(th.getAttribute("rowspan") ?? 1),
      })),
      groups: [...document.querySelectorAll("#form-table thead th[data-group]")].map((th) => ({
        level: Number(th.dataset.group),
        first: Number(th.dataset.first),
        span: Number(th.getAttribute("colspan") ?? 1),
        text: th.textContent,
      })),
      ms: [...document.querySelectorAll("#form-table thead th[data-ms]")].map((th) => th.textContent),
      rows: [...document.querySelectorAll("#form-table tbody tr[data-row]")].map((tr) => ({
        kind: tr.dataset.kind,
        unit: tr.dataset.unit,
        label: tr.querySelector("td.name")?.textContent,
        cells: [...tr.querySelectorAll("td[data-col]")].map((td) => ({
          text: td.textContent,
          unrecorded: td.classList.contains("unrecorded"),
          shade: getComputedStyle(td).backgroundImage,
        })),
      })),
    };
  });
  check(sheet.code === `Biểu số: ${want.code}`, `form code line: ${sheet.code}`);
  check(sheet.title === want.title, `form title: ${sheet.title}`);
  check(
    sheet.meta.includes(`Số liệu tính từ ngày ${want.start} đến ngày ${want.end}`),
    `form period line: ${sheet.meta}`,
  );
  check(
    sheet.notes === `${want.columns.length + 1}. Ghi chú: ${want.notes.join(" ")}`,
    `form notes: ${sheet.notes}`,
  );
  const depth = Math.max(...want.columns.map((c) => c.group.length)) + 1;
  check(sheet.labels.length === want.columns.length, `form: ${sheet.labels.length} column labels`);
  want.columns.forEach((c, i) => {
    const label = sheet.labels.find((l) => l.col === i);
    check(
      label?.text === c.label && label.rowspan === depth - c.group.length,
      `column ${c.number} label: ${JSON.stringify(label)}, form says ${c.label}`,
    );
    check(sheet.ms[i] === c.ms, `column ${c.number} MS: ${sheet.ms[i]}, form says ${c.ms}`);
    // Each group over the column is one merged cell whose span covers it.
    c.group.forEach((name, level) => {
      const over = sheet.groups.find(
        (g) => g.level === level && g.first <= i && i < g.first + g.span,
      );
      check(over?.text === name, `column ${c.number} group ${level}: ${over?.text}, form says ${name}`);
    });
  });
  check(
    sheet.groups.some((g) => g.span > 1),
    "form: no group header is merged across columns",
  );
  check(
    sheet.rows.length === want.rows.length,
    `form: page shows ${sheet.rows.length} rows, API ${want.rows.length}`,
  );
  let cells = 0;
  want.rows.forEach((row, r) => {
    const shown = sheet.rows[r];
    if (!shown) return;
    check(
      shown.kind === row.kind && shown.unit === row.unit && shown.label === row.label,
      `form row ${r}: page ${shown.kind} ${shown.unit} "${shown.label}", API ${row.kind} ${row.unit} "${row.label}"`,
    );
    check(shown.cells.length === want.columns.length, `form row ${r}: ${shown.cells.length} cells`);
    want.columns.forEach((c, i) => {
      const cell = shown.cells[i];
      const value = row.values[i] ?? null;
      cells++;
      if (!c.recorded) {
        check(
          cell?.text === "" && cell.unrecorded && cell.shade !== "none",
          `form row ${r} column ${c.number} is not recorded: page shows ${JSON.stringify(cell)}`,
        );
        return;
      }
      const figure = vnFigure(cell?.text ?? "?");
      check(
        value === null
          ? figure === null
          : figure !== null && Math.abs(figure - Math.round(value * 100) / 100) < 1e-9,
        `form row ${r} (${row.unit}) column ${c.number} "${c.label}": page shows ` +
          `${JSON.stringify(cell?.text)}, API says ${value}`,
      );
    });
  });
  const total = sheet.rows.find((r) => r.kind === "total");
  check(
    total?.cells.some((c) => /^\d{1,3}(\.\d{3})*,\d+$/.test(c.text)),
    `form: no figure with a decimal comma in the total: ${JSON.stringify(total?.cells.map((c) => c.text))}`,
  );
  done(`form ${want.code}: ${cells} cells equal GetFormReport, unrecorded columns empty`);
  // Wide enough for all the form's columns in the screenshot.
  await formsPage.setViewportSize({ width: 2600, height: 900 });
  await formsPage.locator("#forms").screenshot({ path: join(brief.screenshots, "dashboard-form.png") });
  console.log(`screenshot: ${join(brief.screenshots, "dashboard-form.png")}`);

  // What the node serves is captured on its way to the page (and passed on unchanged).
  let served = null;
  await formsPage.route("**/forms.xlsx?*", async (route) => {
    const response = await route.fetch();
    served = { status: response.status(), headers: response.headers(), body: await response.body() };
    await route.fulfill({ response, body: served.body });
  });
  const [download] = await Promise.all([
    formsPage.waitForEvent("download", { timeout: TIMEOUT }),
    formsPage.click("#form-download"),
  ]);
  const saved = join(brief.screenshots, form.file);
  await download.saveAs(saved);
  const servedBytes = served?.body ?? Buffer.alloc(0);
  const savedBytes = readFileSync(saved);
  check(served?.status === 200, `/forms.xlsx answered ${served?.status}`);
  check(
    served?.headers["content-type"] ===
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    `/forms.xlsx content-type ${served?.headers["content-type"]}`,
  );
  check(
    download.suggestedFilename() === form.file,
    `download named ${download.suggestedFilename()}, expected ${form.file}`,
  );
  check(
    savedBytes.length > 0 && Buffer.compare(savedBytes, servedBytes) === 0,
    `the saved file (${savedBytes.length} bytes) differs from what /forms.xlsx served (${servedBytes.length})`,
  );
  check(savedBytes.subarray(0, 2).toString() === "PK", "the saved file is not an .xlsx (zip)");
  done(`"Tải .xlsx" saved the ${servedBytes.length} bytes /forms.xlsx served`);
  console.log(`DOWNLOADED ${saved}`);
  // In English the page's words change; the form stays the official Vietnamese one.
  const body = await formsPage.textContent("#form-table tbody");
  await formsPage.click("#lang");
  check(
    (await formsPage.textContent("#form-download")) === "Download .xlsx",
    "forms: the button in English",
  );
  check(
    (await formsPage.textContent("#form-table tbody")) === body,
    "forms: the figures changed with the language",
  );
  await formsPage.click("#lang");
  await formsPage.close();
  done("the forms' panel switches language, the form's figures stay Vietnamese");
  }

  // 6. Live: a visit recorded now reaches the open page through WatchReport.
  console.log("WAITING live");
  const lines = createInterface({ input: process.stdin });
  const next = JSON.parse((await lines[Symbol.asyncIterator]().next()).value);
  lines.close();
  const want = String(next.total.visits);
  await page.waitForFunction(
    (visits) =>
      document.querySelector('#report-table tr[data-unit="total"] td[data-field="visits"]')
        ?.textContent?.replace(/[^\d]/g, "") === visits,
    want,
    { timeout: TIMEOUT },
  );
  const live = await reportRows(page);
  compareRow("live total", live.find((r) => r.unit === "total"), next.total);
  compareRow("live own", live.find((r) => r.unit === "own"), next.own);
  done("the open page follows WatchReport");
} finally {
  await browser.close();
  clearTimeout(alarm);
}
