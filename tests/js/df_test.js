// df.js in a minimal fake browser (node's vm, no dependencies). Run: node tests/js/df_test.js
// (tests/unit/test_df_js.py runs it in make test; tests/integration/test_browser.py drives the real tag
// in headless Chromium end to end).
"use strict";
const fs = require("fs");
const vm = require("vm");
const assert = require("assert");
const path = require("path");
const SRC = fs.readFileSync(
  path.join(__dirname, "..", "..", "layers", "core", "relay", "collector", "static", "df.js"), "utf8");

function makeEnv(opts = {}) {
  const cookies = new Map(Object.entries(opts.cookies || {}));
  const storage = new Map(Object.entries(opts.storage || {}));
  const requests = [];
  const cookieWrites = [];
  const beacons = [];
  const scriptEl = opts.script === null ? null : makeScript(opts.script || { src: "https://t.example.com/v1/df.js?v=3", "data-write-key": "KEY" });
  const extraScripts = (opts.otherScripts || []).map(makeScript);
  function makeScript(attrs) { return { getAttribute: (n) => (n in attrs ? attrs[n] : null), attrs }; }
  const document = {
    currentScript: opts.noCurrentScript ? null : scriptEl,
    title: "Shop",
    referrer: "https://ref.example/",
    get cookie() { return [...cookies].map(([k, v]) => k + "=" + v).join("; "); },
    set cookie(s) { cookieWrites.push(s); const [kv] = s.split(";"); const i = kv.indexOf("="); cookies.set(kv.slice(0, i), kv.slice(i + 1)); },
    querySelectorAll: (sel) => { assert.equal(sel, "script[data-write-key]"); return [scriptEl, ...extraScripts].filter(Boolean); },
  };
  const location = new URL(opts.href || "https://shop.example.com/p/widget?color=red#top");
  const localStorage = opts.blockStorage
    ? { getItem() { throw new Error("SecurityError"); }, setItem() { throw new Error("SecurityError"); } }
    : { getItem: (k) => (storage.has(k) ? storage.get(k) : null), setItem: (k, v) => storage.set(k, String(v)) };
  const pendingResponses = [];
  function fetch(url, init) {
    const req = { url, init, body: JSON.parse(init.body) };
    requests.push(req);
    return new Promise((resolve, reject) => {
      pendingResponses.push({
        req,
        resolve: () => { if (opts.setAid && !cookies.has("_df_aid")) cookies.set("_df_aid", opts.setAid); resolve({ ok: true, status: 200 }); },
        answer: (status) => resolve({ ok: status < 300, status }),
        reject: () => reject(new TypeError("Failed to fetch")),
      });
      if (opts.autoRespond) setTimeout(() => pendingResponses.shift().resolve(), 1);
    });
  }
  const crypto = opts.noRandomUUID
    ? { getRandomValues: require("crypto").webcrypto.getRandomValues.bind(require("crypto").webcrypto) }
    : require("crypto").webcrypto;
  const window = {
    screen: { width: 1280, height: 800 }, devicePixelRatio: 2,
  };
  const ctx = {
    window, document, location, localStorage, crypto,
    navigator: { userAgent: "FakeUA/1.0", language: "fr-FR", sendBeacon: (u, b) => { beacons.push({ u, b }); return true; } },
    fetch: opts.noFetch ? undefined : opts.throwingFetch ? () => { throw new TypeError("sync"); } : fetch,
    URL, Blob, Promise, JSON, Date, Set, Array, Object, Uint8Array, Math, String, setTimeout, clearTimeout,
    console: { warn: (...a) => ctx.warnings.push(a.join(" ")) }, warnings: [],
  };
  window.window = window; // globals resolve through the context
  Object.assign(window, ctx);
  vm.createContext(window);
  if (opts.stub) window._df = opts.stub;
  return { window, requests, cookies, storage, cookieWrites, beacons, pendingResponses, ctx: window, load: () => vm.runInContext(SRC, window) };
}
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

