// Relay management console: a hash-routed single page over the admin API (/v1/admin/*).
//
// No build, no libraries. Every piece of API data is untrusted: the DOM is built with createElement and
// textContent only (h() below), never innerHTML. The admin token lives in sessionStorage only.
//
// Layout of this file:
//   1. DOM helpers           h(), fragments, chips, formatting
//   2. Session and api()     the one fetch wrapper; errors become ApiError
//   3. Forms                 field builders, the field-error renderer (fields[].path → inputs)
//   4. Dialogs and copy      confirmDialog(), formDialog(), copy-to-clipboard
//   5. Shared data           /info, /vendors, the OpenAPI enums, paged lists
//   6. Views                 sign-in, sources, integrations list, add / edit integration, DLQ
//   7. Router and start-up

const API = "/v1/admin";
const TOKEN_KEY = "relay.adminToken";
const APP_NAME = "Relay console";

// ---------------------------------------------------------------------------------------------------
// 1. DOM helpers
// ---------------------------------------------------------------------------------------------------

// Properties set as DOM properties rather than attributes.
const PROPERTIES = new Set(["value", "checked", "selected", "disabled", "hidden", "open", "readOnly", "required"]);

let uidCounter = 0;
const uid = (prefix) => `${prefix}-${++uidCounter}`;

/** Element `tag` with `props` (attributes; `class`, `text`, `on`, `dataset` special) and children. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "on") for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else if (key.startsWith("aria-")) el.setAttribute(key, String(value));
    else if (value === false) continue;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings, numbers, arrays; null / undefined / false skipped). */
function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** A status chip: text (always) and a colour tone (never the only carrier of meaning). */
function chip(text, tone = "neutral") {
  return h("span", { class: `chip chip-${tone}`, text });
}

function mono(text) {
  return h("code", { class: "mono", text: text ?? "—" });
}

/** "2024-05-01 12:34:56 UTC" (fixed format and zone: no locale or clock in the page). */
function fmtTime(iso) {
  if (!iso) return "—";
  const date = new Date(String(iso).split("#", 1)[0]);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function fmtCount(n) {
  return typeof n === "number" ? n.toLocaleString("en-US") : "—";
}

/** A share (0–1, as /stats sends it) as "42%". */
function fmtShare(share) {
  const pct = (Number(share) || 0) * 100;
  return `${pct >= 10 || pct === 0 ? Math.round(pct) : pct.toFixed(1)}%`;
}

function shareWidth(share) {
  return `${Math.max(0, Math.min(100, (Number(share) || 0) * 100))}%`;
}

const humanize = (code) => String(code ?? "").replace(/_/g, " ");

/** A definition list from [term, value] pairs (value: text or node; null pairs skipped). */
function definitions(pairs, className = "facts") {
  return h(
    "dl",
    { class: className },
    pairs.filter(Boolean).map(([term, value]) => [h("dt", { text: term }), h("dd", {}, value ?? "—")]),
  );
}

/** A table: headers (strings) and rows (arrays of cells: text, node, or {th: text}). */
function table({ caption, headers, rows, className = "table" }) {
  const head = h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col", text }))));
  const body = h(
    "tbody",
    {},
    rows.map((cells) =>
      cells instanceof Node
        ? cells
        : h(
            "tr",
            {},
            cells.map((cell) =>
              cell && typeof cell === "object" && "th" in cell
                ? h("th", { scope: "row" }, cell.th)
                : h("td", {}, cell ?? "—"),
            ),
          ),
    ),
  );
  return h("div", { class: "table-wrap" }, h("table", { class: className }, caption ? h("caption", { text: caption }) : null, head, body));
}

function card(title, ...children) {
  const id = uid("card");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id, text: title }), children);
}

function link(href, text, className) {
  return h("a", { href, class: className, text });
}

function button(text, { kind = "", type = "button", onClick, ...props } = {}) {
  return h("button", { type, class: `button ${kind}`.trim(), text, on: onClick ? { click: onClick } : undefined, ...props });
}

/** Disable `btn` while `work` runs (no double submits); its label says it is busy. */
async function busy(btn, label, work) {
  const original = btn.textContent;
  btn.disabled = true;
  btn.setAttribute("aria-busy", "true");
  if (label) btn.textContent = label;
  try {
    return await work();
  } finally {
    btn.disabled = false;
    btn.removeAttribute("aria-busy");
    btn.textContent = original;
  }
}

// ---------------------------------------------------------------------------------------------------
// 2. Session and the API
// ---------------------------------------------------------------------------------------------------

const session = {
  token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* storage blocked: nothing stored either */
    }
    cache.clear();
  },
};

/** A refusal of the admin API ({"error": {status, code, message, fields, correlation_id}}) or no answer. */
class ApiError extends Error {
  constructor(status, error = {}) {
    super(error.message || (status ? `The API answered ${status}` : "The Relay API did not answer"));
    this.status = status;
    this.code = error.code || (status ? `http_${status}` : "network_error");
    this.fields = Array.isArray(error.fields) ? error.fields : [];
    this.correlationId = error.correlation_id || null;
    this.signedOut = false;
  }

  /** The problem of one field path, or null. */
  field(path) {
    const found = this.fields.find((f) => f.path === path);
    return found ? found.problem : null;
  }
}

const etagOf = (resource) => `"${resource.version}"`;

/**
 * The one door to the admin API. Sends the bearer token (and JSON bodies), returns the parsed body, and
 * throws ApiError for anything but 2xx. A 401 after sign-in ends the session (back to sign-in), unless
 * `verify` is set (the sign-in form checks a candidate token itself).
 */
async function api(method, path, { body, query, ifMatch, token, verify = false } = {}) {
  const url = new URL(API + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${token ?? session.token() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch) headers["If-Match"] = ifMatch;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, { message: "The Relay API did not answer: check that Relay is running, then retry." });
  }
  let data = null;
  const text = response.status === 204 ? "" : await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.ok) return data;
  const error = new ApiError(response.status, (data && data.error) || {});
  if (response.status === 401 && !verify) {
    error.signedOut = true;
    if (session.token()) signOut("The admin token was refused (it may have been changed). Sign in again.");
  }
  throw error;
}

/** Every item of a paged list (follows next_cursor, at most `pages` pages). */
async function listAll(path, query = {}, pages = 20) {
  const items = [];
  const broken = [];
  let cursor = null;
  for (let page = 0; page < pages; page++) {
    const data = await api("GET", path, { query: { ...query, limit: 100, cursor } });
    items.push(...(data.items || []));
    broken.push(...(data.broken || []));
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return { items, broken };
}

/** An error as a block: the message, and the code and correlation id support will ask for. */
function errorBlock(error, lead) {
  if (error && error.signedOut) return null;
  const message = error instanceof ApiError ? error.message : String(error && error.message ? error.message : error);
  const extra = [];
  if (error instanceof ApiError && error.status) extra.push(`HTTP ${error.status}`, error.code);
  if (error instanceof ApiError && error.correlationId) extra.push(`correlation id ${error.correlationId}`);
  return h(
    "div",
    { class: "alert alert-error" },
    h("p", { class: "alert-title" }, lead || "That did not work."),
    h("p", { text: message }),
    extra.length ? h("p", { class: "muted small", text: extra.join(" · ") }) : null,
  );
}

function successBlock(text) {
  return h("div", { class: "alert alert-success" }, h("span", { class: "icon", "aria-hidden": "true", text: "✓" }), " ", text);
}

/** Show `content` in a status region (replacing what it said). */
function say(region, ...content) {
  replace(region, ...content);
}

// ---------------------------------------------------------------------------------------------------
// 3. Forms: field builders and the field-error renderer
// ---------------------------------------------------------------------------------------------------

/**
 * A labelled control in a `.field` wrapper. `path` is the API field path this control answers for
 * (fields[].path in a 422); `hint` is tied with aria-describedby.
 */
function field({ label, control, hint, path, optional = false, className = "" }) {
  const id = control.id || (control.id = uid("f"));
  if (path) control.dataset.path = path;
  const describedBy = [];
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
    describedBy.push(hintEl.id);
  }
  if (describedBy.length) control.setAttribute("aria-describedby", describedBy.join(" "));
  const labelEl = h("label", { for: id }, label, optional ? h("span", { class: "optional", text: " (optional)" }) : null);
  return h("div", { class: `field ${className}`.trim() }, labelEl, control, hintEl);
}

function input(props = {}) {
  return h("input", { type: "text", autocomplete: "off", spellcheck: "false", ...props });
}

function checkboxField({ label, checked, path, hint }) {
  const box = h("input", { type: "checkbox", id: uid("f"), checked: Boolean(checked) });
  if (path) box.dataset.path = path;
  const hintEl = hint ? h("p", { class: "hint", id: `${box.id}-hint`, text: hint }) : null;
  if (hintEl) box.setAttribute("aria-describedby", hintEl.id);
  return { box, element: h("div", { class: "field field-check" }, h("div", { class: "check" }, box, h("label", { for: box.id, text: label })), hintEl) };
}

function select(options, { value, ...props } = {}) {
  const el = h("select", props, options.map(([v, text]) => h("option", { value: v, text })));
  if (value !== undefined) el.value = value;
  return el;
}

/** The control answering for an API path: exact, then without list indexes, then parent paths. */
function controlFor(form, path) {
  const candidates = [];
  let current = String(path || "");
  while (current) {
    candidates.push(current);
    const withoutIndex = current.replace(/\[\d+\]$/, "");
    if (withoutIndex !== current) {
      current = withoutIndex;
      continue;
    }
    const dot = current.lastIndexOf(".");
    current = dot > 0 ? current.slice(0, dot) : "";
  }
  for (const candidate of candidates) {
    const found = [...form.querySelectorAll("[data-path]")].find((el) => el.dataset.path === candidate && !el.disabled);
    if (found) return found;
  }
  return null;
}

/** The focusable element an error on `control` (an input, or a group) is announced on. */
function errorAnchor(control) {
  if (control.matches("input, select, textarea")) return control;
  return control.querySelector("[data-error-anchor]") || control.querySelector("input, select, textarea, button");
}

function setFieldError(control, message) {
  const anchor = errorAnchor(control) || control;
  if (!anchor.id) anchor.id = uid("f");
  const errorId = `${anchor.id}-error`;
  let errorEl = document.getElementById(errorId);
  if (!errorEl) {
    errorEl = h("p", { class: "field-error", id: errorId });
    const holder = control.matches("fieldset") ? control : control.closest(".field") || control.parentElement;
    holder.append(errorEl);
  }
  replace(errorEl, h("span", { class: "icon", "aria-hidden": "true", text: "⚠ " }), message);
  const ids = new Set((anchor.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean));
  ids.add(errorId);
  anchor.setAttribute("aria-describedby", [...ids].join(" "));
  if (anchor.matches("input, select, textarea")) anchor.setAttribute("aria-invalid", "true");
  control.closest(".field, fieldset")?.classList.add("has-error");
  const details = control.closest("details");
  if (details) details.open = true;
  return anchor;
}

function clearFieldError(control) {
  const anchor = errorAnchor(control) || control;
  if (!anchor.id) return;
  const errorId = `${anchor.id}-error`;
  document.getElementById(errorId)?.remove();
  const ids = (anchor.getAttribute("aria-describedby") || "").split(/\s+/).filter((id) => id && id !== errorId);
  if (ids.length) anchor.setAttribute("aria-describedby", ids.join(" "));
  else anchor.removeAttribute("aria-describedby");
  anchor.removeAttribute("aria-invalid");
  control.closest(".field, fieldset")?.classList.remove("has-error");
}

function clearFieldErrors(form) {
  for (const control of form.querySelectorAll("[data-path]")) clearFieldError(control);
  const summary = form.querySelector(".form-summary");
  if (summary) {
    summary.hidden = true;
    summary.replaceChildren();
  }
}

/** Friendlier words for a few server problems (the server's own words otherwise). */
const FIELD_WORDS = {
  "config.pixel_id": (problem) =>
    /pattern|digit|numeric|string_pattern/i.test(problem) ? "Pixel ID is numeric — find it in Meta Events Manager" : problem,
};

