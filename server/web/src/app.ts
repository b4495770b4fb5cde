// The dashboard: the node's subtree report for a chosen period (one row per child unit, the
// unit's own row, the total) with each unit's freshness, the overdue list, a monthly chart and
// the forms of Thông tư 06/2025/TT-TTCP (previewed as on paper, downloaded as the .xlsx the
// CLI writes), read over gRPC-Web with the operator's token and kept live by WatchReport.

import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type FormReport,
  FormRowKind,
  PeriodCalendar,
  type Report,
  ReportScope,
  ReportService,
  type Totals,
} from "./gen/tiepdan/v1/report_service_pb";
import { PetitionService, type OverdueItem } from "./gen/tiepdan/v1/petition_service_pb";
import { type LinkStatus, SyncService } from "./gen/tiepdan/v1/sync_pb";
import { type Lang, TEXT, type Words } from "./text";

const TOKEN_KEY = "tiepdan.token";
const LANG_KEY = "tiepdan.lang";
const ZONE = "Asia/Ho_Chi_Minh";
/** Link states change without a report changing: they are read again this often. */
const LINK_POLL_MS = 15_000;
/** A watch that broke for another reason than the token is opened again after this. */
const RETRY_MS = 3_000;
const OVERDUE_PAGE = 500;
/** The forms of Thông tư 06/2025/TT-TTCP, as the node names them. */
const FORMS = ["01/TCD", "02/XLD", "03/GQKN", "04/GQTC", "05/KQTH", "06/QLKNTC"];

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

// ---- state ----

let lang: Lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "vi";
let words: Words = TEXT[lang];
let token = sessionStorage.getItem(TOKEN_KEY) ?? "";
let watch: AbortController | null = null;
let linkTimer: number | undefined;
/** The period the open watch shows: the forms are filled for it. */
let shown: { period: string; calendar: PeriodCalendar } | null = null;
/** Counts form reads, so an answer that arrives after a newer request is dropped. */
let formRead = 0;

interface View {
  report?: Report;
  own?: Totals;
  links: Map<string, LinkStatus>;
  overdue: OverdueItem[];
  overdueMore: boolean;
  /** The token's role may read reports but not the overdue list (a reporter). */
  overdueDenied: boolean;
  months?: { visits: bigint; petitions: bigint }[];
  /** The chosen form, filled for the shown period, or why it could not be. */
  form?: FormReport;
  formError?: string;
  updated?: Date;
}
const empty = (): View => ({
  links: new Map(),
  overdue: [],
  overdueMore: false,
  overdueDenied: false,
});
let view: View = empty();

// ---- the services ----

const withToken: Interceptor = (next) => async (req) => {
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
const transport = createGrpcWebTransport({
  baseUrl: location.origin,
  interceptors: [withToken],
});
const reports = createClient(ReportService, transport);
const petitions = createClient(PetitionService, transport);
const sync = createClient(SyncService, transport);

// ---- formatting ----

const number = (n: bigint | number) =>
  new Intl.NumberFormat(lang === "vi" ? "vi-VN" : "en-GB").format(n);
/** Local time in Việt Nam, whatever the browser's zone. */
const at = (date: Date) =>
  new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", {
    timeZone: ZONE,
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).format(date);
const when = (ts: Timestamp | undefined) => (ts ? at(timestampDate(ts)) : "—");
/** A figure of a form as Vietnamese text prints it, whatever the page's language: the form is
 *  the official Vietnamese one. 36.500.000 and 12,5. */
const vnFigure = (n: number) =>
  new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 2 }).format(n);
/** A local day as the forms write it, dd/mm/yyyy. */
const day = (iso: string) => iso.split("-").reverse().join("/");

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

// ---- the period ----

type Kind = "year" | "9M" | "6M" | "Q1" | "Q2" | "Q3" | "Q4" | "month" | "range";
const KINDS: Kind[] = ["year", "9M", "6M", "Q1", "Q2", "Q3", "Q4", "month", "range"];

