// The lane display: renders the state the daemon pushes over server-sent events. EventSource
// reconnects by itself (the stream says retry: 1000); while the daemon is unreachable for more
// than a few seconds the page shows "lane closed" rather than a stale "please proceed".
"use strict";
(function () {
  const body = document.body;
  const closed = JSON.parse(body.dataset.closed);
  const build = JSON.parse(body.dataset.initial).build;
  const fingers = ["index", "thumb", "index", "middle", "ring", "little"];
  let rotateTimer = null, offlineTimer = null, turn = 0, current = null;
  window.__shown = []; // {seq, ms}: Update to the frame showing it (for the latency benchmark)

  function setPanel(el, p) {
    if (!p) { el.hidden = true; return; }
    el.hidden = false;
    el.lang = p.lang; el.dir = p.dir || "ltr";
    el.querySelector(".title").textContent = p.title;
    el.querySelector(".detail").textContent = p.detail || "";
    el.querySelector(".body").textContent = p.body;
  }

  function showOther(p) {
    const others = p.others || [];
    const other = others.length ? others[turn % others.length] : null;
    setPanel(document.getElementById("other"), other);
    const nav = document.getElementById("langs");
    nav.textContent = "";
    if (others.length > 1) {
      for (const o of others) {
        const s = document.createElement("span");
        s.lang = o.lang; s.textContent = o.name;
        if (o === other) s.className = "on";
        nav.appendChild(s);
      }
    }
  }

  function render(p) {
    current = p;
    body.className = "screen-" + p.screen;
    body.dataset.screen = p.screen;
    body.dataset.seq = p.seq;
    body.dataset.lang = p.lang || "";
    setPanel(document.getElementById("home"), p.home);
    // hand: finger 1-5 right, 6-10 left (ISO/IEC 19794-2 positions), unknown lights the right index
    const f = p.finger || 0;
    const left = f >= 6;
    const name = fingers[f === 0 ? 0 : (left ? f - 5 : f)];
    document.getElementById("hand").classList.toggle("left", left);
    document.getElementById("hand-label").textContent = left ? "L 左" : "R 右";
    for (const g of document.querySelectorAll("#hand .finger")) g.classList.toggle("lit", g.dataset.finger === name);
    const arrow = document.getElementById("arrow");
    arrow.classList.toggle("left", p.arrow === "left");
    arrow.classList.toggle("right", p.arrow === "right");
    clearInterval(rotateTimer); rotateTimer = null;
    if (!p.lang) {
      if ((p.others || []).length > 1) {
        rotateTimer = setInterval(function () { turn++; showOther(current); }, p.rotate_ms || 3000);
      }
    } else {
      turn = 0;
    }
    showOther(p);
    if (p.seq) {
      const dom = performance.timeOrigin + performance.now() - p.at;
      requestAnimationFrame(function () {
        window.__shown.push({ seq: p.seq, ms: performance.timeOrigin + performance.now() - p.at, dom: dom });
        if (window.__shown.length > 5000) window.__shown.shift();
        body.dataset.shownSeq = p.seq;
      });
    }
  }

  render(JSON.parse(body.dataset.initial));

  const es = new EventSource("/events");
  es.addEventListener("state", function (e) {
    clearTimeout(offlineTimer); offlineTimer = null;
    document.getElementById("offline").hidden = true;
    body.dataset.offline = "";
    const p = JSON.parse(e.data);
    if (p.build && build && p.build !== build) { location.reload(); return; } // gated upgraded
    render(p);
  });
  es.addEventListener("open", function () {
    body.dataset.connected = "1";
    clearTimeout(offlineTimer); offlineTimer = null;
    document.getElementById("offline").hidden = true;
  });
  es.addEventListener("error", function () {
    body.dataset.connected = "";
    // EventSource retries by itself; a daemon restart takes a second or two. Longer: lane closed.
    if (es.readyState === EventSource.CLOSED) setTimeout(function () { location.reload(); }, 2000);
    if (offlineTimer === null) {
      offlineTimer = setTimeout(function () {
        document.getElementById("offline").hidden = false;
        body.dataset.offline = "1";
        render(Object.assign({}, closed, { seq: 0 }));
      }, 3000);
    }
  });
})();