/**
 * Show each {path, problem} beside the control answering for its path; problems with no control go to
 * the form's summary at the top. Focuses the first problem. Returns how many were shown.
 */
function renderFieldErrors(form, fields, { focus = true, message } = {}) {
  clearFieldErrors(form);
  const unplaced = [];
  const byControl = new Map();
  for (const { path, problem } of fields) {
    const control = controlFor(form, path);
    const words = FIELD_WORDS[path] ? FIELD_WORDS[path](problem) : problem;
    if (!control) {
      unplaced.push(`${path}: ${problem}`);
      continue;
    }
    const list = byControl.get(control) || [];
    const label = control.dataset.path === path ? words : `${path.slice(control.dataset.path.length).replace(/^[.]/, "")}: ${words}`;
    if (!list.includes(label)) list.push(label);
    byControl.set(control, list);
  }
  let first = null;
  for (const [control, problems] of byControl) {
    const anchor = setFieldError(control, problems.join("; "));
    first = first || anchor;
  }
  const summary = form.querySelector(".form-summary");
  if (summary && (unplaced.length || message)) {
    replace(
      summary,
      h("p", { class: "alert-title", text: message || "Please correct the following:" }),
      unplaced.length ? h("ul", {}, unplaced.map((text) => h("li", { text }))) : null,
    );
    summary.hidden = false;
    if (!first) first = summary;
  }
  if (focus && first) first.focus();
  return fields.length;
}

function formSummary() {
  return h("div", { class: "form-summary alert alert-error", hidden: true, tabindex: "-1", role: "alert" });
}

/** Lines of a textarea, trimmed, empty ones dropped. */
const lines = (text) =>
  String(text || "")
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);

// ---------------------------------------------------------------------------------------------------
// 4. Dialogs and copying
// ---------------------------------------------------------------------------------------------------

/**
 * A modal <dialog>: focus moves into it (`initial`) and back to the opener when it closes; Escape closes
 * it. `build(close)` returns its content. Resolves with what close() was given (undefined on Escape).
 */
function openDialog({ title, description, build, initial, className = "" }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = uid("dialog-title");
    const descId = description ? uid("dialog-desc") : null;
    let result;
    const dialog = h("dialog", { class: `dialog ${className}`.trim(), "aria-labelledby": titleId, "aria-describedby": descId || undefined });
    const close = (value) => {
      result = value;
      dialog.close();
    };
    append(dialog, h("h2", { id: titleId, text: title }), description ? h("p", { id: descId, text: description }) : null, build(close));
    dialog.addEventListener("close", () => {
      dialog.remove();
      const back = opener && opener.isConnected ? opener : document.querySelector("#view h1");
      if (back) back.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    const target = typeof initial === "function" ? initial(dialog) : dialog.querySelector("[data-initial]");
    (target || dialog.querySelector("input, select, textarea, button"))?.focus();
  });
}

/** Ask before a destructive or far-reaching action; resolves true only on the confirm button. */
function confirmDialog({ title, message, confirmLabel, danger = false }) {
  return openDialog({
    title,
    description: message,
    className: "dialog-confirm",
    build: (close) =>
      h(
        "div",
        { class: "dialog-actions" },
        button("Cancel", { onClick: () => close(false), "data-initial": true }),
        button(confirmLabel, { kind: danger ? "button-danger" : "button-primary", onClick: () => close(true) }),
      ),
  }).then((answer) => answer === true);
}

/** Copy `text`; when the clipboard is not available, select `selectable` so Ctrl+C copies it. */
async function copyText(text, selectable, region) {
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    say(region, "Copied to the clipboard.");
  } catch {
    if (selectable instanceof HTMLInputElement || selectable instanceof HTMLTextAreaElement) {
      selectable.focus();
      selectable.select();
    } else if (selectable) {
      const range = document.createRange();
      range.selectNodeContents(selectable);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    say(region, "The clipboard is not available here: the text is selected, press Ctrl+C (⌘C) to copy it.");
  }
}

/** A copyable block: a labelled <pre> with a Copy button and its own status. */
function copyBlock(label, text) {
  const id = uid("copy");
  const pre = h("pre", { class: "code", id, tabindex: "0", "aria-labelledby": `${id}-label` }, h("code", { text }));
  const status = h("span", { class: "copy-status", role: "status" });
  return h(
    "div",
    { class: "copy-block" },
    h("div", { class: "copy-head" }, h("h3", { id: `${id}-label`, text: label }), button("Copy", { kind: "button-small", "aria-label": `Copy ${label.toLowerCase()}`, onClick: () => copyText(text, pre, status) })),
    pre,
    status,
  );
}

// ---------------------------------------------------------------------------------------------------
// 5. Shared data
// ---------------------------------------------------------------------------------------------------

const cache = new Map();

/** Memoised GET (for data that does not change while signed in: /info, /vendors, the OpenAPI enums). */
function cached(key, load) {
  if (!cache.has(key)) {
    const pending = load().catch((error) => {
      cache.delete(key);
      throw error;
    });
    cache.set(key, pending);
  }
  return cache.get(key);
}

const getInfo = () => cached("info", () => api("GET", "/info"));
const getVendors = () => cached("vendors", () => api("GET", "/vendors").then((data) => data.items || []));

/** An enum of the OpenAPI document (the contract), e.g. the DLQ reasons or the delivery statuses. */
function openapiEnum(find) {
  return cached("openapi", () => api("GET", "/openapi.json"))
    .then((doc) => enumIn(find(doc)) || [])
    .catch(() => []);
}

function enumIn(schema) {
  if (!schema || typeof schema !== "object") return null;
  if (Array.isArray(schema.enum)) return schema.enum;
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    for (const part of schema[key] || []) {
      const found = enumIn(part);
      if (found) return found;
    }
  }
  return null;
}

const dlqReasons = () => openapiEnum((doc) => doc?.components?.schemas?.RedriveRequest?.properties?.reason);
const deliveryStatuses = () =>
  openapiEnum((doc) => {
    const op = Object.entries(doc?.paths || {}).find(([path]) => path.endsWith("/deliveries"));
    const params = op ? op[1]?.get?.parameters || [] : [];
    return params.find((p) => p.name === "status")?.schema;
  });

// The deliveries route's `status` values (relay.api.deliveries.Status), if its OpenAPI document is unreadable.
const DELIVERY_STATUSES = ["delivered", "auth", "invalid", "retry", "transport", "unconfirmed"];

// Delivery statuses (the debugger) and the stats' last outcomes (delivered, a DLQ reason, retrying).
const OUTCOME = {
  delivered: ["Delivered", "ok"],
  auth: ["Token refused", "danger"],
  invalid: ["Invalid event", "danger"],
  retry: ["Retrying", "warn"],
  retrying: ["Retrying", "warn"],
  transport: ["Transport error", "warn"],
  unconfirmed: ["Unconfirmed", "warn"],
  expired: ["Expired", "danger"],
  config: ["Unreadable configuration", "danger"],
  retries_exhausted: ["Retries exhausted", "danger"],
  unavailable: ["AWS unavailable", "warn"],
  malformed: ["Malformed event", "danger"],
};

function outcomeChip(outcome) {
  if (!outcome) return chip("None yet");
  const [text, tone] = OUTCOME[outcome] || [humanize(outcome), "neutral"];
  return chip(text, tone);
}

/** Health of an integration as its last delivery outcome shows it (the list page). */
const HEALTH = {
  delivered: ["Healthy", "ok"],
  auth: ["Token refused", "danger"],
  invalid: ["Invalid events", "danger"],
  retrying: ["Retrying", "warn"],
  retries_exhausted: ["Meta unreachable", "danger"],
  transport: ["Meta unreachable", "warn"],
  unconfirmed: ["Unconfirmed deliveries", "warn"],
  expired: ["Events expired", "danger"],
  config: ["Unreadable configuration", "danger"],
  unavailable: ["AWS unavailable", "warn"],
};

function healthChip(lastOutcome) {
  if (!lastOutcome) return chip("No deliveries yet");
  const [text, tone] = HEALTH[lastOutcome] || [humanize(lastOutcome), "warn"];
  return chip(text, tone);
}

/** What GET /health's status says, in words (the advice comes from the server). */
const CHECK = {
  ok: ["Connected", "ok"],
  token_invalid_or_expired: ["Token invalid or expired", "danger"],
  missing_permission: ["Missing permission", "danger"],
  unknown_pixel_or_no_access: ["Unknown pixel or no access", "danger"],
  api_version_unsupported: ["API version unsupported", "danger"],
  invalid_event: ["Invalid event", "danger"],
  unreachable: ["Meta unreachable", "warn"],
};

function checkChip(status) {
  const [text, tone] = CHECK[status] || [humanize(status), "warn"];
  return chip(text, tone);
}

const TEST_CODE_WARNING =
  "Remove the test event code before going to production. Events sent with a test code are not used for ad optimisation or reporting.";

// ---------------------------------------------------------------------------------------------------
// 6. Views
// ---------------------------------------------------------------------------------------------------

const view = () => document.getElementById("view");

/** Mount a new view: its root replaces the old one; `title` is its <h1> and the document title. */
function mountView(title, { lede, actions, breadcrumb } = {}) {
  document.title = `${title} · ${APP_NAME}`;
  const h1 = h("h1", { tabindex: "-1", text: title });
  const head = h(
    "div",
    { class: "view-head" },
    breadcrumb ? h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, breadcrumb) : null,
    h("div", { class: "view-title" }, h("div", {}, h1, lede ? h("p", { class: "lede" }, lede) : null), actions ? h("div", { class: "view-actions" }, actions) : null),
  );
  const body = h("div", { class: "view-body" });
  const root = h("section", { class: "view" }, head, body);
  replace(view(), root);
  return { root, head, body, h1 };
}

function loading(text = "Loading…") {
  return h("p", { class: "loading", text });
}

// ---- 6.1 Sign-in ------------------------------------------------------------------------------------

function viewSignIn(message) {
  const { body } = mountView("Sign in", { lede: "Sign in with the admin token of this Relay deployment." });
  const token = input({ type: "password", name: "token", autocomplete: "off", required: true });
  const tokenField = field({
    label: "Admin token",
    control: token,
    path: "token",
    hint: "Locally: the RELAY_ADMIN_TOKEN that relay local serve was started with. Deployed: the secret named by the stack output AdminTokenSecretArn. Kept for this browser tab only, never in cookies.",
  });
  const status = h("div", { class: "status", role: "status" });
  const submit = button("Sign in", { type: "submit", kind: "button-primary" });
  const form = h("form", { class: "form signin-form", novalidate: true }, tokenField, h("div", { class: "form-actions" }, submit), status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(form, token, submit, status);
  });
  append(body, h("div", { class: "card narrow" }, message ? h("div", { class: "alert alert-warn", text: message }) : null, form));
}

async function signIn(form, tokenInput, submit, status) {
  clearFieldErrors(form);
  say(status);
  const candidate = tokenInput.value.trim();
  if (!candidate) {
    renderFieldErrors(form, [{ path: "token", problem: "Enter the admin token" }]);
    return;
  }
  await busy(submit, "Signing in…", async () => {
    try {
      const info = await api("GET", "/info", { token: candidate, verify: true });
      session.set(candidate);
      cache.set("info", Promise.resolve(info));
      showChrome(true);
      const target = location.hash && location.hash !== "#/signin" ? location.hash : "#/integrations";
      if (location.hash === target) route();
      else location.hash = target;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        renderFieldErrors(form, [{ path: "token", problem: "That admin token is wrong" }]);
      } else {
        say(status, errorBlock(error, "Could not sign in."));
      }
    }
  });
}

/** End the session: forget the token, hide the navigation, show sign-in (with `message`). */
function signOut(message) {
  for (const open of document.querySelectorAll("dialog[open]")) open.close();
  session.clear();
  showChrome(false);
  viewSignIn(message);
  focusHeading();
}

function showChrome(signedIn) {
  document.getElementById("main-nav").hidden = !signedIn;
  document.getElementById("session").hidden = !signedIn;
}

// ---- 6.2 Sources ------------------------------------------------------------------------------------