function periodText(): string {
  const kind = $<HTMLSelectElement>("period-kind").value as Kind;
  const year = $<HTMLInputElement>("period-year").value;
  switch (kind) {
    case "year":
      return year;
    case "month":
      return `${year}-${$<HTMLSelectElement>("period-month").value}`;
    case "range":
      return `${$<HTMLInputElement>("period-from").value}..${$<HTMLInputElement>("period-to").value}`;
    default:
      return `${year}-${kind}`;
  }
}

function calendar(): PeriodCalendar {
  return $<HTMLSelectElement>("calendar").value === "calendar"
    ? PeriodCalendar.CALENDAR
    : PeriodCalendar.STATISTICAL;
}

function showPeriodFields() {
  const kind = $<HTMLSelectElement>("period-kind").value as Kind;
  $("period-year").hidden = kind === "range";
  $("period-month").hidden = kind !== "month";
  $("period-from").hidden = kind !== "range";
  $("period-to").hidden = kind !== "range";
}

/** Fills the selects in the current language, keeping what was chosen. */
function fillSelects() {
  const kind = $<HTMLSelectElement>("period-kind");
  const chosenKind = kind.value || "year";
  kind.replaceChildren(...KINDS.map((k) => el("option", { value: k }, words.kinds[k])));
  kind.value = chosenKind;
  const month = $<HTMLSelectElement>("period-month");
  const chosenMonth = month.value || String(new Date().getMonth() + 1).padStart(2, "0");
  month.replaceChildren(
    ...words.months.map((name, i) => el("option", { value: String(i + 1).padStart(2, "0") }, name)),
  );
  month.value = chosenMonth;
  const cal = $<HTMLSelectElement>("calendar");
  const chosenCal = cal.value || "statistical";
  cal.replaceChildren(
    el("option", { value: "statistical" }, words.statistical),
    el("option", { value: "calendar" }, words.calendarMonths),
  );
  cal.value = chosenCal;
  const form = $<HTMLSelectElement>("form-code");
  const chosenForm = form.value;
  form.replaceChildren(
    el("option", { value: "" }, words.formNone),
    ...FORMS.map((code) => el("option", { value: code }, `${code} — ${words.formNames[code]}`)),
  );
  form.value = chosenForm;
}

/** `?period=2019-9M&calendar=calendar` preselects a period, so a report can be bookmarked. */
function periodFromAddress() {
  const q = new URLSearchParams(location.search);
  const year = $<HTMLInputElement>("period-year");
  year.value = String(new Date().getFullYear());
  const p = q.get("period");
  if (q.get("calendar") === "calendar") $<HTMLSelectElement>("calendar").value = "calendar";
  const form = q.get("form");
  if (form && FORMS.includes(form)) $<HTMLSelectElement>("form-code").value = form;
  if (!p) return;
  const kind = $<HTMLSelectElement>("period-kind");
  let m: RegExpMatchArray | null;
  if ((m = p.match(/^(\d{4})$/))) {
    kind.value = "year";
    year.value = m[1];
  } else if ((m = p.match(/^(\d{4})-(9M|6M|Q[1-4])$/))) {
    kind.value = m[2];
    year.value = m[1];
  } else if ((m = p.match(/^(\d{4})-(\d{2})$/))) {
    kind.value = "month";
    year.value = m[1];
    $<HTMLSelectElement>("period-month").value = m[2];
  } else if ((m = p.match(/^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/))) {
    kind.value = "range";
    $<HTMLInputElement>("period-from").value = m[1];
    $<HTMLInputElement>("period-to").value = m[2];
  }
}

// ---- loading ----

function setState(state: "starting" | "loading" | "ready" | "auth-error" | "error") {
  document.body.dataset.state = state;
}

function showError(message: string) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

