// Tessera page script: optional (pages work without it), never throws.
// 1. Tell the server the visitor's time zone (for the local daypart).
// 2. Only if the body has data-beacon and there is no Global Privacy Control: report
//    the deepest scroll, visible dwell time and clicks in blocks ("Beacon events").
(function () {
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!tz || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(tz)) return;
    var m = document.cookie.match(/(?:^|;\s*)tz=([^;]*)/);
    if (m && m[1] === tz) return;
    document.cookie = "tz=" + tz + "; path=/; max-age=31536000; SameSite=Lax";
  } catch (e) {}
})();

(function () {
  "use strict";
  const safe = (fn) => (...a) => {
    try { return fn(...a); } catch (e) {}
  };
  const start = safe(() => {
    const url = document.body && document.body.dataset.beacon;
    if (!url || navigator.globalPrivacyControl === true) return;
    const page = location.pathname, clicks = [];
    let depth = 0, sentDepth = 0, dwell = 0, sentDwell = 0, since = null;

    // randomUUID needs a secure context (HTTPS); else a UUIDv4 from getRandomValues.
    const uuid = () => crypto.randomUUID ? crypto.randomUUID() : "10000000-1000-4000-8000-100000000000"
      .replace(/[018]/g, (c) => (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

    // Refusals (429, 4xx) are dropped silently; a network failure is retried once as
    // a beacon (event ids make a duplicate harmless).
    const post = (body) => {
      const beacon = safe(() => navigator.sendBeacon(url, new Blob([body], { type: "application/json" })));
      try {
        fetch(url, {
          method: "POST", keepalive: true, credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body,
        }).catch(beacon);
      } catch (e) {
        beacon();
      }
    };
    const send = (events) => {
      for (let i = 0; i < events.length; i += 50) {
        post(JSON.stringify({ events: events.slice(i, i + 50).map((e) => ({ id: uuid(), ...e })) }));
      }
    };

    const measure = () => {
      const h = document.documentElement.scrollHeight;
      const pct = h <= innerHeight ? 100 : Math.round((100 * (scrollY + innerHeight)) / h);
      depth = Math.max(depth, Math.min(100, pct));
    };
    const pause = () => {
      if (since !== null) dwell += performance.now() - since;
      since = null;
    };
    const resume = () => {
      if (since === null && document.visibilityState === "visible") since = performance.now();
    };

    // On leaving: a deeper scroll, visible time since the last send, queued clicks.
    const flush = safe(() => {
      pause();
      measure();
      const events = clicks.splice(0), ms = Math.round(dwell - sentDwell);
      if (depth > sentDepth) events.push({ type: "scroll", page, depth });
      sentDepth = depth;
      if (ms >= 500) {
        events.push({ type: "dwell", page, ms });
        sentDwell += ms;
      }
      if (events.length) send(events);
    });

    addEventListener("scroll", safe(measure), { passive: true });

    document.addEventListener("click", safe((ev) => {
      const el = ev.target.closest("a[href], button"), block = el && el.closest("[data-block]");
      if (!block || el.closest("[data-why]")) return; // not "Why am I seeing this?"
      const t = el.closest("[data-target]");
      const { block: name, variant } = block.dataset;
      clicks.push({ type: "click", page, block: name, variant, target: (t && t.dataset.target) || "link" });
    }), true);

    document.addEventListener("visibilitychange", safe(() =>
      document.visibilityState === "visible" ? resume() : flush()));
    addEventListener("pagehide", flush);
    addEventListener("pageshow", safe((ev) => ev.persisted && resume())); // back/forward cache
    setInterval(safe(() => clicks.length && send(clicks.splice(0))), 15000);
    measure();
    resume();
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