async function viewSources() {
  const { body } = mountView("Sources", {
    lede: "A source is a website or app sending events. Its write key goes in the df.js tag (or any Segment-compatible client).",
  });
  const keyArea = h("div", { class: "key-area" });
  const listStatus = h("div", { class: "status", role: "status" });
  const list = h("div", {}, loading("Loading sources…"));
  const refresh = () => loadSources(list, listStatus, keyArea);
  append(body, keyArea, sourceCreateCard(keyArea, refresh), card("Your sources", listStatus, list));
  await refresh();
}

function sourceFields(source = {}) {
  const name = input({ value: source.name || "", maxlength: "200" });
  const origins = h("textarea", { rows: "3", spellcheck: "false", value: (source.allowed_origins || []).join("\n") });
  const cookie = input({ value: source.cookie_domain || "", maxlength: "253" });
  return {
    name,
    origins,
    cookie,
    elements: [
      field({ label: "Name", control: name, path: "name" }),
      field({
        label: "Allowed origins",
        control: origins,
        path: "allowed_origins",
        hint: "One per line: scheme://host[:port], e.g. https://shop.example.com. Browsers on other origins are refused.",
      }),
      field({
        label: "Cookie domain",
        control: cookie,
        path: "cookie_domain",
        optional: true,
        hint: "The registrable domain for the first-party cookies (e.g. example.com); empty: the collector's host.",
      }),
    ],
  };
}

function sourceCreateCard(keyArea, refresh) {
  const fields = sourceFields();
  const id = input({ maxlength: "64", pattern: "[A-Za-z0-9_\\-]{1,64}" });
  const submit = button("Create source", { type: "submit", kind: "button-primary" });
  const status = h("div", { class: "status", role: "status" });
  const form = h(
    "form",
    { class: "form", novalidate: true },
    formSummary(),
    h("div", { class: "grid-2" }, fields.elements[0], field({ label: "ID", control: id, path: "id", optional: true, hint: "Letters, digits, - and _; generated when empty." })),
    fields.elements.slice(1),
    h("div", { class: "form-actions" }, submit),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    say(status);
    const payload = { name: fields.name.value.trim(), allowed_origins: lines(fields.origins.value) };
    if (fields.cookie.value.trim()) payload.cookie_domain = fields.cookie.value.trim();
    if (id.value.trim()) payload.id = id.value.trim();
    await busy(submit, "Creating…", async () => {
      try {
        const created = await api("POST", "/sources", { body: payload });
        form.reset();
        await refresh();
        await showWriteKey(keyArea, created, "created");
        say(status, successBlock(`Source “${created.name || created.id}” created.`));
      } catch (error) {
        if (error.fields && error.fields.length) renderFieldErrors(form, error.fields);
        else say(status, errorBlock(error, "The source was not created."));
      }
    });
  });
  return card("Add a source", form);
}

/** The write key, shown once, with the tag snippets filled in and Copy buttons. */
async function showWriteKey(area, issued, how) {
  let tagUrl = `${location.origin}/v1/df.js`;
  try {
    const info = await getInfo();
    if (info && info.tag_url) tagUrl = info.tag_url;
  } catch (error) {
    if (error.signedOut) return;
  }
  const key = issued.write_key;
  const attr = (value) => String(value).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  const tag = `<script src="${attr(tagUrl)}" data-write-key="${attr(key)}"></script>\n<script>\n  _df.page();\n</script>`;
  const loader =
    `<script>\n!function(){var d=window._df=window._df||[];if(d.loaded)return;["page","track","identify","consent"].forEach(function(m){d[m]=d[m]||function(){d.push([m].concat([].slice.call(arguments)))}});` +
    `var s=document.createElement("script");s.async=true;s.src="${attr(tagUrl)}";s.setAttribute("data-write-key","${attr(key)}");document.head.appendChild(s);d.page()}();\n</script>`;
  const keyInput = input({ value: key, readOnly: true, class: "mono key-input", id: "write-key", "aria-describedby": "write-key-hint" });
  const copyStatus = h("span", { class: "copy-status", role: "status" });
  const titleId = uid("key-title");
  const panel = h(
    "section",
    { class: "card key-panel", "aria-labelledby": titleId, id: "write-key-panel" },
    h("h2", { id: titleId, tabindex: "-1", text: `Write key for “${issued.name || issued.id}” (${how})` }),
    h("p", { class: "alert alert-warn", id: "write-key-hint" }, h("strong", { text: "Shown once. " }), "Copy it now: Relay keeps only its hash and cannot show it again (rotate the key to get a new one)."),
    h("div", { class: "field" }, h("label", { for: "write-key", text: "Write key" }), h("div", { class: "input-row" }, keyInput, button("Copy", { kind: "button-primary", id: "copy-write-key", "aria-label": "Copy write key", onClick: () => copyText(key, keyInput, copyStatus) })), copyStatus),
    h("p", {}, "Put the tag on every page of the site (its origin must be in the allowed origins). Events go to ", mono(tagUrl.replace(/\/v1\/df\.js$/, "")), "."),
    copyBlock("Tag snippet", tag),
    copyBlock("Non-blocking loader snippet", loader),
    h("div", { class: "form-actions" }, button("I have copied the key — hide it", {
      onClick: () => {
        area.replaceChildren();
        const next = document.querySelector("#view h1");
        if (next) next.focus();
      },
    })),
  );
  replace(area, panel);
  panel.querySelector("h2").focus();
}

async function loadSources(list, status, keyArea) {
  let sources;
  try {
    ({ items: sources } = await listAll("/sources"));
  } catch (error) {
    replace(list, errorBlock(error, "Could not load the sources."));
    return;
  }
  if (!sources.length) {
    replace(list, h("p", { class: "empty", text: "No sources yet: add one above, then put its tag on your site." }));
    return;
  }
  // A rebuilt table drops the focused button: focus its successor (or the list) so keyboard users keep
  // their place.
  const refresh = async (focusAction, focusId) => {
    await loadSources(list, status, keyArea);
    const again = focusId ? list.querySelector(`[data-action="${focusAction}"][data-id="${CSS.escape(focusId)}"]`) : null;
    const target = again || list.querySelector("button") || list;
    if (target === list) list.setAttribute("tabindex", "-1");
    target.focus();
  };
  const rows = sources.map((source) => [
    { th: source.name || source.id },
    mono(source.id),
    source.allowed_origins.length ? h("ul", { class: "plain" }, source.allowed_origins.map((o) => h("li", {}, mono(o)))) : h("span", { class: "muted", text: "none (server-side only)" }),
    source.cookie_domain ? mono(source.cookie_domain) : h("span", { class: "muted", text: "collector host" }),
    source.enabled ? chip("Enabled", "ok") : chip("Disabled", "neutral"),
    h(
      "div",
      { class: "row-actions" },
      button("Edit", { kind: "button-small", "aria-label": `Edit ${source.name || source.id}`, dataset: { action: "edit", id: source.id }, onClick: () => editSource(source, status, refresh) }),
      button("Rotate key", { kind: "button-small", "aria-label": `Rotate key of ${source.name || source.id}`, dataset: { action: "rotate", id: source.id }, onClick: () => rotateKey(source, status, keyArea, refresh) }),
      button("Delete", { kind: "button-small button-danger-quiet", "aria-label": `Delete ${source.name || source.id}`, dataset: { action: "delete", id: source.id }, onClick: () => deleteSource(source, status, refresh) }),
    ),
  ]);
  replace(list, table({ caption: "Sources", headers: ["Name", "ID", "Allowed origins", "Cookie domain", "Status", "Actions"], rows }));
}

async function editSource(source, status, refresh) {
  const saved = await openDialog({
    title: `Edit source “${source.name || source.id}”`,
    build: (close) => {
      const fields = sourceFields(source);
      const enabled = checkboxField({ label: "Enabled (accepts events)", checked: source.enabled, path: "enabled" });
      const save = button("Save", { type: "submit", kind: "button-primary" });
      const form = h("form", { class: "form", novalidate: true }, formSummary(), fields.elements, enabled.element, h("div", { class: "dialog-actions" }, button("Cancel", { onClick: () => close() }), save));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearFieldErrors(form);
        const patch = {};
        const name = fields.name.value.trim();
        if (name !== (source.name || "")) patch.name = name;
        const origins = lines(fields.origins.value);
        if (origins.join("\n") !== source.allowed_origins.join("\n")) patch.allowed_origins = origins;
        const cookie = fields.cookie.value.trim();
        if (cookie !== (source.cookie_domain || "")) patch.cookie_domain = cookie || null;
        if (enabled.box.checked !== source.enabled) patch.enabled = enabled.box.checked;
        if (!Object.keys(patch).length) return close(false);
        await busy(save, "Saving…", async () => {
          try {
            close(await api("PATCH", `/sources/${encodeURIComponent(source.id)}`, { body: patch, ifMatch: etagOf(source) }));
          } catch (error) {
            if (error.fields && error.fields.length) renderFieldErrors(form, error.fields);
            else renderFieldErrors(form, [], { message: error.status === 412 ? "Someone changed this source meanwhile: close, and edit it again." : error.message });
          }
        });
      });
      fields.name.dataset.initial = "";
      return form;
    },
  });
  if (saved) {
    await refresh("edit", source.id);
    say(status, successBlock(`Source “${saved.name || saved.id}” saved.`));
  }
}

async function rotateKey(source, status, keyArea, refresh) {
  const ok = await confirmDialog({
    title: `Rotate the write key of “${source.name || source.id}”?`,
    message: "A new write key is issued and the current one stops working at once: update the tag on the site right after.",
    confirmLabel: "Rotate key",
    danger: true,
  });
  if (!ok) return;
  try {
    const issued = await api("POST", `/sources/${encodeURIComponent(source.id)}/rotate-key`, { ifMatch: etagOf(source) });
    await refresh();
    await showWriteKey(keyArea, issued, "new key");
    say(status, successBlock(`A new write key was issued for “${issued.name || issued.id}”.`));
  } catch (error) {
    say(status, errorBlock(error, "The key was not rotated."));
  }
}

async function deleteSource(source, status, refresh) {
  const ok = await confirmDialog({
    title: `Delete source “${source.name || source.id}”?`,
    message: "Its write key stops working. A source that still has integrations cannot be deleted.",
    confirmLabel: "Delete source",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", `/sources/${encodeURIComponent(source.id)}`, { ifMatch: etagOf(source) });
    await refresh();
    say(status, successBlock(`Source “${source.name || source.id}” deleted.`));
  } catch (error) {
    const lead = error.status === 409 ? "This source still has integrations: delete them (or move them to another source) first." : "The source was not deleted.";
    say(status, errorBlock(error, lead));
  }
}

// ---- 6.3 Integrations list -------------------------------------------------------------------------

async function viewIntegrations() {
  const { body } = mountView("Integrations", {
    lede: "Each integration sends one source's events to a destination (a Meta pixel).",
    actions: link("#/integrations/new", "Add integration", "button button-primary"),
  });
  const content = h("div", {}, loading("Loading integrations…"));
  append(body, content);
  let sources, integrations;
  try {
    [{ items: sources }, integrations] = await Promise.all([listAll("/sources"), listAll("/integrations")]);
  } catch (error) {
    replace(content, errorBlock(error, "Could not load the integrations."));
    return;
  }
  replace(content);
  if (integrations.broken.length) append(content, brokenIntegrations(integrations.broken));
  if (!integrations.items.length) {
    append(
      content,
      h("div", { class: "card empty" }, h("p", { text: "No integrations yet." }), h("p", {}, sources.length ? link("#/integrations/new", "Add your first integration") : ["First ", link("#/sources", "create a source"), ", then add an integration to it."])),
    );
    return;
  }
  const cells = new Map(); // integration id → {outcome, dlq, health}
  const names = new Map(sources.map((s) => [s.id, s.name || s.id]));
  const groups = new Map();
  for (const integration of integrations.items) {
    if (!groups.has(integration.source_id)) groups.set(integration.source_id, []);
    groups.get(integration.source_id).push(integration);
  }
  for (const [sourceId, items] of groups) {
    const title = names.has(sourceId) ? `${names.get(sourceId)}` : `${sourceId} (source missing)`;
    const headingId = uid("group");
    append(
      content,
      h(
        "section",
        { class: "card", "aria-labelledby": headingId },
        h("h2", { id: headingId }, title, " ", h("span", { class: "muted small" }, "source ", mono(sourceId))),
        table({
          caption: `Integrations of ${title}`,
          headers: ["Name", "ID", "Variant", "Pixel", "Enabled", "Last outcome", "DLQ", "Health"],
          rows: items.map((integration) => integrationRow(integration, cells)),
        }),
      ),
    );
  }
  // Busy while the cells fill (assistive technology waits; so does the browser suite before clicking).
  content.setAttribute("aria-busy", "true");
  fillRowStats(cells).finally(() => content.removeAttribute("aria-busy"));
}

function integrationRow(integration, cells) {
  const outcome = h("td", {}, h("span", { class: "muted", text: "…" }));
  const dlq = h("td", {}, h("span", { class: "muted", text: "…" }));
  const derived = h("span", { class: "health-derived" }, h("span", { class: "muted", text: "…" }));
  const checked = h("span", { class: "check-result", role: "status" });
  const check = button("Check", {
    kind: "button-small",
    "aria-label": `Check ${integration.name || integration.id}`,
    onClick: () => checkRow(integration, check, checked),
  });
  cells.set(integration.id, { outcome, dlq, derived });
  const config = integration.config || {};
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, link(`#/integrations/${encodeURIComponent(integration.id)}`, integration.name || integration.id)),
    h("td", {}, mono(integration.id)),
    h("td", { text: humanize(integration.variant) }),
    h("td", {}, mono(config.pixel_id)),
    h("td", {}, integration.enabled ? chip("Enabled", "ok") : chip("Disabled")),
    outcome,
    dlq,
    h("td", {}, h("div", { class: "health-cell" }, derived, check, checked)),
  );
}

