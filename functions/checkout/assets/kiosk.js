/*! kiosk.js: the overlay checkout. Add once to a page:
 *    <script src="https://API/kiosk.js" defer></script>
 *  then sell with plain links, which stay the hosted buy page without this script:
 *    <a href="https://API/buy/PRODUCT_ID" data-kiosk>Buy</a>
 *  and show live prices with <span data-kiosk-price="PRODUCT_ID">¥9.00</span>.
 *  A/B tests (registered with `kiosk test add headline --variants a,b`): mark each
 *  alternative <h2 data-kiosk-test="headline" data-kiosk-variant="a" hidden>; the
 *  visitor's variant is shown (the first if the answer takes longer than
 *  data-kiosk-wait="800" ms on the script tag, 100 to 5000). The shop's signed token of
 *  the visit (the source it counted under, the visitor, the variants) rides along on the
 *  buy links, so the order counts under the same source and records the variants shown.
 *  Events on the clicked link (they bubble): kiosk:open, kiosk:payment-started
 *  (detail.product), kiosk:close. One page view is sent to this API (the products on
 *  the page, its path, the referrer's host, utm_source, its tests); no cookies, no
 *  storage, nothing else read from the page; messages only from this API's origin. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.URL || !window.HTMLDialogElement) return;
  var api = new URL(me.src).origin;
  var wait = Math.min(5000, Math.max(100, parseInt(me.getAttribute("data-kiosk-wait"), 10) || 800));
  var current = null;
  /* The shop's signed token of this visit (none before its answer, or without one), and
     whether the page shows the token's variants (not when the answer came late). */
  var visitToken = null;
  var variantsShown = false;

  function css(el, style) {
    for (var k in style) el.style[k] = style[k];
    return el;
  }

  function tell(link, name, detail) {
    link.dispatchEvent(new CustomEvent("kiosk:" + name, { bubbles: true, detail: detail || {} }));
  }

  /* The buy link `el` is in, if it is one of this API's buy pages. */
  function buyLink(el) {
    var a = el && el.closest ? el.closest("a[data-kiosk]") : null;
    if (!a || !a.href) return null;
    var u = new URL(a.href);
    return u.origin === api && /^\/buy\/[a-z0-9][a-z0-9-]{0,63}$/.test(u.pathname) ? a : null;
  }

  /* The page's A/B tests: name -> its variants in page order. */
  function pageTests() {
    var tests = {}, order = [];
    var els = document.querySelectorAll("[data-kiosk-test][data-kiosk-variant]");
    for (var i = 0; i < els.length; i++) {
      var t = els[i].getAttribute("data-kiosk-test"), v = els[i].getAttribute("data-kiosk-variant");
      if (!/^[a-z0-9-]{1,32}$/.test(t) || !/^[a-z0-9-]{1,32}$/.test(v)) continue;
      if (!tests[t]) { tests[t] = []; order.push(t); }
      if (tests[t].indexOf(v) < 0) tests[t].push(v);
    }
    return order.slice(0, 5).map(function (t) { return { name: t, variants: tests[t].slice(0, 4) }; });
  }
  var tests = pageTests();

  /* Show each test's chosen variant (its first when there is no answer); true when this
     call chose what the page shows. */
  var shown = false;
  function show(variants) {
    if (shown) return false;
    shown = true;
    /* Whether the shop's answer came in time (else every test shows its first variant). */
    document.documentElement.setAttribute("data-kiosk-tests", variants ? "assigned" : "default");
    tests.forEach(function (t) {
      var chosen = (variants && variants[t.name]) || t.variants[0];
      var els = document.querySelectorAll("[data-kiosk-test=\"" + t.name + "\"]");
      for (var i = 0; i < els.length; i++) {
        els[i].hidden = els[i].getAttribute("data-kiosk-variant") !== chosen;
      }
    });
    return true;
  }

  /* The visit's token on every buy link (plain links, a new tab, no overlay, carry it
     too), with vn=1 when the page did not show its variants. */
  function carry(token, inTime) {
    visitToken = token;
    variantsShown = inTime;
    var links = document.querySelectorAll("a[data-kiosk]");
    for (var l = 0; l < links.length; l++) {
      if (!buyLink(links[l])) continue;
      var u = new URL(links[l].href);
      u.searchParams.set("vt", token);
      if (inTime) u.searchParams.delete("vn"); else u.searchParams.set("vn", "1");
      links[l].href = u.href;
    }
  }

  /* One page view: to this API only, never with cookies. */
  function pageView() {
    var ids = {};
    var links = document.querySelectorAll("a[data-kiosk]");
    for (var i = 0; i < links.length; i++) {
      if (buyLink(links[i])) ids[new URL(links[i].href).pathname.slice(5)] = 1;
    }
    var prices = document.querySelectorAll("[data-kiosk-price]");
    for (var j = 0; j < prices.length; j++) {
      var p = prices[j].getAttribute("data-kiosk-price");
      if (/^[a-z0-9][a-z0-9-]{0,63}$/.test(p)) ids[p] = 1;
    }
    var products = Object.keys(ids).slice(0, 10);
    if (!products.length) return show(null);
    var ref = "";
    try { ref = document.referrer ? new URL(document.referrer).host : ""; } catch (e) { ref = ""; }
    var body = JSON.stringify({
      products: products,
      path: location.pathname.slice(0, 200),
      referrer: ref && ref !== location.host ? ref : null,
      utm_source: new URLSearchParams(location.search).get("utm_source"),
      tests: tests
    });
    /* A CORS-mode fetch carries the page's real Origin whatever its Referrer-Policy
       (a no-cors request, like sendBeacon's, may carry "null" under no-referrer,
       which the shop refuses); sendBeacon only where fetch cannot keep a request
       alive. */
    if (tests.length) setTimeout(function () { show(null); }, wait);
    else show(null);
    var sent;
    try {
      sent = fetch(api + "/t", { method: "POST", body: body, mode: "cors", credentials: "omit", keepalive: true });
    } catch (e) {
      if (navigator.sendBeacon) navigator.sendBeacon(api + "/t", body);
      return;
    }
    sent
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (a) {
        var inTime = tests.length ? show(a && a.variants) && !!(a && a.variants) : true;
        if (a && typeof a.token === "string") carry(a.token, inTime);
      })
      .catch(function () { show(null); });
  }

  function open(link) {
    var url = new URL(link.href);
    url.searchParams.set("embed", location.origin);
    if (visitToken) {
      url.searchParams.set("vt", visitToken);
      if (!variantsShown) url.searchParams.set("vn", "1");
    }
    var small = window.matchMedia("(max-width: 480px)").matches;
    var root = document.documentElement;
    var overflow = root.style.overflow;

    var dialog = css(document.createElement("dialog"), {
      position: "fixed", inset: "0", width: "100%", height: "100%", maxWidth: "100%",
      maxHeight: "100%", margin: "0", padding: "0", border: "0", overflow: "hidden",
      background: "rgba(15,20,25,.6)", display: "flex", alignItems: "center",
      justifyContent: "center"
    });
    dialog.setAttribute("aria-label", "Checkout");
    var panel = css(document.createElement("div"), {
      position: "relative", background: "#fff", overflow: "hidden",
      width: small ? "100%" : "min(32rem, calc(100% - 2rem))",
      height: small ? "100%" : "auto",
      borderRadius: small ? "0" : "12px", boxShadow: "0 12px 40px rgba(0,0,0,.35)"
    });
    var frame = css(document.createElement("iframe"), {
      display: "block", width: "100%", border: "0",
      height: small ? "100%" : "26rem"
    });
    frame.title = "Checkout: " + (link.textContent || "").trim().slice(0, 80);
    frame.src = url.href;
    var close = css(document.createElement("button"), {
      position: "absolute", top: ".5rem", right: ".5rem", width: "2.5rem", height: "2.5rem",
      border: "0", borderRadius: "50%", background: "#f6f8fa", color: "#1f2328",
      font: "1.5rem/1 system-ui,sans-serif", cursor: "pointer"
    });
    close.type = "button";
    close.setAttribute("aria-label", "Close checkout");
    close.textContent = "\u00d7";
    panel.appendChild(frame);
    panel.appendChild(close);
    dialog.appendChild(panel);

    /* The buy page says "ready" as it loads. A page that cannot show in the frame (an
       origin the shop does not allow to frame it: the browser blocks it, and the frame
       still fires "load") never does: then the link opens as the hosted buy page, a
       moment after the frame's load, well within 2 s. A network that never loads the
       frame at all falls back after 10 s. */
    var ready = false;
    function fallBack() {
      if (ready || current !== dialog) return;
      shut(false);
      location.href = link.href;
    }
    var fallback = setTimeout(fallBack, 10000);
    frame.addEventListener("load", function () {
      /* The frame's own first, empty document is not the buy page; a cross-origin
         document (the buy page, or the browser's page for a blocked one) cannot be read. */
      try { if (frame.contentWindow.location.href === "about:blank") return; } catch (e) {}
      if (!ready) setTimeout(fallBack, 300);
    });

    function onMessage(e) {
      if (e.origin !== api || e.source !== frame.contentWindow || !e.data) return;
      var m = e.data;
      if (m.kiosk === "ready") {
        ready = true;
        clearTimeout(fallback);
        frame.focus();
        frame.contentWindow.postMessage({ kiosk: "focus" }, api);
      } else if (m.kiosk === "resize" && !small && m.height > 0) {
        frame.style.height = Math.min(m.height, window.innerHeight - 64) + "px";
      } else if (m.kiosk === "close") {
        shut(true);
      } else if (m.kiosk === "payment-started") {
        tell(link, "payment-started", { product: String(m.product || "") });
      }
    }

    function shut(refocus) {
      if (current !== dialog) return;
      current = null;
      clearTimeout(fallback);
      window.removeEventListener("message", onMessage);
      if (dialog.open) dialog.close();
      dialog.remove();
      root.style.overflow = overflow;
      if (refocus) link.focus();
      tell(link, "close");
    }

    window.addEventListener("message", onMessage);
    close.addEventListener("click", function () { shut(true); });
    dialog.addEventListener("cancel", function (e) { e.preventDefault(); shut(true); });
    dialog.addEventListener("click", function (e) { if (e.target === dialog) shut(true); });
    current = dialog;
    document.body.appendChild(dialog);
    root.style.overflow = "hidden";
    dialog.showModal();
    tell(link, "open");
  }

  document.addEventListener("click", function (e) {
    if (current || e.defaultPrevented || e.button !== 0) return;
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    var link = buyLink(e.target);
    if (!link) return;
    e.preventDefault();
    open(link);
  });

  /* Live prices: one small public request per product shown. */
  function prices() {
    var wanted = {};
    var els = document.querySelectorAll("[data-kiosk-price]");
    for (var i = 0; i < els.length; i++) {
      var id = els[i].getAttribute("data-kiosk-price");
      if (/^[a-z0-9][a-z0-9-]{0,63}$/.test(id)) (wanted[id] = wanted[id] || []).push(els[i]);
    }
    Object.keys(wanted).forEach(function (id) {
      fetch(api + "/products/" + id, { credentials: "omit", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p || typeof p.display_price !== "string") return;
          wanted[id].forEach(function (el) { el.textContent = p.display_price; });
        })
        .catch(function () {});
    });
  }
  if (window.fetch) {
    prices();
    pageView();
  } else {
    show(null);
  }
})();
