/*! df.js 1.0.0 - Relay's browser tag (Segment-compatible, no dependencies).
 * <script src="https://t.example.com/v1/df.js" data-write-key="KEY"></script> then _df.page(),
 * _df.track(name, props), _df.identify(id, traits), _df.consent(prefs). Nothing is sent on its own.
 * The async snippet (calls queued until this loads) is in Relay's README. data-api-host="https://..."
 * overrides the collector URL (default: this script's src minus /v1/df.js).
 */
(() => {
  "use strict";

  const w = window, d = document, VERSION = "1.0.0";
  const prev = w._df;
  if (prev && prev.loaded) return; // loaded twice: the first copy stays in charge

  const noop = () => {};
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const copy = (v) => JSON.parse(JSON.stringify(v)); // a snapshot the caller can no longer change

  const cookie = (name) => {
    for (const part of d.cookie ? d.cookie.split(/; */) : []) {
      const eq = part.indexOf("=");
      if (part.slice(0, eq) !== name) continue;
      const v = part.slice(eq + 1);
      try { return decodeURIComponent(v); } catch (e) { return v; }
    }
  };

  const jsonCookie = (name) => {
    try {
      const v = JSON.parse(cookie(name));
      return isObj(v) ? v : undefined;
    } catch (e) { /* absent or not JSON */ }
  };

  // --- Config: our own <script> tag carries the write key; its src tells where the collector is.
  let script = d.currentScript;
  if (!script || !script.getAttribute("data-write-key")) {
    // currentScript is null in some loaders: look the tag up.
    script = [...d.querySelectorAll("script[data-write-key]")].reverse()
      .find((s) => (s.getAttribute("src") || "").includes("df.js")) || script;
  }
  const attr = (n) => (script && script.getAttribute(n)) || undefined;
  const writeKey = attr("data-write-key");
  let base;
  try {
    let host = attr("data-api-host");
    // Segment's apiHost is often written without a scheme.
    if (host && !/^([a-z]+:)?\/\/|^\//i.test(host)) host = "https://" + host;
    const u = new URL(host || attr("src") || "/v1/df.js", location.href);
    base = u.origin + (host ? u.pathname : u.pathname.replace(/(\/v1)?\/df\.js$/, ""));
  } catch (e) {
    base = location.origin;
  }
  base = base.replace(/\/+$/, "");
  if (!writeKey) console.warn("df.js: no data-write-key on the script tag");

  // --- Identity and consent.
  let userId, consentPrefs; // consentPrefs: set by _df.consent(), else read from cookies per event
  const store = (k, v) => {
    try { return v === undefined ? localStorage.getItem(k) || undefined : localStorage.setItem(k, v); } catch (e) { /* blocked */ }
  };
  userId = store("_df_uid");
  // Anonymous id: the collector's _df_aid cookie, else (collector on another site) our localStorage
  // copy, else a new one, minted after the first answer so the collector's cookie wins when it can.
  let aid;
  const anonymousId = () => {
    const fromCookie = cookie("_df_aid");
    if (fromCookie) aid = fromCookie;
    aid = aid || store("_df_aid") || (state === 2 ? uuid() : undefined);
    if (aid && aid !== store("_df_aid")) store("_df_aid", aid);
    return aid;
  };

  const currentConsent = () => {
    if (consentPrefs) return consentPrefs;
    const own = jsonCookie("_df_consent");
    if (own) return own;
    const seg = jsonCookie("tracking-preferences"); // Segment consent manager's cookie
    if (seg && isObj(seg.custom)) return seg.custom;
  };

  // crypto.randomUUID exists only in secure contexts (https, localhost), hence the fallback.
  const uuid = () => crypto.randomUUID ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

  const pageInfo = () => ({
    url: location.href, path: location.pathname, referrer: d.referrer, title: d.title, search: location.search,
  });

  // Everything but anonymousId is fixed when the call is made.
  const build = (type, fields) => {
    const s = w.screen || {};
    const ev = Object.assign({ type }, fields, {
      userId,
      messageId: uuid(),
      timestamp: new Date().toISOString(),
      writeKey,
      context: {
        page: pageInfo(),
        userAgent: navigator.userAgent,
        locale: navigator.language,
        library: { name: "df.js", version: VERSION },
        screen: { width: s.width, height: s.height, density: w.devicePixelRatio },
      },
    });
    const prefs = currentConsent();
    if (prefs) ev.context.consent = { categoryPreferences: prefs };
    return copy(ev); // also drops undefined fields
  };

  // --- Transport. Never rejects. A 5xx, 429 or network error is sent again after 1 s, then 3 s,
  // with the same messageId: delivery's dedup sees one event.
  const RETRIES = 2;
  const beacon = (url, body) => { navigator.sendBeacon(url, new Blob([body], { type: "text/plain" })); };
  const refused = (ev) => {
    const c = ev.context.consent;
    return !!(c && c.categoryPreferences && "advertising" in c.categoryPreferences &&
      c.categoryPreferences.advertising !== true);
  };
  const later = (ms, fn) => new Promise((resolve) => setTimeout(resolve, ms)).then(fn);
  // `first`: called once the first attempt has settled (queued calls wait for no retry).
  const send = (ev, first = noop, tries = 0) => {
    try {
      ev.anonymousId = anonymousId(); // read at send time: the first answer may just have set the cookie
      const fbp = cookie("_fbp"), fbc = cookie("_fbc"); // the site's (Meta's Pixel's or the collector's)
      if (fbp && !ev.context.fbp && !refused(ev)) ev.context.fbp = fbp;
      if (fbc && !ev.context.fbc && !refused(ev)) ev.context.fbc = fbc;
      const body = JSON.stringify(ev);
      const url = base + "/v1/" + ev.type;
      try {
        return fetch(url, {
          method: "POST",
          body,
          keepalive: new Blob([body]).size < 60000, // keepalive bodies share a 64 KB budget
          credentials: "include", // so the collector can set its first-party cookies
          headers: { "Content-Type": "text/plain" }, // a CORS "simple request": no preflight
        }).then((r) => { first(); if (r.status >= 500 || r.status === 429) throw r; })
          .catch((r) => {
            first();
            // A network error while the page goes away: no timer will run again, a beacon still goes.
            if (!(r && r.status) && d.visibilityState === "hidden") return beacon(url, body);
            return tries < RETRIES ? later(1000 * 3 ** tries, () => send(ev, noop, tries + 1)) : undefined;
          });
      } catch (e) { // fetch missing or throwing synchronously
        beacon(url, body);
      }
    } catch (e) { /* never throw into the page */ }
    first();
    return Promise.resolve();
  };

  // The collector sets _df_aid, _fbp and _fbc on its first answer, so the first request of the
  // page goes out alone and later ones wait for it (3 s at most) to share the same anonymousId.
  let state = 0; // 0: nothing sent yet, 1: first request in flight, 2: open
  const waiting = [], pending = new Set();

  const release = () => {
    if (state === 2) return;
    state = 2;
    waiting.splice(0).forEach((go) => go());
  };

  const enqueue = (ev) => {
    let p;
    if (state === 2) {
      p = send(ev);
    } else if (state === 0) {
      state = 1;
      const timer = setTimeout(release, 3000);
      p = send(ev, () => { clearTimeout(timer); release(); });
    } else {
      p = new Promise((resolve) => waiting.push(() => resolve(send(ev))));
    }
    pending.add(p);
    p.then(() => pending.delete(p));
  };

  // Public methods return undefined and swallow every error.
  const safe = (fn) => (...args) => { try { fn(...args); } catch (e) { /* never throw */ } };

  const api = {
    VERSION,
    loaded: true,
    page: safe((name, properties) => {
      if (isObj(name)) [name, properties] = [undefined, name];
      if (typeof name !== "string") name = undefined;
      // Like analytics.js: page defaults first, the caller's properties win.
      enqueue(build("page", { name, properties: Object.assign(pageInfo(), { name }, isObj(properties) && properties) }));
    }),
    track: safe((event, properties) => {
      if (typeof event === "string" && event) {
        enqueue(build("track", { event, properties: isObj(properties) ? properties : {} }));
      }
    }),
    identify: safe((id, traits) => {
      if (isObj(id)) [id, traits] = [undefined, id];
      if ((typeof id === "string" && id) || typeof id === "number") {
        userId = String(id);
        try { localStorage.setItem("_df_uid", userId); } catch (e) { /* storage blocked */ }
      }
      // Traits are personal data: sent to the collector, never stored in the browser.
      enqueue(build("identify", { traits: isObj(traits) ? traits : {} }));
    }),
    consent: safe((prefs) => {
      if (!isObj(prefs)) return;
      consentPrefs = copy(prefs);
      d.cookie = "_df_consent=" + encodeURIComponent(JSON.stringify(consentPrefs)) +
        "; Path=/; Max-Age=31536000; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
    }),
    // Resolves when every request made so far (including queued ones) has settled.
    flush: () => Promise.all([...pending]).then(noop),
  };

  // Replay what the async snippet queued, in order, then take its place.
  if (Array.isArray(prev)) {
    for (const [method, ...args] of prev.filter(Array.isArray)) {
      if (["page", "track", "identify", "consent"].includes(method)) api[method](...args);
    }
  }
  w._df = api;
})();