/** Fill the last outcome, DLQ and health cells: one GET /dlq, one GET /stats per integration; settles
 * when every cell is filled (or says why not). */
function fillRowStats(cells) {
  const pending = [];
  pending.push(api("GET", "/dlq")
    .then((dlq) => {
      for (const [id, { dlq: cell }] of cells) {
        const count = (dlq.by_integration || {})[id] || 0;
        replace(cell, count ? link("#/dlq", `${fmtCount(count)}${dlq.complete ? "" : "+"}`, "count-link") : h("span", { text: "0" }));
      }
    })
    .catch((error) => {
      for (const { dlq: cell } of cells.values()) replace(cell, h("span", { class: "muted", text: error.signedOut ? "" : "unavailable" }));
    }));
  for (const [id, { outcome, derived }] of cells) {
    pending.push(api("GET", `/integrations/${encodeURIComponent(id)}/stats`, { query: { hours: 24 } })
      .then((stats) => {
        replace(outcome, outcomeChip(stats.last_outcome), stats.last_at ? h("span", { class: "when", text: fmtTime(stats.last_at) }) : null);
        replace(derived, healthChip(stats.last_outcome));
      })
      .catch((error) => {
        replace(outcome, h("span", { class: "muted", text: error.signedOut ? "" : "unavailable" }));
        replace(derived, h("span", { class: "muted", text: "unknown" }));
      }));
  }
  return Promise.allSettled(pending);
}

async function checkRow(integration, btn, region) {
  say(region, "Checking…");
  await busy(btn, null, async () => {
    try {
      const found = await api("GET", `/integrations/${encodeURIComponent(integration.id)}/health`);
      say(region, checkChip(found.status), found.status === "ok" ? null : h("span", { class: "small", text: ` ${found.advice}` }));
    } catch (error) {
      say(region, error.signedOut ? "" : `Check failed: ${error.message}`);
    }
  });
}

function brokenIntegrations(broken) {
  return h(
    "section",
    { class: "card card-warn", "aria-labelledby": "broken-title" },
    h("h2", { id: "broken-title", text: "Unreadable integrations" }),
    h("p", { text: "These stored integrations do not validate: their events are parked in the dead-letter queue (reason config) until they are fixed." }),
    table({ caption: "Unreadable integrations", headers: ["ID", "Source", "Problem"], rows: broken.map((b) => [mono(b.id), mono(b.source_id), b.problem]) }),
  );
}

// ---- 6.4 The integration form (add and edit) --------------------------------------------------------

/**
 * The fields of an integration, for `mode` "create" or "edit" (prefilled from `current`). Returns the
 * form parts and payload(): the create body, or (edit) the merge patch of what changed.
 */
function integrationForm({ mode, current, sources, vendor }) {
  const c = current || { config: {} };
  const config = c.config || {};
  const controls = {};
  const parts = [];

  parts.push(variantStep(vendor, c.variant, controls, mode));

  // Connection
  const sourceSelect = select([["", "Choose a source…"], ...sources.map((s) => [s.id, `${s.name || s.id} (${s.id})`])], { value: c.source_id || (sources.length === 1 ? sources[0].id : ""), required: true });
  controls.source = sourceSelect;
  controls.name = input({ value: c.name || "", maxlength: "200" });
  controls.pixel = input({ value: config.pixel_id || "", inputmode: "numeric", autocomplete: "off", required: true });
  controls.token = input({ type: "password", autocomplete: "off", required: mode === "create", placeholder: mode === "edit" && c.token_last4 ? `…${c.token_last4}` : "" });
  controls.testCode = input({ value: config.test_event_code || "", maxlength: "64", placeholder: "TEST12345" });
  controls.pixel.addEventListener("input", () => checkPixel(controls.pixel, false));
  controls.pixel.addEventListener("blur", () => checkPixel(controls.pixel, false));
  parts.push(
    h(
      "fieldset",
      { class: "step" },
      h("legend", { text: mode === "create" ? "3. Connection" : "Connection" }),
      h("div", { class: "grid-2" }, field({ label: "Source", control: sourceSelect, path: "source_id", hint: sources.length ? "The website or app whose events this sends." : h("span", {}, "No source yet: ", link("#/sources", "create one first"), ".") }), field({ label: "Name", control: controls.name, path: "name", hint: "e.g. Meta CAPI Production" })),
      h(
        "div",
        { class: "grid-2" },
        field({ label: "Pixel ID", control: controls.pixel, path: "config.pixel_id", hint: "Numeric, e.g. 1234567890: Events Manager → Data sources → your pixel." }),
        field({
          label: "Access token",
          control: controls.token,
          path: "config.access_token",
          hint: mode === "edit" ? `Write-only. Leave empty to keep the current token (ending …${c.token_last4 || "?"}); a new token redrives this integration's events parked for auth.` : "A system user token with ads_management (Business Settings → System users → Generate new token). Stored in Secrets Manager, never shown again.",
        }),
      ),
      field({ label: "Test event code", control: controls.testCode, path: "config.test_event_code", optional: true, hint: "From Events Manager → your pixel → Test events. Remove it before going to production." }),
    ),
  );

  parts.push(consentChips(vendor, c.consent_categories || [], controls));

  if (mode === "create") {
    const enabled = checkboxField({ label: "Enabled (deliver events as they arrive)", checked: true, path: "enabled" });
    controls.enabled = enabled.box;
    parts.push(enabled.element);
  }

  parts.push(advancedSection(vendor, config, controls));

  function variantValue() {
    const picked = controls.variantGroup.querySelector("input[type=radio]:checked");
    return picked ? picked.value : "";
  }

  /** Problems the browser can see before sending (the server checks again). */
  function clientProblems() {
    const problems = [];
    if (!variantValue()) problems.push({ path: "variant", problem: "Choose a variant" });
    if (!sourceSelect.value) problems.push({ path: "source_id", problem: "Choose the source whose events this integration sends" });
    const pixel = pixelProblem(controls.pixel.value);
    if (pixel) problems.push({ path: "config.pixel_id", problem: pixel });
    if (mode === "create" && !controls.token.value.trim()) problems.push({ path: "config.access_token", problem: "Paste the system user access token" });
    const country = controls.country.value.trim();
    if (country && !/^[A-Za-z]{2}$/.test(country)) problems.push({ path: "config.default_country", problem: "Two letters (ISO 3166-1), e.g. US" });
    problems.push(...controls.mappings.problems());
    return problems;
  }

  /** The config as the form says it (create shape; empty optional fields left out). */
  function configValue() {
    const out = { pixel_id: controls.pixel.value.trim() };
    if (controls.token.value.trim()) out.access_token = controls.token.value.trim();
    if (controls.testCode.value.trim()) out.test_event_code = controls.testCode.value.trim();
    const mappings = controls.mappings.value();
    if (Object.keys(mappings).length) out.event_mappings = mappings;
    if (controls.valueField.value.trim()) out.value_field = controls.valueField.value.trim();
    if (controls.country.value.trim()) out.default_country = controls.country.value.trim().toUpperCase();
    if (controls.ldu.checked) out.ldu = { country: Number(controls.lduCountry.value || 0), state: Number(controls.lduState.value || 0) };
    return out;
  }

  function payload() {
    const body = {
      source_id: sourceSelect.value,
      name: controls.name.value.trim(),
      variant: variantValue(),
      consent_categories: controls.consent.value(),
      config: configValue(),
    };
    if (mode === "create") return { vendor: vendor.name, enabled: controls.enabled.checked, ...body };
    return mergePatch(current, body);
  }

  return { parts, controls, clientProblems, payload };
}

/** The JSON merge patch turning `current` into `wanted` (only what changed; null removes). */
function mergePatch(current, wanted) {
  const patch = {};
  for (const key of ["source_id", "name", "variant"]) if (wanted[key] !== current[key]) patch[key] = wanted[key];
  if (wanted.consent_categories.join("\n") !== (current.consent_categories || []).join("\n")) patch.consent_categories = wanted.consent_categories;
  const config = {};
  const old = current.config || {};
  const next = wanted.config;
  if (next.pixel_id !== old.pixel_id) config.pixel_id = next.pixel_id;
  if (next.access_token) config.access_token = next.access_token;
  for (const key of ["test_event_code", "value_field", "default_country"]) {
    const before = old[key] ?? null;
    const after = next[key] ?? null;
    if (before !== after) config[key] = after;
  }
  const ldu = next.ldu ?? null;
  if (JSON.stringify(ldu) !== JSON.stringify(old.ldu ?? null)) config.ldu = ldu;
  const mappings = mappingPatch(old.event_mappings || {}, next.event_mappings || {});
  if (mappings) config.event_mappings = mappings;
  if (Object.keys(config).length) patch.config = config;
  return patch;
}

/** The merge patch of event_mappings: removed rows null, changed rows their value. A merge patch
 * cannot set a value to null, so a row newly set to "drop" is refused by mappingPatch's caller. */
function mappingPatch(before, after) {
  const patch = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) if (before[key] !== value || !(key in before)) patch[key] = value;
  return Object.keys(patch).length ? patch : null;
}

function pixelProblem(value) {
  const text = String(value || "").trim();
  if (!text) return "Enter the Pixel ID (numeric) — find it in Meta Events Manager";
  if (!/^\d+$/.test(text)) return "Pixel ID is numeric — find it in Meta Events Manager";
  return null;
}

/** Check the Pixel ID as typed: non-digits get the error at once (empty only when `requireValue`). */
function checkPixel(control, requireValue) {
  const value = control.value.trim();
  const problem = value || requireValue ? pixelProblem(value) : null;
  if (problem) setFieldError(control, problem);
  else clearFieldError(control);
}