test("sync path: base URL, write key, body fields, page properties", async () => {
  const e = makeEnv({ cookies: { _df_aid: "aid-1" } });
  e.load();
  const df = e.window._df;
  assert.equal(df.loaded, true); assert.equal(df.VERSION, "1.0.0");
  assert.equal(df.page(), undefined);
  assert.equal(e.requests.length, 1);
  const r = e.requests[0];
  assert.equal(r.url, "https://t.example.com/v1/page");
  assert.equal(r.init.method, "POST"); assert.equal(r.init.keepalive, true);
  assert.equal(r.init.credentials, "include"); assert.deepEqual(r.init.headers, { "Content-Type": "text/plain" });
  const b = r.body;
  assert.equal(b.type, "page"); assert.equal(b.writeKey, "KEY"); assert.equal(b.anonymousId, "aid-1");
  assert.ok(UUID.test(b.messageId)); assert.ok(!isNaN(Date.parse(b.timestamp)) && b.timestamp.endsWith("Z"));
  assert.equal("userId" in b, false); assert.equal("name" in b, false); assert.equal("consent" in b.context, false);
  assert.deepEqual(b.context.page, { url: "https://shop.example.com/p/widget?color=red#top", path: "/p/widget", referrer: "https://ref.example/", title: "Shop", search: "?color=red" });
  assert.deepEqual(b.properties, b.context.page);
  assert.equal(b.context.userAgent, "FakeUA/1.0"); assert.equal(b.context.locale, "fr-FR");
  assert.deepEqual(b.context.library, { name: "df.js", version: "1.0.0" });
  assert.deepEqual(b.context.screen, { width: 1280, height: 800, density: 2 });
  e.pendingResponses.shift().resolve();
  await df.flush();
  df.page("Home", { title: "Custom" });
  const b2 = e.requests[1].body;
  assert.equal(b2.name, "Home"); assert.equal(b2.properties.name, "Home"); assert.equal(b2.properties.title, "Custom");
  assert.equal(b2.context.page.title, "Shop");
  df.page({ section: "x" });
  assert.equal(e.requests[2].body.properties.section, "x"); assert.equal("name" in e.requests[2].body, false);
});

test("first request alone; queue released on settle in order; anonymousId read at send time", async () => {
  const e = makeEnv({ setAid: "aid-from-server" });
  e.load();
  const df = e.window._df;
  df.page(); df.track("A", { x: 1 }); df.track("B");
  assert.equal(e.requests.length, 1);
  assert.equal("anonymousId" in e.requests[0].body, false);
  let flushed = false; df.flush().then(() => (flushed = true));
  await tick(5); assert.equal(e.requests.length, 1); assert.equal(flushed, false);
  e.pendingResponses.shift().resolve();
  await tick();
  assert.deepEqual(e.requests.map((r) => r.body.event || r.body.type), ["page", "A", "B"]);
  assert.equal(e.requests[1].body.anonymousId, "aid-from-server");
  assert.equal(e.requests[2].body.anonymousId, "aid-from-server");
  assert.equal(flushed, false); // queued ones still in flight
  e.pendingResponses.splice(0).forEach((p) => p.resolve());
  await tick(); assert.equal(flushed, true);
  // Timestamp was fixed at call time, before the release.
  assert.ok(e.requests[1].body.timestamp <= new Date().toISOString());
  df.track("C"); assert.equal(e.requests.length, 4); // immediate after release
});

test("queue released on failure of the first request", async () => {
  const e = makeEnv();
  e.load(); const df = e.window._df;
  df.track("first"); df.track("second");
  e.pendingResponses.shift().reject();
  await tick();
  assert.equal(e.requests.length, 2);
  e.pendingResponses.shift().resolve();
  await tick(1100); // the failed first one is sent again
  assert.equal(e.requests.length, 3);
  e.pendingResponses.shift().resolve(); await df.flush();
});

test("a 5xx or a network error is sent again with the same messageId, at most twice", async () => {
  const e = makeEnv();
  e.load(); const df = e.window._df;
  df.track("Order Completed");
  e.pendingResponses.shift().answer(503);
  await tick(1100);
  assert.equal(e.requests.length, 2);
  assert.equal(e.requests[1].body.messageId, e.requests[0].body.messageId);
  e.pendingResponses.shift().reject();
  await tick(3100);
  assert.equal(e.requests.length, 3);
  assert.equal(e.requests[2].body.messageId, e.requests[0].body.messageId);
  e.pendingResponses.shift().answer(502);
  await df.flush();
  await tick(50);
  assert.equal(e.requests.length, 3); // two retries, then it gives up
});

