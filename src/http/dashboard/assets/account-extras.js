// stowage dashboard, Account page additions: activity charts of
// `GET …/usage/daily` (issue #30; inline SVG, no library) and the upload hook
// (SPEC §11, issue #26). wave3.js puts every `accountCards` entry after the
// usage bars.
"use strict";
(() => {
  const D = window.stowageDash;
  if (!D) return;
  const { h, api, v2, nextId, fmtBytes, fmtDate, showError, clearError, toast, confirmDialog, secretDialog } = D;
  const SVG = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, v);
    for (const kid of kids.flat()) if (kid != null) el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    return el;
  }
  const num = (n) => Number(n).toLocaleString();
  const METRICS = [
    ["uploads", "Uploads", num, "uploads"],
    ["bytesIn", "Bytes uploaded", fmtBytes, "uploaded"],
    ["bytesOut", "Bytes downloaded", fmtBytes, "downloaded"],
  ];
  const shortDay = (d) => new Date(`${d}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
  // The axis' top: an even number of units (so the middle tick is whole too),
  // units being 1 for counts and the largest power of 1024 ≤ max for bytes.
  function niceMax(max, bytes) {
    let unit = 1;
    if (bytes) while (unit * 1024 <= max) unit *= 1024;
    const m = Math.max(max / unit, 1);
    const p = 10 ** Math.floor(Math.log10(m));
    return Math.max(2, [1, 2, 4, 6, 8, 10].map((c) => c * p).find((v) => v >= m)) * unit;
  }

  // One bar chart, `width` px wide (the viewBox is in pixels: crisp text at any size).
  function barChart(items, [key, label, fmt, verb], width) {
    const H = 170, L = 52, R = 8, T = 10, B = 24;
    const plotW = Math.max(60, width - L - R), plotH = H - T - B;
    const values = items.map((it) => Number(it[key]) || 0);
    const top = niceMax(Math.max(...values, 0), fmt === fmtBytes);
    const total = values.reduce((a, b) => a + b, 0);
    const step = plotW / Math.max(1, items.length);
    const bw = Math.max(1, step * 0.7);
    const y = (v) => T + plotH - (v / top) * plotH;
    const svg = s("svg", { class: "chart", role: "img", width, height: H, viewBox: `0 0 ${width} ${H}`, "data-metric": key, "data-top": top,
      "aria-label": `${label} per day, ${items.length} days: ${fmt(total)} in all${total ? `, most on ${items[values.indexOf(Math.max(...values))].date} (${fmt(Math.max(...values))})` : ""}` });
    svg.append(s("title", {}, `${label} per day`));
    for (const v of [0, top / 2, top]) {
      svg.append(s("line", { class: "grid", x1: L, x2: L + plotW, y1: y(v), y2: y(v) }),
        s("text", { class: "axis", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt === num ? num(Math.round(v)) : fmt(v)));
    }
    items.forEach((it, i) => {
      const x = L + i * step;
      const v = values[i];
      svg.append(s("g", { class: "day", "data-date": it.date, "data-value": v },
        s("title", {}, `${it.date}: ${fmt(v)} ${verb}`),
        s("rect", { class: "hit", x, y: T, width: step, height: plotH }),
        s("rect", { class: "bar", x: x + (step - bw) / 2, y: y(v), width: bw, height: Math.max(0, T + plotH - y(v)) })));
    });
    const labels = items.length > 1 ? [0, Math.floor((items.length - 1) / 2), items.length - 1] : [0];
    for (const i of labels) {
      if (!items[i]) continue;
      const anchor = i === 0 ? "start" : i === items.length - 1 ? "end" : "middle";
      const x = anchor === "start" ? L : anchor === "end" ? L + plotW : L + (i + 0.5) * step;
      svg.append(s("text", { class: "axis", x, y: H - 6, "text-anchor": anchor }, shortDay(items[i].date)));
    }
    if (!total) svg.append(s("text", { class: "none", x: L + plotW / 2, y: T + plotH / 2, "text-anchor": "middle" }, `No ${label.toLowerCase()} in these days`));
    return svg;
  }

  function chartBox(items, metric) {
    const total = items.reduce((a, it) => a + (Number(it[metric[0]]) || 0), 0);
    const box = h("figure", { class: "chart-box" },
      h("figcaption", {}, h("strong", { text: metric[1] }), h("span", { class: "muted small", text: ` ${metric[2](total)} in all` })));
    let last = 0;
    const draw = () => {
      const w = Math.floor(box.clientWidth);
      if (!w || w === last) return;
      last = w;
      box.querySelector("svg")?.remove();
      box.append(barChart(items, metric, w));
    };
    new ResizeObserver(() => requestAnimationFrame(draw)).observe(box);
    return box;
  }

  function usageChartsCard() {
    const selId = nextId("days");
    const days = h("select", { id: selId }, [7, 30, 90].map((d) => h("option", { value: d, selected: d === 30 }, `Last ${d} days`)));
    const body = h("div", { class: "body" });
    const card = h("section", { class: "card activity", "aria-label": "Activity per day" },
      h("header", {}, h("h2", {}, "Activity per day"),
        h("div", { class: "row" }, h("label", { for: selId, class: "visually-hidden" }, "Period"), days)),
      body);
    const load = async () => {
      body.replaceChildren(h("p", { class: "muted", role: "status" }, "Loading…"));
      try {
        const items = (await api("GET", v2(`/usage/daily?days=${days.value}`))).items || [];
        const any = items.some((it) => METRICS.some(([k]) => Number(it[k]) > 0));
        body.replaceChildren(any
          ? h("div", { class: "charts", "data-days": items.length }, METRICS.map((m) => chartBox(items, m)))
          : h("div", { class: "empty chart-empty", "data-days": items.length },
            h("p", {}, h("strong", {}, `No uploads or downloads in the last ${days.value} days.`)),
            h("p", { class: "small" }, "Activity shows here a few seconds after it happens (UTC days).")));
        body.append(h("p", { class: "muted small", text: "Counted per UTC day on every node; hover a bar for its day's figure." }));
      } catch (err) { showError(body, err); }
    };
    days.addEventListener("change", load);
    load();
    return card;
  }

  // ---------- the upload hook ----------
  function hookCard() {
    const urlId = nextId("hookurl");
    const errs = h("div", { class: "errs", hidden: true });
    const state = h("div", { class: "hook-state" }, h("p", { class: "muted", role: "status" }, "Loading…"));
    const result = h("div", { class: "hook-result", role: "status", "aria-live": "polite" });
    const input = h("input", { id: urlId, type: "url", required: true, placeholder: "https://api.example.com/stowage/authorize", spellcheck: "false" });
    const admin = D.can("admin");
    const form = h("form", { class: "hook-form" },
      h("div", { class: "field" }, h("label", { for: urlId }, "Hook URL"), input,
        h("span", { class: "hint" }, "stowage POSTs a signed upload.authorize event here before each upload: 2xx allows it, 4xx refuses it, no answer in 5 s refuses it too (503). Saving makes a new signing secret.")),
      h("div", { class: "row end" }, h("button", { class: "btn primary", type: "submit", disabled: !admin }, "Save hook")));
    const card = h("section", { class: "card hook", "aria-label": "Upload hook" },
      h("header", {}, h("h2", {}, "Upload hook"), admin ? null : h("span", { class: "muted small" }, "Needs a key with admin")),
      h("div", { class: "body" }, errs, state, result, form));
    const act = async (fn) => {
      clearError(errs);
      result.replaceChildren();
      try { await fn(); } catch (err) { showError(errs, err); }
    };
    const show = async () => {
      let hook = null;
      try { hook = await api("GET", v2("/upload_hook")); } catch (err) {
        if (err.status !== 404) { state.replaceChildren(); showError(errs, err); return; }
      }
      card.dataset.hook = hook ? hook.url : "";
      if (!hook) { state.replaceChildren(h("p", { class: "muted" }, "No upload hook: every upload is decided by keys and limits alone.")); return; }
      input.value = hook.url;
      state.replaceChildren(h("dl", { class: "props" },
        h("dt", {}, "Current URL"), h("dd", {}, h("code", { class: "hook-url", text: hook.url })),
        h("dt", {}, "Set"), h("dd", {}, fmtDate(hook.createdAt))),
      h("div", { class: "row" },
        h("button", { class: "btn", type: "button", disabled: !admin, onclick: () => act(test) }, "Test hook"),
        h("button", { class: "btn danger", type: "button", disabled: !admin, onclick: () => act(remove) }, "Remove hook")));
    };
    const test = async () => {
      const r = await api("POST", v2("/upload_hook/test"));
      const text = { allowed: "The hook allowed the test upload.", rejected: `The hook refused the test upload (HTTP ${r.status}): ${r.message}`, unavailable: `The hook did not answer usably: ${r.message}` }[r.outcome] || r.outcome;
      result.replaceChildren(h("div", { class: `alert ${r.outcome === "allowed" ? "info" : "warn"}`, "data-outcome": r.outcome }, h("strong", { text })));
    };
    const remove = async () => {
      if (!(await confirmDialog("Remove the upload hook?", "Uploads will no longer be checked by your backend.", "Remove hook"))) return;
      await api("DELETE", v2("/upload_hook"));
      input.value = "";
      toast("Upload hook removed.");
      await show();
    };
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      act(async () => {
        const r = await api("PUT", v2("/upload_hook"), { url: input.value.trim() });
        secretDialog("Upload hook set", `Calls to ${r.url} are signed with this secret (Standard Webhooks).`, "Signing secret", r.secret);
        await show();
      });
    });
    if (admin) show(); else state.replaceChildren();
    return card;
  }

  D.accountCards = [...(D.accountCards || []), usageChartsCard, hookCard];
})();