/** Step 2: the vendor's variants as radio cards, each listing its events (from /vendors). */
function variantStep(vendor, value, controls, mode) {
  const legendId = uid("variant-legend");
  const group = h("fieldset", { class: "step variant-step", "aria-labelledby": legendId });
  group.dataset.path = "variant";
  controls.variantGroup = group;
  const name = uid("variant");
  const cards = (vendor.variants || []).map((variant) => {
    const id = `${name}-${variant.name}`;
    const eventsId = `${id}-events`;
    const summaryId = `${id}-summary`;
    const radio = h("input", { type: "radio", name, id, value: variant.name, checked: variant.name === value, "aria-describedby": `${summaryId} ${eventsId}` });
    radio.dataset.errorAnchor = "";
    const events = (variant.events || []).map((e) =>
      h("li", {}, h("span", { class: "ev" }, e.event), h("span", { class: "arrow", text: " → " }), e.meta_event ? h("span", { class: "meta-ev" }, e.meta_event) : h("span", { class: "muted", text: "not sent" })),
    );
    return h(
      "div",
      { class: "radio-card" },
      radio,
      h("div", { class: "radio-card-body" }, h("label", { for: id, class: "radio-card-title", text: variant.title || humanize(variant.name) }), h("p", { class: "radio-card-summary", id: summaryId, text: variant.summary || "" }), h("ul", { class: "event-list", id: eventsId, "aria-label": `Events of ${variant.title || variant.name}` }, events)),
    );
  });
  append(group, h("legend", { id: legendId, text: mode === "create" ? "2. Variant" : "Variant" }), h("p", { class: "hint", text: "Which spec events become which Meta events. Event mappings (Advanced) override single rows." }), h("div", { class: "radio-cards" }, cards));
  group.addEventListener("change", () => clearFieldError(group));
  return group;
}

/** Consent categories as toggle chips (the vendor's), plus typed ones (removable). */
function consentChips(vendor, selected, controls) {
  const known = vendor.consent_categories || [];
  const chosen = new Set(selected.filter((c) => known.includes(c)));
  let custom = selected.filter((c) => !known.includes(c));
  const legendId = uid("consent-legend");
  const group = h("fieldset", { class: "step chips-step", "aria-labelledby": legendId });
  group.dataset.path = "consent_categories";
  const toggles = known.map((category) => {
    const toggle = button(category, { kind: "chip-toggle", "aria-pressed": chosen.has(category) });
    toggle.addEventListener("click", () => {
      if (chosen.has(category)) chosen.delete(category);
      else chosen.add(category);
      toggle.setAttribute("aria-pressed", String(chosen.has(category)));
      clearFieldError(group);
    });
    return toggle;
  });
  const customList = h("ul", { class: "custom-chips", "aria-label": "Other consent categories" });
  const typed = input({ maxlength: "64" });
  typed.dataset.errorAnchor = "";
  const renderCustom = () =>
    replace(
      customList,
      custom.map((category) =>
        h("li", { class: "chip chip-custom" }, h("span", { text: category }), button("×", {
          kind: "chip-remove",
          "aria-label": `Remove category ${category}`,
          onClick: () => {
            custom = custom.filter((c) => c !== category);
            renderCustom();
            typed.focus();
          },
        })),
      ),
    );
  const add = () => {
    const category = typed.value.trim();
    if (!category) return;
    if (known.includes(category)) {
      chosen.add(category);
      toggles[known.indexOf(category)].setAttribute("aria-pressed", "true");
    } else if (!custom.includes(category)) custom.push(category);
    typed.value = "";
    renderCustom();
  };
  typed.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      add();
    }
  });
  renderCustom();
  const typedField = field({ label: "Add another category", control: typed, className: "field-inline" });
  append(typedField, button("Add category", { onClick: add }));
  append(
    group,
    h("legend", { id: legendId, text: "Consent categories" }),
    h("p", { class: "hint", text: "Select consent categories (typically advertising or marketing): an event that carries the visitor's consent is sent only when it grants every one of them; events without consent information are sent." }),
    h("div", { class: "chip-toggles", role: "group", "aria-label": "Common consent categories" }, toggles),
    customList,
    typedField,
  );
  controls.consent = { value: () => [...known.filter((c) => chosen.has(c)), ...custom] };
  return group;
}

/** <details> Advanced: event mappings, value field, default country, LDU. */
function advancedSection(vendor, config, controls) {
  controls.mappings = mappingEditor(vendor, config.event_mappings || {});
  controls.valueField = input({ value: config.value_field || "", maxlength: "100" });
  controls.country = input({ value: config.default_country || "", maxlength: "2", class: "input-short", autocomplete: "off" });
  const ldu = checkboxField({ label: "Limited Data Use (LDU)", checked: Boolean(config.ldu), path: "config.ldu", hint: "Meta's Limited Data Use for US state privacy laws. Country 1 = USA, 0 = geolocate; state 1000 = California, 0 = geolocate." });
  controls.ldu = ldu.box;
  controls.lduCountry = input({ type: "number", inputmode: "numeric", value: String(config.ldu?.country ?? 0), class: "input-short", min: "0" });
  controls.lduState = input({ type: "number", inputmode: "numeric", value: String(config.ldu?.state ?? 0), class: "input-short", min: "0" });
  const lduNumbers = h("div", { class: "grid-2 ldu-numbers" }, field({ label: "LDU country", control: controls.lduCountry, path: "config.ldu.country" }), field({ label: "LDU state", control: controls.lduState, path: "config.ldu.state" }));
  const syncLdu = () => {
    controls.lduCountry.disabled = !controls.ldu.checked;
    controls.lduState.disabled = !controls.ldu.checked;
  };
  controls.ldu.addEventListener("change", syncLdu);
  syncLdu();
  return h(
    "details",
    { class: "advanced", open: Boolean(Object.keys(config.event_mappings || {}).length || config.value_field || config.default_country || config.ldu) },
    h("summary", { text: "Advanced" }),
    controls.mappings.element,
    h(
      "div",
      { class: "grid-2" },
      field({ label: "Value field", control: controls.valueField, path: "config.value_field", optional: true, hint: "The property holding an order's value, when it is not total / revenue / value." }),
      field({ label: "Default country", control: controls.country, path: "config.default_country", optional: true, hint: "Two letters (e.g. US): the country hashed when a visitor's traits have none." }),
    ),
    ldu.element,
    lduNumbers,
  );
}

/** Rows "spec event → Meta event" (or drop), with add / remove. value() is the event_mappings object. */
function mappingEditor(vendor, mappings) {
  const listId = uid("meta-events");
  const metaEvents = [...new Set((vendor.variants || []).flatMap((v) => (v.events || []).map((e) => e.meta_event)).filter(Boolean))].sort();
  const specEvents = [...new Set((vendor.variants || []).flatMap((v) => (v.events || []).map((e) => e.event)))].sort();
  const specListId = uid("spec-events");
  const rows = h("tbody", {});
  const fieldset = h("fieldset", { class: "mappings" });
  fieldset.dataset.path = "config.event_mappings";
  let count = 0;
  const addRow = (source = "", target = "", focus = false) => {
    const n = ++count;
    const from = input({ value: source, list: specListId, "aria-label": `Spec event, mapping ${n}`, maxlength: "200" });
    from.dataset.errorAnchor = "";
    const to = input({ value: target ?? "", list: listId, "aria-label": `Meta event, mapping ${n}`, maxlength: "40", disabled: target === null });
    const drop = h("input", { type: "checkbox", id: uid("drop"), checked: target === null });
    drop.addEventListener("change", () => {
      to.disabled = drop.checked;
    });
    const row = h(
      "tr",
      {},
      h("td", {}, from),
      h("td", { class: "arrow", "aria-hidden": "true", text: "→" }),
      h("td", {}, to),
      h("td", {}, h("div", { class: "check" }, drop, h("label", { for: drop.id, text: "Drop" }))),
      h("td", {}, button("Remove", { kind: "button-small button-danger-quiet", "aria-label": `Remove mapping ${n}`, onClick: () => { row.remove(); addButton.focus(); } })),
    );
    row.mapping = { from, to, drop };
    rows.append(row);
    if (focus) from.focus();
  };
  const addButton = button("Add mapping", { kind: "button-small", onClick: () => addRow("", "", true) });
  for (const [source, target] of Object.entries(mappings)) addRow(source, target);
  append(
    fieldset,
    h("legend", { text: "Event mappings" }),
    h("p", { class: "hint", id: uid("mapping-hint"), text: "Override the variant: a spec event (e.g. Order Completed) becomes this Meta event, or is dropped (never sent). Events without a row pass through as custom events." }),
    h("datalist", { id: listId }, metaEvents.map((e) => h("option", { value: e }))),
    h("datalist", { id: specListId }, specEvents.map((e) => h("option", { value: e }))),
    h("table", { class: "table mapping-table" }, h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Spec event" }), h("td", {}), h("th", { scope: "col", text: "Meta event" }), h("th", { scope: "col", text: "Drop" }), h("td", {}))), rows),
    addButton,
  );
  const entries = () => [...rows.children].map((row) => row.mapping).filter((m) => m.from.value.trim() || m.to.value.trim());
  return {
    element: fieldset,
    value() {
      const out = {};
      for (const m of entries()) out[m.from.value.trim()] = m.drop.checked ? null : m.to.value.trim();
      return out;
    },
    problems() {
      const seen = new Set();
      const problems = [];
      for (const m of entries()) {
        const name = m.from.value.trim();
        if (!name) problems.push({ path: "config.event_mappings", problem: "Each mapping needs a spec event" });
        else if (seen.has(name)) problems.push({ path: "config.event_mappings", problem: `“${name}” is mapped twice` });
        else if (!m.drop.checked && !m.to.value.trim()) problems.push({ path: "config.event_mappings", problem: `Give “${name}” a Meta event, or tick Drop` });
        seen.add(name);
      }
      return problems;
    },
  };
}

// ---- 6.5 Add integration ------------------------------------------------------------------------------

async function viewAddIntegration() {
  const { body } = mountView("Add integration", {
    lede: "Choose the destination and its variant, enter your pixel_id and access_token, select consent categories, and save.",
    breadcrumb: [link("#/integrations", "Integrations"), h("span", { "aria-hidden": "true", text: " / " }), h("span", { "aria-current": "page", text: "Add integration" })],
  });
  const holder = h("div", {}, loading("Loading destinations…"));
  append(body, holder);
  let vendors, sources;
  try {
    [vendors, { items: sources }] = await Promise.all([getVendors(), listAll("/sources")]);
  } catch (error) {
    replace(holder, errorBlock(error, "Could not load the destinations."));
    return;
  }
  const form = h("form", { class: "form integration-form card", novalidate: true });
  const rest = h("div", { class: "form-rest", hidden: true });
  const destName = uid("destination");
  const destLegend = uid("destination-legend");
  const destinations = h(
    "fieldset",
    { class: "step", "aria-labelledby": destLegend },
    h("legend", { id: destLegend, text: "1. Destination" }),
    h(
      "div",
      { class: "radio-cards radio-cards-wide" },
      vendors.map((vendor) => {
        const id = `${destName}-${vendor.name}`;
        const radio = h("input", { type: "radio", name: destName, id, value: vendor.name, "aria-describedby": `${id}-desc` });
        radio.addEventListener("change", () => chooseVendor(vendor));
        return h(
          "div",
          { class: "radio-card" },
          radio,
          h("div", { class: "radio-card-body" }, h("label", { for: id, class: "radio-card-title", text: vendor.title }), h("p", { class: "radio-card-summary", id: `${id}-desc`, text: `${(vendor.variants || []).length} variants · consent: ${(vendor.consent_categories || []).join(", ")}` })),
        );
      }),
    ),
  );
  append(form, formSummary(), destinations, rest);
  replace(holder, sources.length ? null : h("div", { class: "alert alert-warn" }, "There is no source yet: ", link("#/sources", "create a source"), " first (its events are what the integration sends)."), form);

  let built = null;
  function chooseVendor(vendor) {
    built = integrationForm({ mode: "create", sources, vendor });
    const save = button("Save", { type: "submit", kind: "button-primary" });
    const status = h("div", { class: "status", role: "status" });
    replace(rest, built.parts, h("div", { class: "form-actions" }, save, link("#/integrations", "Cancel", "button")), status);
    rest.hidden = false;
    form.onsubmit = (event) => {
      event.preventDefault();
      createIntegration(form, built, save, status);
    };
  }
}

async function createIntegration(form, built, save, status) {
  clearFieldErrors(form);
  say(status);
  const problems = built.clientProblems();
  if (problems.length) {
    renderFieldErrors(form, problems);
    return;
  }
  await busy(save, "Saving…", async () => {
    try {
      const created = await api("POST", "/integrations", { body: built.payload() });
      flashNext(`Integration “${created.name || created.id}” saved. Next: send a test event.`);
      location.hash = `#/integrations/${encodeURIComponent(created.id)}`;
    } catch (error) {
      if (error.fields && error.fields.length) renderFieldErrors(form, error.fields);
      else say(status, errorBlock(error, "The integration was not saved."));
    }
  });
}

// ---- 6.6 Integration page -----------------------------------------------------------------------------

const TABS = [
  ["settings", "Settings"],
  ["test", "Test & health"],
  ["debugger", "Event debugger"],
  ["quality", "Match quality"],
];

async function viewIntegration(id, tab = "settings") {
  const page = mountView("Integration", {
    breadcrumb: [link("#/integrations", "Integrations"), h("span", { "aria-hidden": "true", text: " / " }), h("span", { "aria-current": "page", text: id })],
  });
  append(page.body, loading());
  let integration, vendors, sources;
  try {
    [integration, vendors, { items: sources }] = await Promise.all([api("GET", `/integrations/${encodeURIComponent(id)}`), getVendors(), listAll("/sources")]);
  } catch (error) {
    replace(page.body, errorBlock(error, error.status === 404 ? `There is no integration ${id}.` : "Could not load the integration."));
    return;
  }
  const vendor = vendors.find((v) => v.name === integration.vendor) || { name: integration.vendor, title: integration.vendor, variants: [], consent_categories: [] };
  const state = { integration, vendor, sources };
  const banner = h("div", { class: "banner-holder" });
  const status = h("div", { class: "status", role: "status" });
  const headActions = h("div", { class: "view-actions" });
  const meta = h("p", { class: "lede" });

  state.listeners = [];
  state.update = (next) => {
    state.integration = next;
    renderHead();
    for (const listener of state.listeners) listener(next);
  };
  function renderHead() {
    const it = state.integration;
    page.h1.textContent = it.name || it.id;
    document.title = `${it.name || it.id} · ${APP_NAME}`;
    const source = sources.find((s) => s.id === it.source_id);
    replace(
      meta,
      it.enabled ? chip("Enabled", "ok") : chip("Disabled"),
      " ",
      vendor.title,
      " · ",
      humanize(it.variant),
      " · pixel ",
      mono(it.config.pixel_id),
      h("span", { class: "ids" }, "source ", source ? `${source.name || source.id} ` : "", mono(it.source_id), " · id ", mono(it.id)),
    );
    replace(
      headActions,
      button(it.enabled ? "Disable" : "Enable", { kind: it.enabled ? "" : "button-primary", onClick: (event) => toggleEnabled(state, event.currentTarget, status) }),
      button("Delete", { kind: "button-danger", onClick: () => deleteIntegration(state, status) }),
    );
    replace(banner, it.config.test_event_code ? testCodeBanner(it.config.test_event_code) : null);
  }
  const title = page.head.querySelector(".view-title > div");
  append(title, meta);
  append(page.head.querySelector(".view-title"), headActions);
  renderHead();
  replace(page.body, banner, status, integrationTabs(state, tab));
}

function testCodeBanner(code) {
  return h(
    "div",
    { class: "alert alert-warn banner", id: "test-code-banner" },
    h("p", { class: "alert-title" }, "Test event code ", mono(code), " is set"),
    h("p", { text: TEST_CODE_WARNING }),
  );
}

/** ARIA tabs (arrow keys move between tabs); the chosen tab is kept in the URL. */
function integrationTabs(state, initial) {
  const id = state.integration.id;
  const list = h("div", { class: "tabs", role: "tablist", "aria-label": "Integration sections" });
  const panels = h("div", { class: "tab-panels" });
  const built = new Map();
  const tabs = TABS.map(([key, label]) =>
    h("button", { type: "button", role: "tab", id: `tab-${key}`, "aria-controls": `panel-${key}`, "aria-selected": "false", tabindex: "-1", class: "tab", text: label, dataset: { tab: key } }),
  );
  const builders = { settings: settingsPanel, test: testPanel, debugger: debuggerPanel, quality: qualityPanel };
  function show(key, focus) {
    if (built.size) document.getElementById("flash").replaceChildren(); // a message of the page's arrival
    for (const tab of tabs) {
      const selected = tab.dataset.tab === key;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected && focus) tab.focus();
    }
    for (const panel of panels.children) panel.hidden = panel.id !== `panel-${key}`;
    if (!built.has(key)) {
      const panel = h("div", { role: "tabpanel", id: `panel-${key}`, "aria-labelledby": `tab-${key}`, tabindex: "0", class: "tab-panel" });
      built.set(key, panel);
      panels.append(panel);
      builders[key](panel, state);
    } else if (key === "quality") {
      refreshQuality(built.get(key), state);
    }
    history.replaceState(null, "", `#/integrations/${encodeURIComponent(id)}${key === "settings" ? "" : `/${key}`}`);
  }
  list.addEventListener("click", (event) => {
    const tab = event.target.closest("[role=tab]");
    if (tab) show(tab.dataset.tab, false);
  });
  list.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    show(tabs[(next + tabs.length) % tabs.length].dataset.tab, true);
  });
  append(list, tabs);
  const wrapper = h("div", { class: "tabs-wrap" }, list, panels);
  show(TABS.some(([key]) => key === initial) ? initial : "settings", false);
  return wrapper;
}