test("a 4xx is not sent again", async () => {
  const e = makeEnv();
  e.load(); const df = e.window._df;
  df.track("Bad");
  e.pendingResponses.shift().answer(400);
  await df.flush();
  await tick(1100);
  assert.equal(e.requests.length, 1);
});

test("anonymous id: the collector's cookie, else one df.js keeps (minted after the first answer)", async () => {
  // the collector on another site: its _df_aid cookie never arrives
  const e = makeEnv();
  e.load(); const df = e.window._df;
  df.page(); df.track("A");
  assert.equal("anonymousId" in e.requests[0].body, false); // the first request: the collector may set one
  e.pendingResponses.shift().resolve(); await tick();
  const minted = e.requests[1].body.anonymousId;
  assert.ok(UUID.test(minted));
  assert.equal(e.storage.get("_df_aid"), minted);
  e.pendingResponses.shift().resolve(); await df.flush();
  // the next page load reuses it; a collector cookie, when one appears, wins and is kept
  const e2 = makeEnv({ storage: { _df_aid: minted } }); e2.load(); e2.window._df.track("B");
  assert.equal(e2.requests[0].body.anonymousId, minted);
  const e3 = makeEnv({ storage: { _df_aid: minted }, cookies: { _df_aid: "aid-cookie-1" } });
  e3.load(); e3.window._df.track("C");
  assert.equal(e3.requests[0].body.anonymousId, "aid-cookie-1");
  assert.equal(e3.storage.get("_df_aid"), "aid-cookie-1");
});

test("the site's _fbp / _fbc cookies travel in context, unless advertising is refused", async () => {
  const e = makeEnv({ cookies: { _fbp: "fb.1.1700000000000.42", _fbc: "fb.1.1700000000000.Click" }, autoRespond: true });
  e.load(); const df = e.window._df;
  df.track("A");
  await tick(5);
  df.consent({ advertising: false });
  df.track("B");
  await tick(5); await df.flush();
  const [a, b] = e.requests.map((r) => r.body.context);
  assert.equal(a.fbp, "fb.1.1700000000000.42"); assert.equal(a.fbc, "fb.1.1700000000000.Click");
  assert.equal("fbp" in b, false); assert.equal("fbc" in b, false);
});

test("a network error while the page is hidden goes out as a beacon", async () => {
  const e = makeEnv();
  e.load(); const df = e.window._df;
  df.track("Order Completed");
  e.ctx.document.visibilityState = "hidden";
  e.pendingResponses.shift().reject();
  await df.flush();
  assert.equal(e.beacons.length, 1);
  assert.equal(e.beacons[0].u, "https://t.example.com/v1/track");
  assert.equal(e.requests.length, 1); // no timer-based retry: it would never run
});

test("queue released after 3 s timeout", async () => {
  const e = makeEnv();
  e.load(); const df = e.window._df;
  df.track("first"); df.track("second");
  await tick(2900); assert.equal(e.requests.length, 1);
  await tick(200); assert.equal(e.requests.length, 2);
  e.pendingResponses.splice(0).forEach((p) => p.resolve()); await df.flush();
});

test("payload snapshot taken at call time", async () => {
  const e = makeEnv();
  e.load(); const df = e.window._df;
  df.page();
  const props = { v: 1 }; df.track("T", props); props.v = 2;
  e.pendingResponses.shift().resolve(); await tick();
  assert.equal(e.requests[1].body.properties.v, 1);
});

test("async stub replay order, then replaced; loaded twice is a no-op", async () => {
  const stub = [];
  ["page", "track", "identify", "consent"].forEach((m) => { stub[m] = function () { stub.push([m].concat([].slice.call(arguments))); }; });
  stub.page(); stub.identify("u1", { email: "a@b.c" }); stub.consent({ advertising: true }); stub.track("Order Completed", { total: 5 });
  stub.push("garbage"); stub.push(["unknown", 1]);
  const e = makeEnv({ stub, autoRespond: true });
  e.load();
  const df = e.window._df;
  assert.notEqual(df, stub); assert.equal(df.loaded, true);
  await tick(20); await df.flush();
  assert.deepEqual(e.requests.map((r) => r.body.type + ":" + (r.body.event || "")), ["page:", "identify:", "track:Order Completed"]);
  assert.equal(e.requests[0].body.userId, undefined);
  assert.equal(e.requests[1].body.userId, "u1"); assert.deepEqual(e.requests[1].body.traits, { email: "a@b.c" });
  assert.equal(e.requests[2].body.userId, "u1");
  assert.equal("consent" in e.requests[1].body.context, false);
  assert.deepEqual(e.requests[2].body.context.consent, { categoryPreferences: { advertising: true } });
  // Second copy does nothing.
  vm.runInContext(SRC, e.window);
  assert.equal(e.window._df, df);
});

