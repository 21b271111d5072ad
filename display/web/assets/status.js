// The technician's read-only lane status: renders /status.json as tables every 2 s.
"use strict";
(function () {
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function value(v) {
    if (v === null || v === undefined) return el("span", "—");
    if (typeof v === "boolean") return el("span", v ? "yes" : "no", v ? "good" : "bad");
    if (Array.isArray(v)) {
      if (v.length === 0) return el("span", "none");
      if (typeof v[0] === "object" && v[0] !== null) return rows(v);
      return el("span", v.join(", "));
    }
    if (typeof v === "object") return tree(v);
    return el("span", String(v));
  }
  function tree(o) {
    const t = el("table");
    for (const k of Object.keys(o)) {
      const tr = el("tr");
      tr.appendChild(el("th", k));
      const td = el("td");
      td.appendChild(value(o[k]));
      tr.appendChild(td);
      t.appendChild(tr);
    }
    return t;
  }
  function rows(list) {
    const keys = [];
    for (const r of list) for (const k of Object.keys(r || {})) if (!keys.includes(k)) keys.push(k);
    const t = el("table"), h = el("tr");
    for (const k of keys) h.appendChild(el("th", k));
    t.appendChild(h);
    for (const r of list) {
      const tr = el("tr");
      for (const k of keys) { const td = el("td"); td.appendChild(value((r || {})[k])); tr.appendChild(td); }
      t.appendChild(tr);
    }
    return t;
  }
  function fill(id, node) { const e = document.getElementById(id); e.textContent = ""; e.appendChild(node); }
  async function refresh() {
    try {
      const r = await fetch("/status.json", { cache: "no-store" });
      const s = await r.json();
      const probs = document.getElementById("problems");
      probs.textContent = "";
      for (const p of s.problems || []) probs.appendChild(el("div", p, "problem"));
      fill("display", tree(s.display));
      fill("lane", value(s.lane));
      fill("recent", value(s.recent_screens || []));
      document.getElementById("updated").textContent = "updated " + new Date(s.time).toLocaleTimeString();
    } catch (e) {
      document.getElementById("updated").textContent = "cannot reach gated: " + e;
    }
  }
  refresh();
  setInterval(refresh, 2000);
})();
