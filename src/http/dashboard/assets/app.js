// stowage dashboard: a small single-page app without framework or build step.
// Every API call goes to /dashboard/api/<API path> with the session cookie and
// the page's CSRF token; the server makes it as the signed-in key.
"use strict";
(() => {
  const meta = (n) => document.querySelector(`meta[name="${n}"]`)?.content ?? "";
  const CSRF = meta("csrf-token");
  const ACC = meta("stowage-account");
  const KEY_DISPLAY = meta("stowage-key");

  // ---------- DOM helpers (no innerHTML with data) ----------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v == null) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  const $ = (sel, root = document) => root.querySelector(sel);
  let uid = 0;
  const nextId = (p) => `${p}-${++uid}`;

  function fmtBytes(n) {
    if (n == null) return "—";
    const u = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    let v = Number(n);
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${u[i]}`;
  }
  const fmtDate = (ms) => (ms ? new Date(ms).toLocaleString() : "—");
  const baseName = (p) => p.split("/").filter(Boolean).pop() ?? "/";
  const joinPath = (folder, name) => (folder === "/" ? "" : folder) + "/" + name.replace(/^\/+/, "");
  const encPath = (p) => p.split("/").map(encodeURIComponent).join("/");
  const IMAGE_EXT = /\.(png|jpe?g|gif|webp|avif|bmp|tiff?)$/i;
  const THUMB_PRESET = "thumbnail";
  const THUMB_PARAMS = "w=96&h=96&fit=crop&f=webp"; // not f=auto: AVIF is slow to encode

  // ---------- API ----------
  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || `Request failed (${status}).`);
      this.status = status;
      this.code = e.code || "http_" + status;
      this.suggestion = e.suggestion || "";
    }
  }
  async function call(method, url, body, extra = {}) {
    const headers = { accept: "application/json", ...(extra.headers || {}) };
    if (method !== "GET" && method !== "HEAD") headers["x-csrf-token"] = CSRF;
    let payload;
    if (body !== undefined) { headers["content-type"] = "application/json"; payload = JSON.stringify(body); }
    let res;
    try {
      res = await fetch(url, { method, headers, body: payload, credentials: "same-origin", signal: extra.signal });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new ApiError(0, { error: { message: "The server could not be reached.", suggestion: "Check your connection and try again." } });
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) {
      const err = new ApiError(res.status, json);
      if (err.code === "dashboard_session_required") sessionEnded(err);
      throw err;
    }
    return json;
  }
  const api = (method, path, body, extra) => call(method, "/dashboard/api" + path, body, extra);
  const v2 = (p) => `/v2/accounts/${ACC}${p}`;

  // ---------- feedback ----------
  function errorBox(err) {
    return h("div", { class: "alert", role: "alert" },
      h("strong", { text: err.message || String(err) }),
      err.suggestion ? h("span", { text: err.suggestion }) : null);
  }
  function showError(container, err) {
    container.replaceChildren(errorBox(err));
    container.hidden = false;
  }
  // Called when an action starts: an old error does not outlive a later success.
  function clearError(container) {
    container.replaceChildren();
    container.hidden = true;
  }
  let toastRegion;
  function toast(text) {
    if (!toastRegion) {
      toastRegion = h("div", { class: "toast-region", role: "status", "aria-live": "polite" });
      document.body.append(toastRegion);
    }
    const t = h("div", { class: "toast", text });
    toastRegion.append(t);
    setTimeout(() => t.remove(), 3500);
  }
  function sessionEnded(err) {
    const app = $("#app");
    if (!app || app.dataset.ended) return;
    app.dataset.ended = "1";
    const d = dialog("Session ended", [errorBox(err)], [signInAgain()]);
    d.dataset.keep = "1"; // stays open across navigation
    d.showModal();
  }
  // Reloads this page (same #/page): the sign-in form, then back here.
  const signInAgain = () => h("button", { class: "btn primary", type: "button", onclick: () => location.reload() }, "Sign in again");
  // Whether a file is at `path` (FileDetails answers); a 404 or any other
  // error is "no": the operation that follows reports its own errors.
  async function fileExists(path) {
    try {
      await api("GET", v2(`/files/details?filePath=${encodeURIComponent(path)}`));
      return true;
    } catch {
      return false;
    }
  }
  async function copyText(text, what = "Text") {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = h("textarea", { class: "visually-hidden" });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    toast(`${what} copied to the clipboard.`);
  }

  // ---------- dialogs ----------
  function dialog(title, body, actions, opts = {}) {
    const tid = nextId("dlg-title");
    const d = h("dialog", { "aria-labelledby": tid, class: opts.wide ? "wide" : "" },
      h("div", { class: "d-head" },
        h("h2", { id: tid, text: title }),
        h("button", { class: "btn ghost sm", type: "button", "aria-label": "Close", onclick: () => d.close() }, "✕")),
      h("div", { class: "d-body" }, body),
      actions && actions.length ? h("div", { class: "d-foot" }, actions) : null);
    d.addEventListener("close", () => setTimeout(() => d.remove(), 0));
    document.body.append(d);
    return d;
  }
  function confirmDialog(title, message, confirmLabel) {
    return new Promise((resolve) => {
      let ok = false;
      const yes = h("button", { class: "btn danger solid", type: "button", onclick: () => { ok = true; d.close(); } }, confirmLabel);
      const no = h("button", { class: "btn", type: "button", onclick: () => d.close() }, "Cancel");
      const d = dialog(title, [h("p", { text: message })], [no, yes]);
      d.addEventListener("close", () => resolve(ok));
      d.showModal();
      no.focus();
    });
  }
  function secretDialog(title, intro, label, value, extra = []) {
    const id = nextId("secret");
    const input = h("input", { id, type: "text", readonly: true, value, class: "grow" });
    const d = dialog(title, [
      h("div", { class: "alert warn", role: "note" }, h("strong", { text: intro }),
        h("span", { text: "It is shown only once: copy it now and store it somewhere safe." })),
      ...extra,
      h("div", { class: "field" }, h("label", { for: id, text: label }),
        h("div", { class: "secret-box" }, input,
          h("button", { class: "btn primary", type: "button", onclick: () => copyText(value, label) }, "Copy"))),
    ], [h("button", { class: "btn", type: "button", onclick: () => d.close() }, "Done")]);
    d.showModal();
    input.select();
    return d;
  }

  // ---------- sign-in page ----------
  function initSignIn() {
    const form = $("#signin-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const out = $("#signin-error");
      const btn = form.querySelector("button");
      btn.disabled = true;
      try {
        const res = await fetch("/dashboard/session", {
          method: "POST",
          headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ key: $("#secret-key").value }),
          credentials: "same-origin",
        });
        if (!res.ok) {
          let body = null;
          try { body = await res.json(); } catch { /* not JSON */ }
          throw new ApiError(res.status, body);
        }
        // Back to the page asked for (e.g. /dashboard#/presets), else Files.
        if (location.pathname === "/dashboard") location.reload();
        else location.assign("/dashboard" + location.hash);
      } catch (err) {
        showError(out, err);
        $("#secret-key").focus();
      } finally {
        btn.disabled = false;
      }
    });
  }

  // ---------- app shell ----------
  let ME = null;
  const can = (op) => !ME || ME.capabilities[op];
  const PAGES = [
    ["files", "Files"],
    ["keys", "Keys"],
    ["presets", "Presets"],
    ["webhooks", "Webhooks"],
    ["api", "API"],
    ["account", "Account"],
  ];
  // Pages and hooks, added by the other files (files.js, pages.js, wave3.js…),
  // all loaded after this one and before DOMContentLoaded.
  const EXT = { pages: {} };

  const retryable = (err) => !err.status || err.status >= 500 || err.status === 408 || err.status === 429;

  async function initApp() {
    const app = $("#app");
    if (!app) return;
    try {
      ME = await call("GET", "/dashboard/me");
    } catch (err) {
      app.replaceChildren(h("main", { class: "content" }, errorBox(err), signInAgain()));
      return;
    }
    const nav = h("ul", {}, PAGES.map(([id, label]) =>
      h("li", {}, h("a", { href: `#/${id}`, "data-page": id }, label))));
    const main = h("main", { class: "content", id: "main", tabindex: "-1" });
    const signOut = h("button", { class: "btn sm", type: "button", onclick: doSignOut }, "Sign out");
    const skip = h("a", { class: "skip-link", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } }, "Skip to content");
    app.replaceChildren(skip,
      h("header", { class: "topbar" },
        h("a", { class: "brand", href: "#/files" }, h("img", { src: $("link[rel=icon]").href, alt: "", width: 26, height: 26 }), h("span", {}, "stowage")),
        h("span", { class: `badge ${ME.sandbox ? "sandbox" : "live"}`, title: "Account mode" }, ME.sandbox ? "sandbox" : "live"),
        h("div", { class: "spacer" }),
        h("div", { class: "who" },
          h("span", { class: "hide-sm" }, "Account"), h("code", { text: ACC }),
          h("code", { class: "key-display", title: "Signed-in key", text: KEY_DISPLAY || ME.key.display })),
        signOut),
      h("div", { class: "layout" },
        h("nav", { class: "sidenav", "aria-label": "Dashboard sections" }, nav),
        main));
    window.addEventListener("hashchange", route);
    route();
  }

  async function doSignOut() {
    try {
      await call("DELETE", "/dashboard/session");
    } catch (err) {
      toast(err.message);
      return;
    }
    location.assign("/dashboard");
  }

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, "");
    const [page, q] = raw.split("?");
    return { page: page || "files", params: new URLSearchParams(q || "") };
  }

  // `ev` is the hashchange event: then the page heading takes the focus.
  function route(ev) {
    for (const d of document.querySelectorAll("dialog[open]")) if (!d.dataset.keep) d.close();
    const { page, params } = parseHash();
    for (const a of document.querySelectorAll(".sidenav a")) {
      if (a.dataset.page === page) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const main = $("#main");
    main.replaceChildren();
    const render = EXT.pages[page] || EXT.pages.files;
    render(main, params);
    const label = PAGES.find(([id]) => id === page)?.[1] ?? EXT.titles?.[page] ?? "Files";
    const where = page === "files" && params.get("path") ? ` ${params.get("path")}` : "";
    document.title = `${label}${where} · stowage dashboard`;
    if (ev) main.querySelector("h1")?.focus();
  }

  // `spoken`: said after the title by screen readers only (e.g. " in /photos").
  function pageHead(title, text, spoken) {
    return h("div", { class: "page-head" },
      h("div", {}, h("h1", { tabindex: "-1" }, title, spoken ? h("span", { class: "visually-hidden", text: spoken }) : null),
        text ? h("p", { class: "muted", text }) : null));
  }


  window.stowageDash = Object.assign(EXT, { h, $, call, api, v2, ACC, ApiError, nextId, fmtBytes, fmtDate, joinPath, baseName, encPath,
    IMAGE_EXT, THUMB_PRESET, THUMB_PARAMS, errorBox, showError, clearError, toast, dialog, confirmDialog, secretDialog, copyText, fileExists, pageHead,
    can, retryable, me: () => ME });
  document.addEventListener("DOMContentLoaded", () => { initSignIn(); initApp(); });
})();