/** A refused token hides every figure: nothing read with it may stay on the screen. */
function refuse(e: ConnectError) {
  stop();
  view = empty();
  $("content").hidden = true;
  $("form-sheet").hidden = true;
  $<HTMLButtonElement>("form-download").disabled = true;
  for (const id of ["report-table", "overdue-table", "form-table"]) {
    for (const part of $(id).children) part.replaceChildren();
  }
  $("chart").replaceChildren();
  $("unit-name").textContent = "";
  $("live").textContent = "";
  const reason = e.code === Code.Unauthenticated ? words.unauthenticated : words.denied;
  showError(`${reason} (${Code[e.code]}: ${e.rawMessage})`);
  setState("auth-error");
}

function isRefusal(e: unknown): e is ConnectError {
  return (
    e instanceof ConnectError &&
    (e.code === Code.Unauthenticated || e.code === Code.PermissionDenied)
  );
}

function fail(e: unknown) {
  if (isRefusal(e)) return refuse(e);
  const err = ConnectError.from(e);
  showError(`${words.failed} (${Code[err.code]}: ${err.rawMessage})`);
  setState("error");
}

function stop() {
  watch?.abort();
  watch = null;
  if (linkTimer !== undefined) clearInterval(linkTimer);
  linkTimer = undefined;
}

async function readLinks() {
  const status = await sync.getSyncStatus({});
  view.links = new Map(status.children.map((l) => [l.unitCode, l]));
}

async function readOverdue() {
  const items: OverdueItem[] = [];
  let pageToken = "";
  try {
    do {
      const page = await petitions.listOverdueItems({ pageSize: 1000, pageToken });
      items.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken && items.length < OVERDUE_PAGE);
  } catch (e) {
    // A reporter reads totals and links only: the rest of the page still shows.
    if (e instanceof ConnectError && e.code === Code.PermissionDenied) {
      view.overdueDenied = true;
      view.overdue = [];
      return;
    }
    throw e;
  }
  view.overdueDenied = false;
  view.overdueMore = items.length > OVERDUE_PAGE || pageToken !== "";
  view.overdue = items.slice(0, OVERDUE_PAGE);
}

async function readOwn(period: string, cal: PeriodCalendar) {
  const own = await reports.getReport({ period, calendar: cal, scope: ReportScope.UNIT });
  view.own = own.report?.totals;
}

/** Visits and petitions of each month of the period's first year, over the subtree. */
async function readMonths(year: number, cal: PeriodCalendar) {
  const months = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      reports.getReport({
        period: `${year}-${String(i + 1).padStart(2, "0")}`,
        calendar: cal,
        scope: ReportScope.SUBTREE,
      }),
    ),
  );
  view.months = months.map((m) => ({
    visits: m.report?.totals?.visits ?? 0n,
    petitions: m.report?.totals?.petitionsReceived ?? 0n,
  }));
}

/** The chosen form, filled for the shown period. A refused token is a refusal like any other
 *  read; another error (a period before the forms existed, say) is shown in the forms' panel. */
async function readForm() {
  const code = $<HTMLSelectElement>("form-code").value;
  const read = ++formRead;
  if (!code || !shown) {
    view.form = undefined;
    view.formError = undefined;
    return;
  }
  try {
    const answer = await reports.getFormReport({
      period: shown.period,
      calendar: shown.calendar,
      form: code,
    });
    if (read !== formRead) return;
    view.form = answer.report;
    view.formError = undefined;
  } catch (e) {
    if (isRefusal(e)) throw e;
    if (read !== formRead) return;
    const err = ConnectError.from(e);
    view.form = undefined;
    view.formError = `${words.formFailed} (${Code[err.code]}: ${err.rawMessage})`;
  }
}