async function toggleEnabled(state, btn, status) {
  const it = state.integration;
  await busy(btn, it.enabled ? "Disabling…" : "Enabling…", async () => {
    try {
      const next = await api("PATCH", `/integrations/${encodeURIComponent(it.id)}`, { body: { enabled: !it.enabled }, ifMatch: etagOf(it) });
      state.update(next);
      say(status, successBlock(next.enabled ? "Integration enabled: events are delivered again." : "Integration disabled: its events are no longer delivered."));
    } catch (error) {
      if (error.status === 412) {
        // Changed meanwhile (another tab, the API): show the current version, let the user decide again.
        try {
          state.update(await api("GET", `/integrations/${encodeURIComponent(it.id)}`));
          state.rerenderSettings?.();
        } catch {
          /* the message below still says what happened */
        }
      }
      say(status, errorBlock(error, error.status === 412 ? "It changed meanwhile: the page now shows its current state. Try again if you still want to." : "Not changed."));
    }
  });
  const again = document.querySelector(".view-actions button");
  if (again) again.focus();
}

async function deleteIntegration(state, status) {
  const it = state.integration;
  const ok = await confirmDialog({
    title: `Delete integration “${it.name || it.id}”?`,
    message: "Its events are no longer sent to this pixel, and its access token is scheduled for deletion. This cannot be undone.",
    confirmLabel: "Delete integration",
    danger: true,
  });
  if (!ok) return;
  try {
    await api("DELETE", `/integrations/${encodeURIComponent(it.id)}`, { ifMatch: etagOf(it) });
    flashNext(`Integration “${it.name || it.id}” deleted.`);
    location.hash = "#/integrations";
  } catch (error) {
    say(status, errorBlock(error, "The integration was not deleted."));
  }
}

// Settings tab: the edit form.
function settingsPanel(panel, state) {
  const form = h("form", { class: "form integration-form card", novalidate: true });
  const save = button("Save changes", { type: "submit", kind: "button-primary" });
  const status = h("div", { class: "status", role: "status" });
  const render = () => {
    const built = integrationForm({ mode: "edit", current: state.integration, sources: state.sources, vendor: state.vendor });
    replace(form, formSummary(), built.parts, h("div", { class: "form-actions" }, save), status);
    form.onsubmit = (event) => {
      event.preventDefault();
      saveIntegration(form, built, state, save, status);
    };
  };
  render();
  state.rerenderSettings = render;
  append(panel, h("h2", { class: "visually-hidden", text: "Settings" }), form);
}

async function saveIntegration(form, built, state, save, status) {
  clearFieldErrors(form);
  say(status);
  const problems = built.clientProblems();
  const patch = built.payload();
  // A merge patch's null removes a key, so it cannot store a new "drop" (null) mapping: say so.
  const stored = state.integration.config.event_mappings || {};
  for (const [key, value] of Object.entries(built.controls.mappings.value())) {
    if (value === null && stored[key] !== null) {
      problems.push({ path: "config.event_mappings", problem: `Dropping “${key}” can only be set when the integration is created (a JSON merge patch cannot store null): remove the row, or recreate the integration` });
    }
  }
  if (problems.length) {
    renderFieldErrors(form, problems);
    return;
  }
  if (!Object.keys(patch).length) {
    say(status, "Nothing changed.");
    return;
  }
  const saved = await busy(save, "Saving…", async () => {
    try {
      const next = await api("PATCH", `/integrations/${encodeURIComponent(state.integration.id)}`, { body: patch, ifMatch: etagOf(state.integration) });
      state.update(next);
      state.rerenderSettings();
      const redrive = next.redrive;
      const moved = redrive && redrive.moved ? ` The new token redrove ${redrive.moved} parked event(s).` : "";
      say(status, successBlock(`Changes saved.${moved}`), redrive && redrive.error ? h("p", { class: "small", text: redrive.error }) : null);
      return true;
    } catch (error) {
      if (error.fields && error.fields.length) renderFieldErrors(form, error.fields);
      else say(status, errorBlock(error, error.status === 412 ? "Someone changed this integration meanwhile: reload the page and apply your change again." : "Not saved."));
      return false;
    }
  });
  if (saved && save.isConnected) save.focus(); // the form was rebuilt from the saved integration
}

// Test & health tab.
function testPanel(panel, state) {
  const it = () => state.integration;
  const code = input({ maxlength: "64" });
  const codeHint = () => (it().config.test_event_code ? `Empty: the integration's code (${it().config.test_event_code}).` : "This integration has no code: enter the one from Events Manager → your pixel → Test events (e.g. TEST12345).");
  const testForm = h("form", { class: "form", novalidate: true });
  const send = button("Send test event", { type: "submit", kind: "button-primary" });
  const testResult = h("div", { class: "result", role: "status", id: "test-result" });
  append(
    testForm,
    h("p", { text: "Sends one test event through the production mapping with a test event code: it appears in Meta Events Manager → your pixel → Test events within seconds, and does not affect reporting." }),
    field({
      label: "Test event code",
      control: code,
      path: "test_event_code",
      optional: true,
      hint: codeHint(),
    }),
    h("div", { class: "form-actions" }, send),
    testResult,
  );
  const syncHint = () => {
    code.placeholder = it().config.test_event_code || "TEST12345";
    const hint = document.getElementById(`${code.id}-hint`);
    if (hint) hint.textContent = codeHint();
  };
  syncHint();
  state.listeners.push(syncHint);
  testForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(testForm);
    say(testResult);
    await busy(send, "Sending…", async () => {
      try {
        const typed = code.value.trim();
        const result = await api("POST", `/integrations/${encodeURIComponent(it().id)}/test`, typed ? { body: { test_event_code: typed } } : {});
        say(testResult, testResultBlock(result));
      } catch (error) {
        if (error.status === 400 && error.field("test_event_code")) {
          renderFieldErrors(testForm, [{ path: "test_event_code", problem: "This integration has no test event code: enter the one shown in Events Manager → your pixel → Test events." }]);
        } else if (error.fields && error.fields.length) renderFieldErrors(testForm, error.fields);
        else say(testResult, errorBlock(error, "The test event was not sent."));
      }
    });
  });

  const check = button("Check connection", { kind: "button-primary" });
  const healthResult = h("div", { class: "result", role: "status", id: "health-result" });
  check.addEventListener("click", async () => {
    say(healthResult, loading("Checking the token and the pixel with Meta…"));
    await busy(check, "Checking…", async () => {
      try {
        const found = await api("GET", `/integrations/${encodeURIComponent(it().id)}/health`);
        say(healthResult, healthBlock(found));
      } catch (error) {
        say(healthResult, errorBlock(error, "The check did not run."));
      }
    });
  });
  append(
    panel,
    h("h2", { class: "visually-hidden", text: "Test & health" }),
    card("Send a test event", testForm),
    card("Check connection", h("p", { text: "Reads the pixel with the stored access token (as Meta sees it), with the last delivery and this integration's dead-letter count." }), h("div", { class: "form-actions" }, check), healthResult),
  );
}