test("currentScript missing: falls back to last script[data-write-key] with df.js src", async () => {
  const e = makeEnv({ noCurrentScript: true, script: { src: "/v1/df.js", "data-write-key": "K1" }, otherScripts: [{ src: "https://cdn.example/df.js#x", "data-write-key": "K2" }, { src: "/other.js", "data-write-key": "K3" }] });
  e.load(); e.window._df.track("x");
  assert.equal(e.requests[0].url, "https://cdn.example/v1/track"); assert.equal(e.requests[0].body.writeKey, "K2");
});

test("relative src, sub-path and data-api-host", async () => {
  let e = makeEnv({ script: { src: "/v1/df.js", "data-write-key": "K" }, href: "http://localhost:8080/demo/" });
  e.load(); e.window._df.track("x"); assert.equal(e.requests[0].url, "http://localhost:8080/v1/track");
  e = makeEnv({ script: { src: "https://t.example.com/relay/v1/df.js?v=1#h", "data-write-key": "K" } });
  e.load(); e.window._df.track("x"); assert.equal(e.requests[0].url, "https://t.example.com/relay/v1/track");
  e = makeEnv({ script: { src: "https://t.example.com/v1/df.js", "data-write-key": "K", "data-api-host": "https://api.example.org/" } });
  e.load(); e.window._df.track("x"); assert.equal(e.requests[0].url, "https://api.example.org/v1/track");
  e = makeEnv({ script: { src: "https://t.example.com/v1/df.js", "data-write-key": "K", "data-api-host": "api.example.org" } });
  e.load(); e.window._df.track("x"); assert.equal(e.requests[0].url, "https://api.example.org/v1/track");
  e = makeEnv({ script: { src: "https://t.example.com/v1/df.js" } });
  e.load(); e.window._df.track("x"); assert.equal("writeKey" in e.requests[0].body, false); assert.equal(e.ctx.warnings.length, 1);
});

test("identify: userId persisted in localStorage, traits never stored; object first arg", async () => {
  const e = makeEnv({ autoRespond: true });
  e.load(); const df = e.window._df;
  df.identify({ email: "x@y.z" });
  df.identify("user-42", { email: "x@y.z", phone: "+33" });
  df.identify(7);
  await tick(10); await df.flush();
  const b = e.requests.map((r) => r.body);
  assert.equal(b[0].userId, undefined); assert.deepEqual(b[0].traits, { email: "x@y.z" });
  assert.equal(b[1].userId, "user-42"); assert.deepEqual(b[1].traits, { email: "x@y.z", phone: "+33" });
  assert.equal(b[2].userId, "7"); assert.deepEqual(b[2].traits, {});
  // the userId and the anonymous id (no collector cookie here) are kept; traits never are
  assert.deepEqual([...e.storage].map(([k]) => k).sort(), ["_df_aid", "_df_uid"]);
  assert.equal(e.storage.get("_df_uid"), "7");
  assert.ok(UUID.test(e.storage.get("_df_aid")));
  assert.ok(![...e.storage.values()].some((v) => v.includes("x@y.z")));
  assert.equal(e.cookieWrites.length, 0);
  // a new page load remembers the userId
  const e2 = makeEnv({ storage: { _df_uid: "user-42" } }); e2.load(); e2.window._df.track("x");
  assert.equal(e2.requests[0].body.userId, "user-42");
  // blocked storage does not throw
  const e3 = makeEnv({ blockStorage: true }); e3.load(); e3.window._df.identify("u"); e3.window._df.track("y");
  e3.pendingResponses.shift().resolve(); await tick();
  assert.equal(e3.requests[1].body.userId, "u");
});