/** Opens the watch on the chosen period: each report it sends refreshes the whole page. */
async function start() {
  stop();
  showError("");
  setState("loading");
  const period = periodText();
  const cal = calendar();
  const controller = new AbortController();
  watch = controller;
  shown = { period, calendar: cal };
  try {
    linkTimer = window.setInterval(() => {
      readLinks()
        .then(render)
        .catch((e) => (isRefusal(e) ? refuse(e) : undefined));
    }, LINK_POLL_MS);
    const stream = reports.watchReport(
      { report: { period, calendar: cal, scope: ReportScope.SUBTREE } },
      { signal: controller.signal },
    );
    for await (const message of stream) {
      if (!message.report) continue;
      // A statistical year starts on 15 December of the year before: the chart shows the
      // year the period ends in.
      const year = Number(message.report.endDate.slice(0, 4));
      await Promise.all([
        readOwn(period, cal),
        readLinks(),
        readOverdue(),
        readMonths(year, cal),
        readForm(),
      ]);
      view.report = message.report;
      view.updated = new Date();
      const unit = message.report.unit;
      $("unit-name").textContent = unit ? `${unit.name} (${unit.code})` : "";
      $("content").hidden = false;
      render();
      setState("ready");
    }
  } catch (e) {
    if (controller.signal.aborted) return;
    if (isRefusal(e)) return refuse(e);
    fail(e);
    // A broken stream (the node restarting, the network) is opened again.
    window.setTimeout(() => {
      if (watch === controller) void start();
    }, RETRY_MS);
    return;
  }
  if (watch === controller && !controller.signal.aborted) {
    window.setTimeout(() => {
      if (watch === controller) void start();
    }, RETRY_MS);
  }
}

// ---- rendering ----

const COLUMNS: { key: keyof Words["cols"]; value: (t: Totals) => bigint | number; suffix?: string }[] =
  [
    { key: "visits", value: (t) => t.visits },
    { key: "persons", value: (t) => t.persons },
    { key: "crowdGroups", value: (t) => t.crowdGroups },
    { key: "petitionsReceived", value: (t) => t.petitionsReceived },
    { key: "petitionsAccepted", value: (t) => t.petitionsAccepted },
    { key: "casesToResolve", value: (t) => t.casesToResolve },
    { key: "casesResolved", value: (t) => t.casesResolved },
    { key: "resolutionRate", value: (t) => t.resolutionRate?.percent ?? 0, suffix: " %" },
    { key: "casesOverdue", value: (t) => t.casesOverdue },
  ];

function figures(t: Totals | undefined): HTMLElement[] {
  return COLUMNS.map((c) =>
    el("td", { "data-field": c.key }, t ? number(c.value(t)) + (c.suffix ?? "") : "—"),
  );
}

/** "synced at …" or, for a child whose link is down, "disconnected since …". */
function freshness(code: string, asOf: Timestamp | undefined): HTMLElement {
  const link = view.links.get(code);
  if (link && !link.connected) {
    return el(
      "td",
      { class: "fresh offline", "data-field": "freshness", "data-offline": "true" },
      `${words.offlineSince} ${when(link.sinceTime)}`,
    );
  }
  return el(
    "td",
    { class: "fresh", "data-field": "freshness", "data-offline": "false" },
    `${words.syncedAt} ${when(asOf)}`,
  );
}