function testResultBlock(result) {
  if (result.ok) {
    return h(
      "div",
      { class: "alert alert-success" },
      h("p", { class: "alert-title" }, h("span", { class: "icon", "aria-hidden": "true", text: "✓ " }), "Meta accepted the test event (ok)"),
      definitions([
        ["Events received", h("span", { class: "events-received", text: String(result.events_received) })],
        ["fbtrace_id", h("code", { class: "mono fbtrace", text: result.fbtrace_id || "—" })],
        ["Event", result.event_name],
        ["Event ID", mono(result.event_id)],
        ["Test event code", mono(result.test_event_code)],
        ["Messages", result.messages && result.messages.length ? h("ul", { class: "plain" }, result.messages.map((m) => h("li", { text: m }))) : "none"],
      ]),
      h("p", { class: "small", text: "Open Events Manager → your pixel → Test events to see it there." }),
    );
  }
  if (!result.error) {
    // Meta answered 200 but did not confirm the one event sent: say what it did confirm.
    return h(
      "div",
      { class: "alert alert-error" },
      h("p", { class: "alert-title" }, h("span", { class: "icon", "aria-hidden": "true", text: "✗ " }), `Meta confirmed ${result.events_received ?? 0} of 1 test event`),
      definitions([
        ["fbtrace_id", h("code", { class: "mono fbtrace", text: result.fbtrace_id || "—" })],
        ["Messages", result.messages && result.messages.length ? h("ul", { class: "plain" }, result.messages.map((m) => h("li", { text: m }))) : "none"],
      ]),
    );
  }
  const error = result.error;
  return h(
    "div",
    { class: "alert alert-error" },
    h("p", { class: "alert-title" }, h("span", { class: "icon", "aria-hidden": "true", text: "✗ " }), `Meta refused the test event: ${humanize(error.problem || "unknown")}`),
    h("p", { class: "advice", text: error.advice || "" }),
    definitions([
      ["Code", error.code ?? "—"],
      ["Subcode", error.subcode ?? "—"],
      ["HTTP status", error.http_status ?? "—"],
      ["fbtrace_id", h("code", { class: "mono fbtrace", text: error.fbtrace_id || "—" })],
      ["Events received", result.events_received ?? "—"],
      ["Test event code", mono(result.test_event_code)],
    ]),
  );
}

function healthBlock(found) {
  const ok = found.status === "ok";
  const last = found.last_delivery;
  const dlq = found.dlq;
  return h(
    "div",
    { class: `alert ${ok ? "alert-success" : "alert-error"}` },
    h("p", { class: "alert-title" }, "Status: ", checkChip(found.status), " ", h("code", { class: "mono small", text: found.status })),
    h("p", { class: "advice" }, h("strong", { text: ok ? "" : "What to do: " }), found.advice),
    definitions([
      ["Pixel", [mono(found.pixel_id), found.pixel_name ? ` “${found.pixel_name}”` : ""]],
      ["API version", mono(found.api_version)],
      found.error ? ["Meta's code", `${found.error.code ?? "—"}${found.error.subcode ? ` / ${found.error.subcode}` : ""}`] : null,
      found.error && found.error.fbtrace_id ? ["fbtrace_id", mono(found.error.fbtrace_id)] : null,
      ["Last delivery", last ? [outcomeChip(last.outcome), ` ${last.event_name || ""} at ${fmtTime(last.recorded_at)}`, last.detail ? h("span", { class: "small block", text: last.detail }) : null] : "none recorded"],
      ["Dead-letter queue", dlq ? [`${fmtCount(dlq.messages)}${dlq.complete ? "" : "+"} message(s)`, dlq.expired ? ` (${fmtCount(dlq.expired)} expired)` : "", dlq.messages ? [" · ", link("#/dlq", "open the dead-letter queue")] : null] : "unavailable"],
    ]),
  );
}

// Event debugger tab.
async function debuggerPanel(panel, state) {
  const it = () => state.integration;
  append(panel, h("h2", { class: "visually-hidden", text: "Event debugger" }), captureCard(state), deliveriesCard(it));
}

function captureCard(state) {
  const minutes = input({ type: "number", min: "1", max: "1440", value: "10", inputmode: "numeric", class: "input-short" });
  const start = button("Capture successes", { type: "submit", kind: "button-primary" });
  const status = h("div", { class: "status", role: "status", id: "capture-status" });
  const form = h(
    "form",
    { class: "form form-inline", novalidate: true },
    field({ label: "Capture successes for N minutes", control: minutes, path: "minutes", hint: "1–1440. Failures are always recorded; successful deliveries only while capturing." }),
    h("div", { class: "form-actions" }, start),
  );
  const showState = () => {
    const until = state.integration.debug_until;
    if (state.integration.debug) say(status, chip("Capturing", "ok"), " Successes are always recorded (debug is on).");
    else if (until && new Date(until) > new Date()) say(status, chip("Capturing", "ok"), ` Capturing successes until ${fmtTime(until)}.`);
    else say(status, "Not capturing successes now: only failures are recorded.");
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const n = Number(minutes.value);
    if (!Number.isInteger(n) || n < 1 || n > 1440) {
      renderFieldErrors(form, [{ path: "minutes", problem: "A whole number of minutes from 1 to 1440" }]);
      return;
    }
    await busy(start, "Starting…", async () => {
      try {
        const next = await api("POST", `/integrations/${encodeURIComponent(state.integration.id)}/debug`, { body: { minutes: n } });
        state.update(next);
        showState();
      } catch (error) {
        if (error.fields && error.fields.length) renderFieldErrors(form, error.fields);
        else say(status, errorBlock(error, "Capture was not started."));
      }
    });
  });
  showState();
  return card("Capture successes", form, status);
}

function deliveriesCard(it) {
  const statusSelect = select([["", "Any status"]], { id: uid("f") });
  deliveryStatuses().then((statuses) => {
    const known = statuses.length ? statuses : DELIVERY_STATUSES;
    append(statusSelect, known.map((s) => h("option", { value: s, text: `${s} — ${(OUTCOME[s] || [humanize(s)])[0]}` })));
  });
  const eventName = input({ maxlength: "100" });
  const since = input({ type: "datetime-local", step: "1" });
  const until = input({ type: "datetime-local", step: "1" });
  const filters = h(
    "form",
    { class: "form filters", novalidate: true },
    formSummary(),
    h("div", { class: "grid-4" }, field({ label: "Status", control: statusSelect, path: "status" }), field({ label: "Event name", control: eventName, path: "event_name", hint: "Exact Meta event name, e.g. Purchase" }), field({ label: "Since", control: since, path: "since", hint: "Your local time" }), field({ label: "Until", control: until, path: "until", hint: "Your local time" })),
    h("div", { class: "form-actions" }, button("Apply filters", { type: "submit", kind: "button-primary" }), button("Reset", { type: "reset" })),
  );
  const body = h("tbody", {});
  const tableEl = h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "table deliveries" }, h("caption", { text: "Recent deliveries, newest first" }), h("thead", {}, h("tr", {}, ["Recorded", "Event", "Status", "Event ID", "fbtrace_id", "Details"].map((t) => h("th", { scope: "col", text: t })))), body),
  );
  const summary = h("div", { class: "status", role: "status" });
  const more = button("Load more", { hidden: true });
  let cursor = null;
  let shown = 0;
  let query = {};
  const iso = (value) => (value ? new Date(value).toISOString() : undefined);
  async function load(reset) {
    if (reset) {
      cursor = null;
      shown = 0;
      body.replaceChildren();
    }
    say(summary, "Loading deliveries…");
    try {
      const page = await api("GET", `/integrations/${encodeURIComponent(it().id)}/deliveries`, { query: { ...query, limit: 50, cursor } });
      for (const item of page.items || []) append(body, deliveryRows(item, ++shown));
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      say(summary, shown ? `${shown} deliver${shown === 1 ? "y" : "ies"} shown${cursor ? "; more available" : ""}.` : "No deliveries recorded for these filters. Failures are always recorded; successes only while capturing.");
    } catch (error) {
      if (error.fields && error.fields.length) {
        renderFieldErrors(filters, error.fields);
        say(summary);
      } else say(summary, errorBlock(error, "Could not load the deliveries."));
    }
  }
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    clearFieldErrors(filters);
    query = { status: statusSelect.value, event_name: eventName.value.trim(), since: iso(since.value), until: iso(until.value) };
    load(true);
  });
  filters.addEventListener("reset", () => {
    query = {};
    clearFieldErrors(filters);
    setTimeout(() => load(true), 0);
  });
  more.addEventListener("click", () => busy(more, "Loading…", () => load(false)));
  load(true);
  return card("Deliveries", filters, tableEl, summary, h("div", { class: "form-actions" }, more, button("Refresh", { onClick: () => load(true) })));
}

/** A delivery's row and its expandable detail row (the payload as sent, Meta's answer). */
function deliveryRows(item, n) {
  const detailId = uid("delivery");
  const toggle = h("button", { type: "button", class: "button button-small expander", "aria-expanded": "false", "aria-controls": detailId, "aria-label": `Details of delivery ${n} (${item.event_name || "event"})`, text: "Show" });
  const detail = h(
    "tr",
    { class: "detail-row", id: detailId, hidden: true },
    h(
      "td",
      { colspan: "6" },
      h(
        "div",
        { class: "delivery-detail" },
        h("div", {}, h("h3", { text: "Payload as sent" }), h("pre", { class: "code payload", tabindex: "0", "aria-label": `Payload of delivery ${n}` }, h("code", { text: JSON.stringify(item.payload, null, 2) }))),
        h("div", {}, h("h3", { text: "Meta's answer" }), definitions([["Status", outcomeChip(item.status)], ["Detail", item.detail || "—"], ["fbtrace_id", h("code", { class: "mono fbtrace", text: item.fbtrace_id || "—" })], ["Event ID", mono(item.event_id)], ["Recorded", fmtTime(item.recorded_at)]])),
      ),
    ),
  );
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide" : "Show";
    detail.hidden = !open;
  });
  const row = h(
    "tr",
    { class: "delivery-row" },
    h("td", { text: fmtTime(item.recorded_at) }),
    h("th", { scope: "row", text: item.event_name || "—" }),
    h("td", {}, outcomeChip(item.status)),
    h("td", {}, mono(item.event_id)),
    h("td", {}, mono(item.fbtrace_id)),
    h("td", {}, toggle),
  );
  return [row, detail];
}

// Match quality tab.
function qualityPanel(panel, state) {
  append(panel, h("h2", { class: "visually-hidden", text: "Match quality" }), h("div", { class: "quality" }));
  refreshQuality(panel, state);
}

async function refreshQuality(panel, state) {
  const holder = panel.querySelector(".quality");
  replace(holder, loading("Loading match quality…"));
  let stats;
  try {
    stats = await api("GET", `/integrations/${encodeURIComponent(state.integration.id)}/stats`, { query: { hours: 24 } });
  } catch (error) {
    replace(holder, errorBlock(error, "Could not load the match quality."));
    return;
  }
  const refresh = button("Refresh", { onClick: () => refreshQuality(panel, state) });
  const dead = Object.entries(stats.dead_lettered || {});
  const facts = definitions([
    ["Delivered", fmtCount(stats.delivered)],
    ["Dead-lettered", dead.length ? dead.map(([reason, n]) => `${humanize(reason)}: ${fmtCount(n)}`).join(", ") : "none"],
    ["Retrying", fmtCount(stats.retrying ?? 0)],
    ["Last outcome", [outcomeChip(stats.last_outcome), stats.last_at ? ` at ${fmtTime(stats.last_at)}` : ""]],
    ["Window", `${fmtTime(stats.since)} – ${fmtTime(stats.until)}`],
  ]);
  const hours = stats.hours || 24;
  const parts = [card(`Match keys — last ${hours} h`, h("p", { text: "The share of delivered events carrying each identity signal. More signals give a higher Event Match Quality (EMQ) in Events Manager: email and phone (hashed) via identify, fbp / fbc cookies, IP and user agent." }), facts, stats.delivered ? matchKeyChart(stats) : h("p", { class: "empty", id: "no-deliveries", text: `No deliveries in the last ${hours} h` }))];
  if (stats.delivered && (stats.by_hour || []).length) parts.push(card("Deliveries by hour", hourChart(stats.by_hour)));
  replace(holder, parts, h("div", { class: "form-actions" }, refresh));
}