test("consent: cookie shapes, explicit call, cookie write", async () => {
  let e = makeEnv({ cookies: { _df_consent: encodeURIComponent(JSON.stringify({ advertising: false })) } });
  e.load(); e.window._df.track("x");
  assert.deepEqual(e.requests[0].body.context.consent, { categoryPreferences: { advertising: false } });
  const seg = { version: 1, destinations: { "Facebook Pixel": true }, custom: { advertising: true, marketingAndAnalytics: true, functional: true } };
  e = makeEnv({ cookies: { "tracking-preferences": encodeURIComponent(JSON.stringify(seg)) } });
  e.load(); e.window._df.track("x");
  assert.deepEqual(e.requests[0].body.context.consent, { categoryPreferences: seg.custom });
  e = makeEnv({ cookies: { _df_consent: encodeURIComponent('{"analytics":true}'), "tracking-preferences": encodeURIComponent(JSON.stringify(seg)) } });
  e.load(); e.window._df.track("x");
  assert.deepEqual(e.requests[0].body.context.consent.categoryPreferences, { analytics: true });
  e = makeEnv({ cookies: { _df_consent: "%E0%A4%A", "tracking-preferences": "notjson" } });
  e.load(); e.window._df.track("x");
  assert.equal("consent" in e.requests[0].body.context, false);
  e = makeEnv({ autoRespond: true });
  e.load(); e.window._df.consent({ advertising: true, analytics: false }); e.window._df.track("x");
  assert.deepEqual(e.requests[0].body.context.consent.categoryPreferences, { advertising: true, analytics: false });
  assert.deepEqual(e.cookieWrites, ["_df_consent=" + encodeURIComponent('{"advertising":true,"analytics":false}') + "; Path=/; Max-Age=31536000; SameSite=Lax; Secure"]);
  e = makeEnv({ href: "http://localhost/" }); e.load(); e.window._df.consent({ a: true });
  assert.ok(!e.cookieWrites[0].includes("Secure"));
  assert.equal(e.window._df.consent("nope"), undefined);
});

test("fallbacks: no fetch / throwing fetch -> sendBeacon; big body without keepalive; UUID fallback", async () => {
  for (const o of [{ noFetch: true }, { throwingFetch: true }]) {
    const e = makeEnv(o); e.load(); e.window._df.track("x");
    assert.equal(e.beacons.length, 1); assert.equal(e.beacons[0].u, "https://t.example.com/v1/track");
    assert.equal(e.beacons[0].b.type, "text/plain"); assert.equal(JSON.parse(await e.beacons[0].b.text()).event, "x");
    await e.window._df.flush();
  }
  const e = makeEnv({ noRandomUUID: true }); e.load(); const df = e.window._df;
  df.track("big", { blob: "é".repeat(31000) }); // 62 KB in UTF-8, 31 K chars
  assert.equal(e.requests[0].init.keepalive, false);
  assert.ok(UUID.test(e.requests[0].body.messageId), e.requests[0].body.messageId);
  const ids = new Set(); for (let i = 0; i < 200; i++) { df.track("t"); }
  e.pendingResponses.shift().resolve(); await tick();
  e.requests.forEach((r) => { assert.ok(UUID.test(r.body.messageId)); ids.add(r.body.messageId); });
  assert.equal(ids.size, 201);
});

test("never throws into the page", async () => {
  const e = makeEnv(); e.load(); const df = e.window._df;
  const cyc = {}; cyc.self = cyc;
  assert.equal(df.track("cyc", cyc), undefined);
  assert.equal(df.track(), undefined); assert.equal(df.identify(), undefined);
  assert.equal(df.page(null, null), undefined);
  assert.ok(df.flush() instanceof e.window.Promise || typeof df.flush().then === "function");
  assert.equal(e.requests.length, 1); // identify() sent, cyc dropped, track() dropped; page queued
});

let finished = false;
// A test awaiting a promise nobody settles would let node exit quietly with status 0: fail instead.
process.on("beforeExit", () => {
  if (!finished) { console.log("FAIL a test never finished (a promise was left pending)"); process.exit(1); }
});

(async () => {
  let failed = 0;
  for (const [name, fn] of tests) {
    try { await fn(); console.log("ok   " + name); } catch (err) { failed++; console.log("FAIL " + name + "\n" + err.stack); }
  }
  finished = true;
  process.exit(failed ? 1 : 0);
})();