function renderReport() {
  const r = view.report;
  if (!r) return;
  const table = $("report-table");
  const [thead, tbody, tfoot] = [
    table.querySelector("thead")!,
    table.querySelector("tbody")!,
    table.querySelector("tfoot")!,
  ];
  thead.replaceChildren(
    el(
      "tr",
      {},
      el("th", { class: "name", scope: "col" }, words.unit),
      ...COLUMNS.map((c) => el("th", { scope: "col" }, words.cols[c.key])),
      el("th", { class: "name", scope: "col" }, words.freshness),
    ),
  );
  const rows: HTMLElement[] = r.children.map((row) =>
    el(
      "tr",
      { "data-unit": row.unit?.code ?? "" },
      el("td", { class: "name" }, `${row.unit?.name ?? ""} (${row.unit?.code ?? ""})`),
      ...figures(row.totals),
      freshness(row.unit?.code ?? "", row.asOfTime),
    ),
  );
  rows.push(
    el(
      "tr",
      { class: "own", "data-unit": "own" },
      el("td", { class: "name" }, `${words.ownRow}: ${r.unit?.name ?? ""}`),
      ...figures(view.own),
      el("td", { class: "fresh", "data-field": "freshness" }, words.local),
    ),
  );
  tbody.replaceChildren(...rows);
  tfoot.replaceChildren(
    el(
      "tr",
      { "data-unit": "total" },
      el("td", { class: "name" }, words.total),
      ...figures(r.totals),
      el("td", { class: "fresh" }, ""),
    ),
  );
  const calName = r.calendar === PeriodCalendar.CALENDAR ? words.calendarMonths : words.statistical;
  $("report-meta").textContent =
    `${words.periodIs} ${r.period}: ${day(r.startDate)} – ${day(r.endDate)} · ${calName}. ` +
    `${words.generated} ${when(r.generateTime)}.`;
}

function renderOverdue() {
  const table = $("overdue-table");
  table.querySelector("thead")!.replaceChildren(
    el(
      "tr",
      {},
      el("th", { class: "name", scope: "col" }, words.id),
      el("th", { class: "name", scope: "col" }, words.kind),
      el("th", { class: "name", scope: "col" }, words.summary),
      el("th", { scope: "col" }, words.due),
      el("th", { scope: "col" }, words.daysLate),
    ),
  );
  table.querySelector("tbody")!.replaceChildren(
    ...view.overdue.map((item) => {
      const isCase = item.item.case === "case";
      const record = item.item.value;
      const id = record?.id ?? "";
      const summary =
        item.item.case === "petition"
          ? item.item.value.summary
          : item.item.case === "case"
            ? `${words.caseOf} ${item.item.value.petitionIds.join(", ")}`
            : "";
      const due = record?.deadline?.dueDate ?? "";
      return el(
        "tr",
        { "data-id": id },
        el("td", { class: "text", "data-field": "id" }, id),
        el("td", { class: "text" }, isCase ? words.aCase : words.aPetition),
        el("td", { class: "text" }, summary),
        el("td", {}, due ? day(due) : "—"),
        el("td", { class: "late", "data-field": "days" }, number(item.daysOverdue)),
      );
    }),
  );
  $("overdue-meta").textContent = view.overdueDenied
    ? words.overdueDenied
    : view.overdue.length === 0
      ? words.noneOverdue
      : `${number(view.overdue.length)}${view.overdueMore ? "+" : ""} ${words.overdueCount}`;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Twelve pairs of bars, visits and petitions, drawn to scale with a few grid lines. */
function renderChart() {
  const months = view.months;
  const box = $("chart");
  if (!months) return box.replaceChildren();
  const [w, h, left, bottom, top] = [720, 240, 44, 34, 14];
  const max = Math.max(1, ...months.flatMap((m) => [Number(m.visits), Number(m.petitions)]));
  const step = 10 ** Math.floor(Math.log10(max));
  const ceiling = Math.ceil(max / step) * step;
  const y = (v: number) => h - bottom - ((h - bottom - top) * v) / ceiling;
  const slot = (w - left) / 12;
  const chart = svg("svg", {
    viewBox: `0 0 ${w} ${h}`,
    role: "img",
    "aria-label": words.chartTitle,
  });
  for (let v = 0; v <= ceiling; v += ceiling / 4) {
    chart.append(svg("line", { x1: left, x2: w, y1: y(v), y2: y(v) }));
    chart.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, number(v)));
  }
  months.forEach((m, i) => {
    const x = left + i * slot + slot * 0.15;
    const bar = slot * 0.33;
    for (const [j, cls, v] of [
      [0, "visits", Number(m.visits)],
      [1, "petitions", Number(m.petitions)],
    ] as const) {
      const rect = svg("rect", {
        class: cls,
        x: x + j * bar,
        y: y(v),
        width: bar - 1,
        height: h - bottom - y(v),
      });
      rect.append(svg("title", {}, `${words.months[i]}: ${number(v)} ${words.legend[j]}`));
      chart.append(rect);
    }
    chart.append(
      svg("text", { x: x + bar, y: h - bottom + 14, "text-anchor": "middle" }, String(i + 1)),
    );
  });
  const legend = (x: number, cls: string, text: string) => {
    chart.append(svg("rect", { class: cls, x, y: h - 12, width: 10, height: 10 }));
    chart.append(svg("text", { x: x + 14, y: h - 3 }, text));
  };
  legend(left, "visits", words.legend[0]);
  legend(left + 140, "petitions", words.legend[1]);
  box.replaceChildren(chart);
}