function matchKeyChart(stats) {
  const keys = stats.match_keys || [];
  const rows = keys.map((k) => {
    const fill = h("span", { class: `bar-fill ${k.low ? "bar-low" : ""}` });
    fill.style.width = shareWidth(k.share);
    return h(
      "tr",
      { class: k.low ? "low" : "", dataset: { key: k.key } },
      h("th", { scope: "row" }, mono(k.key), " ", h("span", { class: "key-label", text: k.label || "" })),
      h("td", {}, h("div", { class: "bar-cell" }, h("span", { class: "bar", "aria-hidden": "true" }, fill), h("span", { class: "pct", text: fmtShare(k.share) }))),
      h("td", { class: "num", text: fmtCount(k.events) }),
      h("td", {}, k.low ? h("span", { class: "advice" }, chip("Low", "warn"), " ", k.advice || "") : chip("Good", "ok")),
    );
  });
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table match-keys" },
      h("caption", { text: `Share of the ${fmtCount(stats.delivered)} delivered events carrying each match key` }),
      h("thead", {}, h("tr", {}, ["Match key", "Share", "Events", "Note"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, rows),
    ),
  );
}

function hourChart(byHour) {
  const max = Math.max(1, ...byHour.map((b) => b.delivered || 0));
  return table({
    caption: "Delivered events per hour (UTC)",
    className: "table hours",
    headers: ["Hour", "Delivered"],
    rows: byHour.map((b) => {
      const fill = h("span", { class: "bar-fill" });
      fill.style.width = `${((b.delivered || 0) / max) * 100}%`;
      return [{ th: fmtTime(b.hour).replace(/:00 UTC$/, " UTC") }, h("span", { class: "bar-cell" }, h("span", { class: "bar", "aria-hidden": "true" }, fill), h("span", { class: "pct", text: fmtCount(b.delivered) }))];
    }),
  });
}

// ---- 6.7 Dead-letter queue ----------------------------------------------------------------------------

async function viewDlq() {
  const { body } = mountView("Dead-letter queue", {
    lede: "Events Relay could not deliver wait here, with the reason. Fix the cause (a token, a mapping), then redrive them to the events queue.",
  });
  const overview = h("div", {}, loading("Reading the dead-letter queue…"));
  const reportRegion = h("div", { class: "result", role: "status", id: "redrive-report" });
  append(body, overview);
  let dlq, integrations, reasons;
  try {
    [dlq, { items: integrations }, reasons] = await Promise.all([api("GET", "/dlq"), listAll("/integrations"), dlqReasons()]);
  } catch (error) {
    replace(overview, errorBlock(error, "Could not read the dead-letter queue."));
    return;
  }
  const names = new Map(integrations.map((i) => [i.id, i.name || i.id]));
  const refresh = async () => {
    try {
      const next = await api("GET", "/dlq");
      replace(overview, dlqOverview(next, names));
    } catch (error) {
      replace(overview, errorBlock(error, "Could not read the dead-letter queue."));
    }
  };
  replace(overview, dlqOverview(dlq, names));
  const allReasons = reasons.length ? reasons : Object.keys(dlq.by_reason || {});
  append(body, redriveCard(integrations, allReasons, reportRegion, refresh));
}

function dlqOverview(dlq, names) {
  const integrationLabel = (id) => (id ? [link(`#/integrations/${encodeURIComponent(id)}`, names.get(id) || id), names.has(id) ? null : h("span", { class: "muted small", text: " (deleted)" })] : h("span", { class: "muted", text: "none" }));
  const summary = card(
    "Overview",
    definitions([
      ["Messages", [h("span", { id: "dlq-total", text: fmtCount(dlq.messages) }), dlq.complete ? "" : " (at least: the read stopped early)"]],
      ["Oldest", dlq.oldest_sent_at ? `${fmtTime(dlq.oldest_sent_at)} (${fmtDuration(dlq.oldest_age_s)} ago)` : "—"],
    ]),
    dlq.messages ? null : h("p", { class: "empty", text: "The dead-letter queue is empty: every event was delivered or is on its way." }),
  );
  if (!dlq.messages) return summary;
  const byReason = Object.entries(dlq.by_reason || {}).sort((a, b) => b[1] - a[1]);
  const byIntegration = Object.entries(dlq.by_integration || {}).sort((a, b) => b[1] - a[1]);
  return h(
    "div",
    {},
    summary,
    h(
      "div",
      { class: "grid-2 cards" },
      card("By reason", table({ caption: "Messages by reason", className: "table by-reason", headers: ["Reason", "Messages"], rows: byReason.map(([reason, n]) => [{ th: mono(reason) }, h("span", { class: "num", dataset: { reason }, text: fmtCount(n) })]) })),
      card("By integration", table({ caption: "Messages by integration", headers: ["Integration", "Messages"], rows: byIntegration.map(([id, n]) => [{ th: integrationLabel(id) }, h("span", { class: "num", text: fmtCount(n) })]) })),
    ),
    card(
      "Samples",
      h("p", { class: "hint", text: "The first messages examined, without their bodies." }),
      table({
        caption: "Sample messages",
        headers: ["Sent", "Reason", "Integration", "Event", "Detail"],
        rows: (dlq.samples || []).map((s) => [fmtTime(s.sent_at), mono(s.reason), integrationLabel(s.integration_id), [s.event_type || "", s.event_name ? ` “${s.event_name}”` : ""], h("span", { class: "small", text: s.detail || "—" })]),
      }),
    ),
  );
}

function redriveCard(integrations, reasons, reportRegion, refresh) {
  const integration = select([["", "Any integration"], ...integrations.map((i) => [i.id, `${i.name || i.id} (${i.id})`])]);
  const reason = select([["", "Any reason"], ...reasons.map((r) => [r, r])]);
  const max = input({ type: "number", min: "1", max: "100000", value: "100", inputmode: "numeric", class: "input-short" });
  const dry = button("Dry run", { type: "submit", dataset: { mode: "dry" } });
  const run = button("Redrive", { kind: "button-primary", type: "submit", dataset: { mode: "redrive" } });
  const form = h(
    "form",
    { class: "form", novalidate: true },
    formSummary(),
    h("p", { text: "Moves the matching messages back to the events queue (body and attributes kept). Events older than Meta's age limit are kept: they can never be sent. A dry run only counts." }),
    h("div", { class: "grid-3" }, field({ label: "Integration", control: integration, path: "integration_id", optional: true }), field({ label: "Reason", control: reason, path: "reason", optional: true }), field({ label: "Max messages", control: max, path: "max_messages", hint: "1–100,000" })),
    h("div", { class: "form-actions" }, dry, run),
    reportRegion,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mode = event.submitter ? event.submitter.dataset.mode : "dry";
    clearFieldErrors(form);
    const n = Number(max.value);
    if (!Number.isInteger(n) || n < 1 || n > 100000) {
      renderFieldErrors(form, [{ path: "max_messages", problem: "A whole number from 1 to 100,000" }]);
      return;
    }
    const request = { max_messages: n, dry_run: mode === "dry" };
    if (integration.value) request.integration_id = integration.value;
    if (reason.value) request.reason = reason.value;
    if (mode !== "dry") {
      const scope = [reason.value ? `reason ${reason.value}` : "any reason", integration.value ? `integration ${integration.value}` : "any integration"].join(", ");
      const ok = await confirmDialog({ title: "Redrive dead-lettered events?", message: `Up to ${fmtCount(n)} message(s) (${scope}) go back to the events queue and are delivered again. Fix their cause first, or they come back here.`, confirmLabel: "Redrive", danger: false });
      if (!ok) return;
    }
    const btn = mode === "dry" ? dry : run;
    say(reportRegion, loading(mode === "dry" ? "Counting…" : "Redriving…"));
    const report = await busy(btn, mode === "dry" ? "Counting…" : "Redriving…", async () => {
      try {
        const done = await api("POST", "/dlq/redrive", { body: request });
        say(reportRegion, redriveReport(done));
        return done;
      } catch (error) {
        if (error.fields && error.fields.length) {
          renderFieldErrors(form, error.fields);
          say(reportRegion);
        } else say(reportRegion, errorBlock(error, "The redrive did not run."));
        return null;
      }
    });
    if (report && !report.dry_run) await refresh(); // the counts after the move
  });
  return card("Redrive", form);
}

function redriveReport(report) {
  const title = report.dry_run ? "Dry run: nothing was moved" : `Redrive done: ${fmtCount(report.moved)} moved`;
  return h(
    "div",
    { class: `alert ${report.failed ? "alert-warn" : "alert-success"} redrive-report` },
    h("p", { class: "alert-title", text: title }),
    definitions([
      ["Examined", h("span", { dataset: { field: "examined" }, text: fmtCount(report.examined) })],
      report.dry_run ? ["Would move", h("span", { dataset: { field: "eligible" }, text: fmtCount(report.eligible) })] : null,
      ["Moved", h("span", { dataset: { field: "moved" }, text: fmtCount(report.moved) })],
      ["Failed", h("span", { dataset: { field: "failed" }, text: fmtCount(report.failed) })],
      ["Kept (expired)", h("span", { dataset: { field: "kept_expired" }, text: fmtCount(report.kept_expired) })],
      ["Kept (filtered out)", h("span", { dataset: { field: "kept_filtered" }, text: fmtCount(report.kept_filtered) })],
      ["Stopped", h("span", { dataset: { field: "stopped" }, text: humanize(report.stopped) })],
    ]),
  );
}

// ---- 6.8 Not found ----------------------------------------------------------------------------------

function viewNotFound() {
  const { body } = mountView("Page not found");
  append(body, h("p", {}, "There is no such page. Go to ", link("#/integrations", "Integrations"), "."));
}

// ---------------------------------------------------------------------------------------------------
// 7. Router and start-up
// ---------------------------------------------------------------------------------------------------

const ROUTES = [
  [/^#\/sources$/, "sources", () => viewSources()],
  [/^#\/integrations$/, "integrations", () => viewIntegrations()],
  [/^#\/integrations\/new$/, "integrations", () => viewAddIntegration()],
  [/^#\/integrations\/([A-Za-z0-9_-]{1,64})(?:\/(settings|test|debugger|quality))?$/, "integrations", (m) => viewIntegration(decodeURIComponent(m[1]), m[2])],
  [/^#\/dlq$/, "dlq", () => viewDlq()],
];

let pendingFlash = null;

/** A message shown (and announced) once the next view is up. */
function flashNext(text) {
  pendingFlash = text;
}

function showFlash() {
  const area = document.getElementById("flash");
  if (pendingFlash) {
    replace(area, h("div", { class: "alert alert-success flash" }, h("span", { class: "icon", "aria-hidden": "true", text: "✓ " }), pendingFlash));
    pendingFlash = null;
  } else area.replaceChildren();
}

function focusHeading() {
  const heading = document.querySelector("#view h1");
  if (heading) heading.focus({ preventScroll: false });
}

function route() {
  const hash = location.hash || "";
  if (!session.token()) {
    showChrome(false);
    document.getElementById("flash").replaceChildren();
    viewSignIn();
    focusHeading();
    return;
  }
  if (hash === "" || hash === "#" || hash === "#/") {
    location.replace("#/integrations");
    return;
  }
  if (!hash.startsWith("#/")) {
    // An in-page anchor (the skip link's #main), not a route: the current view stays.
    if (view().childElementCount) {
      document.getElementById("main").focus();
      return;
    }
    location.replace("#/integrations");
    return;
  }
  showChrome(true);
  const found = ROUTES.map(([pattern, nav, render]) => [hash.match(pattern), nav, render]).find(([m]) => m);
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (found && a.dataset.nav === found[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const rendering = found ? found[2](found[0]) : viewNotFound();
  showFlash();
  focusHeading();
  Promise.resolve(rendering).catch((error) => {
    if (error && error.signedOut) return;
    append(view(), errorBlock(error, "Something went wrong showing this page."));
  });
}

function start() {
  document.getElementById("sign-out").addEventListener("click", () => {
    signOut("You are signed out.");
  });
  document.getElementById("skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", route);
  route();
}

start();