/** What the first column of a form says of a row, as the .xlsx says it. */
function formRowLabel(kind: FormRowKind, code: string, name: string): string {
  if (kind === FormRowKind.OWN) return `${code} ${name} (tại đơn vị)`;
  if (kind === FormRowKind.TOTAL) return `Tổng cộng ${name}`;
  return `${code} ${name}`;
}

const ROW_KINDS: Partial<Record<FormRowKind, string>> = {
  [FormRowKind.CHILD]: "child",
  [FormRowKind.OWN]: "own",
  [FormRowKind.TOTAL]: "total",
};

/** The form as on paper: group headers merged over their columns, each label running down to
 *  the MS row, one row per unit, the unit's own row and the total, the notes line. A column
 *  the system does not record is shaded and empty, never 0. */
function renderForm() {
  const f = view.form;
  const code = $<HTMLSelectElement>("form-code").value;
  const error = $("form-error");
  error.textContent = view.formError ?? "";
  error.hidden = !view.formError;
  const ready = !!f && f.code === code;
  $<HTMLButtonElement>("form-download").disabled = !ready;
  const table = $("form-table");
  const [thead, tbody] = [table.querySelector("thead")!, table.querySelector("tbody")!];
  $("form-sheet").hidden = !ready;
  if (!f || !ready) {
    thead.replaceChildren();
    tbody.replaceChildren();
    return;
  }
  $("form-code-line").textContent = `Biểu số: ${f.code}`;
  $("form-title").textContent = f.title;
  $("form-meta").textContent =
    `Đơn vị báo cáo: ${f.unit?.name ?? ""} · ` +
    `Số liệu tính từ ngày ${day(f.startDate)} đến ngày ${day(f.endDate)}`;
  const cols = f.columns;
  const depth = Math.max(0, ...cols.map((c) => c.group.length)) + 1;
  const head: HTMLElement[] = [];
  for (let level = 0; level < depth; level++) {
    const tr = el("tr");
    if (level === 0) {
      tr.append(el("th", { class: "name", scope: "col", rowspan: String(depth) }, words.unit));
    }
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i];
      if (c.group.length === level) {
        tr.append(
          el(
            "th",
            { scope: "col", rowspan: String(depth - level), "data-col": String(i) },
            c.label,
          ),
        );
      } else if (c.group.length > level) {
        const prefix = c.group.slice(0, level + 1).join("\u0000");
        const previous = cols[i - 1];
        const continues =
          previous &&
          previous.group.length > level &&
          previous.group.slice(0, level + 1).join("\u0000") === prefix;
        if (continues) continue;
        let span = 1;
        while (
          i + span < cols.length &&
          cols[i + span].group.length > level &&
          cols[i + span].group.slice(0, level + 1).join("\u0000") === prefix
        ) {
          span++;
        }
        tr.append(
          el(
            "th",
            {
              scope: "colgroup",
              colspan: String(span),
              "data-group": String(level),
              "data-first": String(i),
            },
            c.group[level],
          ),
        );
      }
    }
    head.push(tr);
  }
  head.push(
    el(
      "tr",
      { class: "ms" },
      el("th", { class: "name", scope: "row" }, "MS"),
      ...cols.map((c, i) => el("th", { "data-ms": String(i) }, c.ms)),
    ),
  );
  thead.replaceChildren(...head);
  tbody.replaceChildren(
    ...f.rows.map((row, r) => {
      const kind = ROW_KINDS[row.kind] ?? "child";
      return el(
        "tr",
        { class: kind, "data-kind": kind, "data-unit": row.unit?.code ?? "", "data-row": String(r) },
        el(
          "td",
          { class: "name" },
          formRowLabel(row.kind, row.unit?.code ?? "", row.unit?.name ?? ""),
        ),
        ...cols.map((c, i) => {
          const value = row.cells[i]?.value;
          if (!c.recorded) {
            return el("td", { class: "unrecorded", "data-col": String(i), title: words.formUnrecorded });
          }
          return el("td", { "data-col": String(i) }, value === undefined ? "" : vnFigure(value));
        }),
      );
    }),
  );
  $("form-notes").textContent = `${cols.length + 1}. Ghi chú: ${f.notes.join(" ")}`;
}

/** The chosen form's .xlsx from the node, fetched with the token and saved by the browser. */
async function downloadForm() {
  const f = view.form;
  if (!f || !shown) return;
  const query = new URLSearchParams({
    form: f.code,
    period: shown.period,
    calendar: shown.calendar === PeriodCalendar.CALENDAR ? "calendar" : "statistical",
  });
  const error = $("form-error");
  try {
    const answer = await fetch(`/forms.xlsx?${query}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      cache: "no-store",
    });
    if (!answer.ok) {
      throw new Error(`${answer.status}: ${(await answer.text()).trim()}`);
    }
    const blob = await answer.blob();
    const disposition = answer.headers.get("content-disposition") ?? "";
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? "bieu-mau.xlsx";
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: name, hidden: "" });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    error.hidden = true;
  } catch (e) {
    error.textContent = `${words.formDownloadFailed} (${e instanceof Error ? e.message : String(e)})`;
    error.hidden = false;
  }
}

function render() {
  renderReport();
  renderOverdue();
  renderChart();
  renderForm();
  $("live").textContent = view.updated ? `${words.live} ${at(view.updated)}` : "";
}

function translate() {
  words = TEXT[lang];
  document.documentElement.lang = lang;
  document.title = `tiepdan — ${words.title}`;
  $("title").textContent = words.title;
  $("lang").textContent = lang === "vi" ? "English" : "Tiếng Việt";
  $("lang").setAttribute("lang", lang === "vi" ? "en" : "vi");
  for (const node of document.querySelectorAll<HTMLElement>("[data-i18n]")) {
    const key = node.dataset.i18n as keyof Words;
    const text = words[key];
    if (typeof text === "string") node.textContent = text;
  }
  fillSelects();
  render();
}

// ---- wiring ----

function main() {
  fillSelects();
  periodFromAddress();
  showPeriodFields();
  translate();
  $<HTMLInputElement>("token").value = token;
  $("lang").addEventListener("click", () => {
    lang = lang === "vi" ? "en" : "vi";
    localStorage.setItem(LANG_KEY, lang);
    translate();
  });
  $("period-kind").addEventListener("change", showPeriodFields);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $<HTMLInputElement>("token").value.trim();
    // The session's storage: the token is gone when the tab closes.
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    void start();
  });
  $("token-forget").addEventListener("click", () => {
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    $<HTMLInputElement>("token").value = "";
    void start();
  });
  $("form-code").addEventListener("change", () => {
    view.form = undefined;
    view.formError = undefined;
    renderForm();
    readForm()
      .then(renderForm)
      .catch((e) => (isRefusal(e) ? refuse(e) : fail(e)));
  });
  $("forms-form").addEventListener("submit", (e) => e.preventDefault());
  $("form-download").addEventListener("click", () => void downloadForm());
  $("period-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void start();
  });
  void start();
}

main();
