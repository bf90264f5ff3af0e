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
  const THUMB_PARAMS = "w=96&h=96&fit=crop";

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
  // Pages and hooks added by wave3.js (loaded after this file, before DOMContentLoaded).
  const EXT = { pages: {} };

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
    const render = { files: pageFiles, keys: pageKeys, presets: pagePresets, account: pageAccount, ...EXT.pages }[page] || pageFiles;
    render(main, params);
    const label = PAGES.find(([id]) => id === page)?.[1] ?? "Files";
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

  // ---------- Files ----------
  const uploads = []; // upload queue entries (kept across navigation)
  let uploadList = null;
  const itemPath = (it) => it.folderPath || it.filePath;
  // The listing's order: by path, a folder before a file of the same path.
  const byListing = (a, b) => (itemPath(a) < itemPath(b) ? -1 : itemPath(a) > itemPath(b) ? 1 : a.type === "Folder" ? -1 : 1);
  const retryable = (err) => !err.status || err.status >= 500 || err.status === 408 || err.status === 429;
  const SCAN_LIMIT = 1000; // names per request while the filter searches the folder
  const SCAN_PAGES = 10; // requests per round; "Search further" continues

  function crumbsOf(folder) {
    const parts = folder.split("/").filter(Boolean);
    const ol = h("ol", {}, h("li", {}, parts.length ? h("a", { href: "#/files?path=/" }, ACC) : h("span", { "aria-current": "page", text: ACC })));
    parts.forEach((p, i) => {
      const path = "/" + parts.slice(0, i + 1).join("/");
      ol.append(h("li", {}, i === parts.length - 1
        ? h("span", { "aria-current": "page", text: p })
        : h("a", { href: `#/files?path=${encodeURIComponent(path)}` }, p)));
    });
    return h("nav", { class: "breadcrumbs", "aria-label": "Breadcrumb" }, ol);
  }

  function icon(kind) {
    const svg = kind === "folder"
      ? "data:image/svg+xml," + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 36"><rect width="36" height="36" rx="6" fill="#e8f0fc"/><path d="M8 12a2 2 0 0 1 2-2h5l2 2h9a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H10a2 2 0 0 1-2-2z" fill="#5b8fd8"/></svg>')
      : "data:image/svg+xml," + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 36"><rect width="36" height="36" rx="6" fill="#eef1f5"/><path d="M12 8h8l6 6v14a1 1 0 0 1-1 1H12a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1z" fill="#fff" stroke="#9aa5b4"/><path d="M20 8v6h6" fill="none" stroke="#9aa5b4"/></svg>');
    return h("img", { class: "thumb", src: svg, alt: "" });
  }
  // Thumbnails come from the account's preset named "thumbnail" (SPEC §10);
  // without one (404), from /image with fixed parameters; else the file icon.
  function thumb(path) {
    if (!IMAGE_EXT.test(path)) return icon("file");
    const viaPreset = `/dashboard/api/${ACC}/${THUMB_PRESET}${encPath(path)}`;
    const viaImage = `/dashboard/api/${ACC}/image${encPath(path)}?${THUMB_PARAMS}`;
    const img = h("img", { class: "thumb", alt: "", loading: "lazy", src: viaPreset });
    const onError = () => {
      if (img.getAttribute("src") === viaPreset) { img.src = viaImage; return; }
      img.removeEventListener("error", onError);
      img.replaceWith(icon("file"));
    };
    img.addEventListener("error", onError);
    return img;
  }

  function pageFiles(main, params) {
    let folder = params.get("path") || "/";
    if (!folder.startsWith("/")) folder = "/" + folder;
    if (folder.length > 1) folder = folder.replace(/\/+$/, "");
    const state = { folder, items: [], cursor: null, complete: false, error: null, selected: new Set() };
    // The filter's search through the whole folder, when not all rows are loaded.
    let search = { q: "" };

    const errors = h("div", { hidden: true });
    const filterId = nextId("filter");
    const filter = h("input", { id: filterId, type: "search", placeholder: "Filter by name prefix", autocomplete: "off", spellcheck: "false" });
    const uploadInputId = nextId("upload");
    const canCreate = can("create");
    const fileInput = h("input", { id: uploadInputId, type: "file", multiple: true, disabled: !canCreate });
    const uploadBtn = h("label", { class: `btn primary upload-label${canCreate ? "" : " disabled"}`, for: uploadInputId, "aria-disabled": canCreate ? null : "true", title: canCreate ? null : "This key cannot upload files" }, "Upload files", fileInput);
    const newFolderBtn = h("button", { class: "btn", type: "button", disabled: !can("folders"), onclick: () => createFolder(folder, reload) }, "New folder");
    const visBtn = h("button", { class: "btn", type: "button", onclick: () => folderSettings(folder) }, "Visibility");
    const bulkBtn = h("button", { class: "btn danger", type: "button", disabled: true, onclick: bulkDelete }, "Delete selected");
    const tbody = h("tbody");
    const selectAll = h("input", { type: "checkbox", "aria-label": "Select all files", disabled: true, onchange: (e) => {
      const on = e.target.checked;
      for (const cb of tbody.querySelectorAll("input[data-file]")) { cb.checked = on; toggle(cb.dataset.file, on); }
    } });
    const table = h("table", {},
      h("caption", { class: "visually-hidden", text: `Contents of ${folder}` }),
      h("thead", {}, h("tr", {},
        h("th", { class: "col-check", scope: "col" }, selectAll),
        h("th", { class: "col-thumb", scope: "col" }, h("span", { class: "visually-hidden" }, "Preview")),
        h("th", { scope: "col" }, "Name"),
        h("th", { class: "num hide-sm", scope: "col" }, "Size"),
        h("th", { class: "hide-sm", scope: "col" }, "Modified"),
        h("th", { class: "num", scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      tbody);
    const empty = h("div", { class: "empty", hidden: true });
    const status = h("p", { class: "muted small scan-status", role: "status" });
    const more = h("button", { class: "btn", type: "button", onclick: onMore }, "Load more");
    const pager = h("div", { class: "pager", hidden: true }, status, more);
    uploadList = h("ul", { class: "uploads", "aria-label": "Uploads" });
    const uploadCard = h("section", { class: "card", "aria-labelledby": "uploads-title", hidden: uploads.length === 0 },
      h("header", {}, h("h2", { id: "uploads-title" }, "Uploads"),
        h("button", { class: "btn sm ghost", type: "button", onclick: () => {
          for (const u of [...uploads]) if (u.state !== "uploading") { uploads.splice(uploads.indexOf(u), 1); u.li.remove(); }
          if (!uploads.length) uploadCard.hidden = true;
        } }, "Clear finished")),
      uploadList);
    for (const u of uploads) uploadList.append(u.li);

    const panel = h("section", { class: "card dropzone", "aria-label": "Folder contents" },
      h("div", { class: "toolbar", role: "toolbar", "aria-label": "File actions" },
        h("div", { class: "filter" }, h("label", { for: filterId, class: "visually-hidden" }, "Filter by name prefix"), filter),
        uploadBtn, EXT.fromUrl ? EXT.fromUrl({ folder, canCreate, card: uploadCard, reload }) : null, newFolderBtn, visBtn, bulkBtn),
      table, empty, pager,
      h("div", { class: "drophint" }, canCreate ? "Drag and drop files or whole folders here to upload them into this folder." : "This key cannot upload files."));

    main.append(
      pageHead("Files", null, folder === "/" ? null : ` in ${folder}`),
      crumbsOf(folder), errors, uploadCard, panel);

    function toggle(path, on) {
      if (on) state.selected.add(path); else state.selected.delete(path);
      bulkBtn.disabled = state.selected.size === 0 || !can("delete");
      bulkBtn.textContent = state.selected.size ? `Delete selected (${state.selected.size})` : "Delete selected";
      syncSelectAll();
    }
    // Checked when every file row shown is selected, mixed when some are.
    function syncSelectAll() {
      const boxes = [...tbody.querySelectorAll("input[data-file]")];
      const on = boxes.filter((b) => b.checked).length;
      selectAll.checked = boxes.length > 0 && on === boxes.length;
      selectAll.indeterminate = on > 0 && on < boxes.length;
      selectAll.disabled = boxes.length === 0;
    }

    function folderRow(p) {
      return h("tr", {},
        h("td", { class: "col-check" }),
        h("td", { class: "col-thumb" }, icon("folder")),
        h("td", { class: "name-cell" }, h("a", { href: `#/files?path=${encodeURIComponent(p)}` }, baseName(p) + "/")),
        h("td", { class: "num hide-sm muted" }, "—"),
        h("td", { class: "hide-sm muted" }, "Folder"),
        h("td", { class: "num" }, h("div", { class: "actions" },
          h("button", { class: "btn sm danger", type: "button", disabled: !can("folders"), "aria-label": `Delete folder ${baseName(p)}`, onclick: () => deleteFolder(p, reload) }, "Delete"))));
    }
    // Two tab stops: the checkbox and the name, which opens the details. The
    // "Details" button repeats the name's action for the mouse only.
    function fileRow(it) {
      const p = it.filePath;
      const name = baseName(p);
      const open = () => fileDetails(p, reload);
      return h("tr", {},
        h("td", { class: "col-check" }, h("input", { type: "checkbox", "data-file": p, "aria-label": `Select ${name}`, checked: state.selected.has(p), onchange: (e) => toggle(p, e.target.checked) })),
        h("td", { class: "col-thumb" }, thumb(p)),
        h("td", { class: "name-cell" }, h("button", { class: "linkish", type: "button", "aria-label": `Details of ${name}`, onclick: open }, name)),
        h("td", { class: "num hide-sm" }, fmtBytes(it.size)),
        h("td", { class: "hide-sm" }, fmtDate(it.lastModified)),
        h("td", { class: "num" }, h("div", { class: "actions" },
          h("button", { class: "btn sm", type: "button", tabindex: "-1", "aria-hidden": "true", onclick: open }, "Details"))));
    }

    const matches = (it, q) => baseName(itemPath(it)).toLowerCase().startsWith(q);
    // Filtering: the loaded rows, plus what the search found further down.
    function shownItems() {
      if (!search.q) return state.items;
      const local = state.items.filter((it) => matches(it, search.q));
      if (state.complete) return local;
      const all = new Map([...search.items, ...local].map((it) => [it.type + itemPath(it), it]));
      return [...all.values()].sort(byListing);
    }

    function renderRows() {
      const shown = shownItems();
      tbody.replaceChildren(...shown.map((it) => (it.type === "Folder" ? folderRow(it.folderPath) : fileRow(it))));
      syncSelectAll();
      const failed = !!state.error && !state.items.length;
      const searching = !!search.q && !state.complete;
      table.hidden = failed;
      status.textContent = searching ? scanText() : "";
      if (failed) {
        pager.hidden = !retryable(state.error);
        more.hidden = false;
        more.textContent = "Try again";
      } else if (searching) {
        pager.hidden = false;
        more.hidden = search.complete || search.busy;
        more.textContent = "Search further";
      } else {
        pager.hidden = state.complete;
        more.hidden = false;
        more.textContent = "Load more";
      }
      empty.hidden = failed || shown.length > 0 || (!search.q && !state.complete);
      if (!search.q) empty.textContent = "This folder is empty. Upload files or create a folder.";
      else if (searching && !search.complete) empty.textContent = search.busy ? "Searching…" : `No name starts with “${filter.value}” in the first ${search.scanned.toLocaleString()} names.`;
      else empty.textContent = `No name in this folder starts with “${filter.value}”.`;
    }
    function scanText() {
      const n = search.scanned.toLocaleString();
      if (search.complete) return `Searched every file in this folder (${n} containing “${filter.value}”).`;
      return search.busy ? `Searching… ${n} names so far.` : `Searched the first ${n} names.`;
    }

    function onMore() {
      if (state.error && !state.items.length) load(true);
      else if (search.q && !state.complete) scan();
      else load(false);
    }

    async function load(reset) {
      if (reset) { state.items = []; state.cursor = null; state.complete = false; state.selected.clear(); toggle("", false); }
      more.disabled = true;
      try {
        const q = new URLSearchParams({ folderPath: folder, limit: "100" });
        if (state.cursor) q.set("cursor", state.cursor);
        const res = await api("GET", v2(`/folders/list?${q}`));
        state.items.push(...res.items);
        state.cursor = res.cursor;
        state.complete = res.isPaginationComplete;
        state.error = null;
        errors.hidden = true;
      } catch (err) {
        state.error = err;
        showError(errors, err);
        if (err.status === 403 && !state.items.length) errors.append(...listableHint());
      }
      more.disabled = false;
      if (reset && search.q) startSearch(); else renderRows();
    }
    function reload() { return load(true); }
    // After a 403: the folders the key's rules let it list, as links.
    function listableHint() {
      const folders = [...new Set((ME?.key.rules || []).filter((r) => r.ops.includes("list") && !r.path.includes("*")).map((r) => r.path))]
        .filter((f) => f !== folder);
      if (!folders.length) return [];
      return [h("p", { class: "small" }, "Folders this key may list: ",
        folders.flatMap((f, i) => [i ? ", " : "", h("a", { href: `#/files?path=${encodeURIComponent(f)}` }, f)]))];
    }

    // A new filter value: show the loaded matches now; when the folder has
    // more rows than are loaded, search it page by page (250 ms after typing).
    let typing;
    function startSearch() {
      if (search.ctrl) search.ctrl.abort();
      clearTimeout(typing);
      const q = filter.value.toLowerCase();
      const deep = !!q && !state.complete && !state.error;
      search = { q, items: [], cursor: null, complete: !deep, scanned: 0, busy: deep, ctrl: new AbortController() };
      renderRows();
      if (deep) typing = setTimeout(scan, 250);
    }
    async function scan() {
      const s = search;
      if (!s.q || s.complete) return;
      s.busy = true;
      renderRows();
      try {
        for (let i = 0; i < SCAN_PAGES && !s.complete && panel.isConnected; i++) {
          // The server searches (case-insensitive substring of the name, this
          // folder's files only); the prefix rule is applied here.
          const q = new URLSearchParams({ folderPath: folder, recursive: "false", q: s.q, sort: "name", limit: String(SCAN_LIMIT) });
          if (s.cursor) q.set("cursor", s.cursor);
          const res = await api("GET", v2(`/files/search?${q}`), undefined, { signal: s.ctrl.signal });
          s.items.push(...res.items.map((it) => ({ type: "File", ...it })).filter((it) => matches(it, s.q)));
          s.scanned += res.items.length;
          s.cursor = res.cursor;
          s.complete = !res.cursor;
          if (s === search) renderRows();
        }
      } catch (err) {
        if (err.name === "AbortError" || s !== search) return;
        showError(errors, err);
      }
      s.busy = false;
      if (s === search) renderRows();
    }

    async function bulkDelete() {
      const list = [...state.selected];
      if (!(await confirmDialog(`Delete ${list.length} file${list.length > 1 ? "s" : ""}?`, `This deletes ${list.length} file${list.length > 1 ? "s" : ""} from ${folder}. Previous versions are deleted too. This cannot be undone.`, "Delete"))) return;
      let failed = null;
      for (const p of list) {
        try { await api("DELETE", v2(`/files?filePath=${encodeURIComponent(p)}`)); } catch (err) { failed = err; }
      }
      if (failed) showError(errors, failed); else toast(`Deleted ${list.length} file${list.length > 1 ? "s" : ""}.`);
      reload();
    }

    filter.addEventListener("input", startSearch);
    fileInput.addEventListener("change", () => {
      const files = [...fileInput.files].map((f) => ({ file: f, rel: f.name }));
      fileInput.value = "";
      startUploads(files, folder, uploadCard, reload);
    });
    // Drag and drop: files and whole folders.
    let depth = 0;
    panel.addEventListener("dragenter", (e) => { e.preventDefault(); depth++; panel.classList.add("dragging"); });
    panel.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; panel.classList.remove("dragging"); } });
    panel.addEventListener("dragover", (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; });
    panel.addEventListener("drop", async (e) => {
      e.preventDefault();
      depth = 0;
      panel.classList.remove("dragging");
      if (!canCreate) { showError(errors, { message: "This key cannot upload files.", suggestion: "Sign in with a key that has 'create'." }); return; }
      const files = await droppedFiles(e.dataTransfer);
      startUploads(files, folder, uploadCard, reload);
    });
    load(true);
  }

  async function droppedFiles(dt) {
    const out = [];
    const entries = [...(dt.items || [])].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    if (!entries.length) return [...dt.files].map((f) => ({ file: f, rel: f.name }));
    const fileOf = (entry) => new Promise((res, rej) => entry.file(res, rej));
    const readAll = async (reader) => {
      const all = [];
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) return all;
        all.push(...batch);
      }
    };
    async function walk(entry) {
      if (entry.isFile) out.push({ file: await fileOf(entry), rel: entry.fullPath.replace(/^\/+/, "") });
      else if (entry.isDirectory) for (const child of await readAll(entry.createReader())) await walk(child);
    }
    for (const entry of entries) await walk(entry);
    return out;
  }

  // ---------- multipart uploads (SPEC §5.3) ----------
  const PARALLEL = 4;
  const TRIES = 3;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function startUploads(files, folder, card, done) {
    if (!files.length) return;
    card.hidden = false;
    let pending = files.length;
    for (const { file, rel } of files) {
      const u = newUploadEntry(file, joinPath(folder, rel), done);
      uploads.push(u);
      uploadList.append(u.li);
      runUpload(u).finally(() => { if (--pending === 0) done(); });
    }
  }

  function newUploadEntry(file, path, done) {
    const pid = nextId("prog");
    const progress = h("progress", { id: pid, max: 100, value: 0, "aria-label": `Upload progress for ${file.name}` });
    const metaLine = h("span", { class: "u-meta", "aria-live": "polite" }, "Waiting…");
    const cancel = h("button", { class: "btn sm", type: "button", "aria-label": `Cancel upload of ${file.name}` }, "Cancel");
    const retry = h("button", { class: "btn sm primary", type: "button", hidden: true, "aria-label": `Retry upload of ${file.name}` }, "Retry");
    const li = h("li", { "data-path": path },
      h("span", { class: "u-name", text: path }), h("span", { class: "u-buttons" }, cancel, retry), metaLine, progress);
    // id/count/confirmed survive a failure, so Retry resumes the same session.
    const u = { file, path, li, progress, metaLine, cancel, retry, state: "uploading", xhrs: new Set(), aborted: false, id: null, count: 0, first: null, confirmed: new Map() };
    cancel.addEventListener("click", () => {
      u.aborted = true;
      for (const x of u.xhrs) x.abort();
      finish(u, "failed", "Cancelled");
    });
    retry.addEventListener("click", () => {
      Object.assign(u, { state: "uploading", aborted: false });
      li.classList.remove("failed");
      retry.hidden = true;
      cancel.hidden = false;
      metaLine.textContent = "Resuming…";
      cancel.focus();
      runUpload(u).finally(done);
    });
    return u;
  }

  function finish(u, state, text) {
    if (u.state !== "uploading") return;
    u.state = state;
    u.li.classList.add(state);
    u.metaLine.textContent = text;
    u.cancel.hidden = true;
    if (state === "done") { u.progress.value = 100; }
  }

  function putPart(u, url, blob, onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      u.xhrs.add(x);
      x.open("PUT", url);
      x.upload.onprogress = (e) => onProgress(e.loaded);
      x.onload = () => {
        u.xhrs.delete(x);
        if (x.status >= 200 && x.status < 300) resolve(x.getResponseHeader("ETag"));
        else {
          let body = null;
          try { body = JSON.parse(x.responseText); } catch { /* not JSON */ }
          reject(new ApiError(x.status, body));
        }
      };
      x.onerror = () => { u.xhrs.delete(x); reject(new ApiError(0, { error: { message: "Network error while sending a part.", suggestion: "Check the connection." } })); };
      x.onabort = () => { u.xhrs.delete(x); reject(Object.assign(new Error("aborted"), { name: "AbortError" })); };
      x.send(blob);
    });
  }

  // The part URL is absolute (STOWAGE_PUBLIC_URL); send it to this page's origin.
  function localUrl(abs) {
    const u = new URL(abs, location.href);
    return u.pathname + u.search;
  }

  const sumOf = (m) => { let s = 0; for (const v of m.values()) s += v; return s; };
  const pctOf = (n, size) => (size ? Math.min(100, Math.floor((n / size) * 100)) : 0);

  // The parts still to send: all of a new session, or those the server lacks.
  async function partsToSend(u) {
    if (u.id) {
      try {
        const rest = await api("GET", v2(`/uploads/${encodeURIComponent(u.id)}/parts`));
        const left = new Set(rest.remainingUploadParts || []);
        for (const idx of left) u.confirmed.delete(idx);
        return [...left].sort((a, b) => a - b);
      } catch (err) {
        if (err.status !== 404) throw err;
        Object.assign(u, { id: null, confirmed: new Map() }); // expired: start again
      }
    }
    const f = u.file;
    const begin = await api("POST", v2("/uploads"), { size: f.size, protocol: "1.1", mime: f.type || undefined, originalFileName: f.name, path: u.path });
    Object.assign(u, { id: begin.uploadId, count: begin.uploadParts.count, first: begin.uploadParts.first });
    return Array.from({ length: u.count }, (_, i) => i);
  }

  // Sends one part, retrying network and server errors; resolves false on giving up.
  async function sendPart(u, idx, inflight, update) {
    const id = encodeURIComponent(u.id);
    for (let attempt = 1; ; attempt++) {
      try {
        const part = idx === 0 && u.first ? u.first : await api("GET", v2(`/uploads/${id}/parts/${idx}`));
        if (idx === 0) u.first = null;
        const { inclusiveStart, inclusiveEnd } = part.range;
        const blob = u.file.slice(inclusiveStart, inclusiveEnd + 1);
        inflight.set(idx, 0);
        const etag = await putPart(u, localUrl(part.uploadUrl), blob, (n) => { inflight.set(idx, n); update(); });
        const res = await api("PUT", v2(`/uploads/${id}/parts/${idx}`), { etag: (etag || "").replace(/^W\//, "").replace(/"/g, "") });
        inflight.delete(idx);
        u.confirmed.set(idx, blob.size);
        update();
        if (res && res.status === "Completed") u.completed = true;
        return true;
      } catch (err) {
        inflight.delete(idx);
        update();
        if (u.aborted || err.name === "AbortError") return false;
        if (!retryable(err) || attempt >= TRIES) throw err;
        u.metaLine.textContent = `Part ${idx + 1} failed; retrying (${attempt}/${TRIES - 1})…`;
        await sleep(500 * 2 ** (attempt - 1));
      }
    }
  }

  async function runUpload(u) {
    const size = u.file.size;
    const inflight = new Map();
    const update = () => {
      if (u.state !== "uploading") return;
      const sum = sumOf(u.confirmed) + sumOf(inflight);
      u.progress.value = pctOf(sum, size);
      u.metaLine.textContent = `${pctOf(sum, size)}% · ${fmtBytes(sum)} of ${fmtBytes(size)}`;
    };
    let failure = null;
    try {
      const queue = await partsToSend(u);
      u.completed = false;
      // A part that gives up stops new parts; those in flight still finish.
      const worker = async () => {
        while (!u.aborted && !failure && queue.length) {
          const idx = queue.shift();
          try { await sendPart(u, idx, inflight, update); } catch (err) { failure = failure || err; }
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL, Math.max(queue.length, 1)) }, worker));
      if (failure) throw failure;
      if (u.aborted) return;
      if (!u.completed) {
        const rest = await api("GET", v2(`/uploads/${encodeURIComponent(u.id)}/parts`));
        if (rest.remainingUploadParts && rest.remainingUploadParts.length) throw new Error("Some parts were not confirmed.");
      }
      finish(u, "done", `Uploaded · ${fmtBytes(size)}`);
      u.li.setAttribute("data-done", "true");
    } catch (err) {
      if (u.aborted) return;
      for (const x of u.xhrs) x.abort();
      const saved = sumOf(u.confirmed);
      u.progress.value = pctOf(saved, size);
      const where = u.id ? `Stopped at ${pctOf(saved, size)}% (${fmtBytes(saved)} of ${fmtBytes(size)} on the server).` : "Stopped before the upload began.";
      finish(u, "failed", `${where} ${err.message}${err.suggestion ? " " + err.suggestion : ""} Retry ${u.id ? "sends only the missing parts" : "starts it again"}.`);
      u.retry.hidden = false;
    }
  }

  // ---------- file details ----------
  async function fileDetails(path, refresh) {
    const body = h("div", {}, h("p", { class: "muted", role: "status" }, "Loading…"));
    const d = dialog(baseName(path), body, []);
    d.showModal();
    const errs = h("div", { hidden: true });
    let det, versions = [];
    try {
      det = await api("GET", v2(`/files/details?filePath=${encodeURIComponent(path)}`));
    } catch (err) {
      body.replaceChildren(errorBox(err));
      return;
    }
    try { versions = (await api("GET", v2(`/files/versions?filePath=${encodeURIComponent(path)}`))).versions || []; } catch { versions = []; }
    const rawLocal = `/dashboard/api/${ACC}/raw${encPath(path)}`;
    const preview = det.mime && det.mime.startsWith("image/") && det.mime !== "image/svg+xml"
      ? h("div", { class: "preview" }, h("img", { src: rawLocal, alt: `Preview of ${baseName(path)}` }))
      : null;
    const tags = (det.tags || []).length ? h("div", { class: "tags" }, det.tags.map((t) => h("span", { class: "badge", text: t }))) : h("span", { class: "muted" }, "None");
    const vTable = h("table", {},
      h("caption", { class: "visually-hidden", text: "Versions" }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Version"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col", class: "hide-sm" }, "Date"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Download")))),
      h("tbody", {}, versions.map((v, i) => h("tr", {},
        h("td", {}, h("code", { text: v.versionId.slice(0, 12) }), i === 0 ? h("span", { class: "badge live", style: null }, " current") : null),
        h("td", { class: "num" }, fmtBytes(v.size)),
        h("td", { class: "hide-sm" }, fmtDate(v.lastModified)),
        h("td", { class: "num" }, h("a", { class: "btn sm", href: `${rawLocal}?versionId=${encodeURIComponent(v.versionId)}&download=true`, "aria-label": `Download version ${i + 1}` }, "Download"))))));

    // signed link
    const expId = nextId("exp");
    const exp = h("select", { id: expId },
      h("option", { value: "3600" }, "1 hour"), h("option", { value: "86400" }, "1 day"), h("option", { value: "604800" }, "7 days"));
    const linkOut = h("div");
    const signBtn = h("button", { class: "btn", type: "button", disabled: !can("read"), onclick: async () => {
      try {
        const res = await api("POST", v2("/files/signed_url"), { filePath: path, expiresIn: Number(exp.value) });
        const id = nextId("link");
        const input = h("input", { id, type: "text", readonly: true, value: res.url, class: "grow" });
        linkOut.replaceChildren(h("div", { class: "field" }, h("label", { for: id }, "Signed link"),
          h("div", { class: "secret-box" }, input, h("button", { class: "btn", type: "button", onclick: () => copyText(res.url, "Signed link") }, "Copy"))));
        input.select();
      } catch (err) { linkOut.replaceChildren(errorBox(err)); }
    } }, "Create signed link");

    // copy to
    const destId = nextId("dest");
    const dest = h("input", { id: destId, type: "text", value: path, spellcheck: "false" });
    const copyBtn = h("button", { class: "btn", type: "button", disabled: !can("create"), onclick: async () => {
      clearError(errs);
      try {
        await api("POST", v2("/files/copy"), { source: path, destination: dest.value.trim() });
        toast(`Copied to ${dest.value.trim()}.`);
        refresh();
      } catch (err) { showError(errs, err); }
    } }, "Copy");

    const del = h("button", { class: "btn danger", type: "button", disabled: !can("delete"), onclick: async () => {
      if (!(await confirmDialog("Delete this file?", `${path} and its previous versions will be deleted. This cannot be undone.`, "Delete file"))) return;
      clearError(errs);
      try {
        await api("DELETE", v2(`/files?filePath=${encodeURIComponent(path)}`));
        d.close();
        toast("File deleted.");
        refresh();
      } catch (err) { showError(errs, err); }
    } }, "Delete");

    body.replaceChildren(...[
      errs,
      preview,
      h("dl", { class: "props" },
        h("dt", {}, "Path"), h("dd", {}, h("code", { text: det.filePath })),
        h("dt", {}, "Size"), h("dd", {}, `${fmtBytes(det.size)} (${det.size.toLocaleString()} bytes)`),
        h("dt", {}, "Type"), h("dd", {}, det.mime),
        h("dt", {}, "ETag"), h("dd", {}, h("code", { text: det.etag })),
        h("dt", {}, "Modified"), h("dd", {}, fmtDate(det.lastModified)),
        h("dt", {}, "Original name"), h("dd", {}, det.originalFileName || "—"),
        h("dt", {}, "Tags"), h("dd", {}, tags)),
      h("h3", {}, "Metadata"),
      h("pre", { class: "json", tabindex: "0", "aria-label": "Metadata" }, JSON.stringify(det.metadata || {}, null, 2)),
      h("div", { class: "section" },
        h("h3", {}, "URL"),
        h("div", { class: "secret-box" }, h("input", { type: "text", readonly: true, value: det.fileUrl, "aria-label": "File URL", class: "grow" }),
          h("button", { class: "btn", type: "button", onclick: () => copyText(det.fileUrl, "URL") }, "Copy URL"))),
      h("div", { class: "section" },
        h("h3", {}, "Signed link"),
        h("div", { class: "row" }, h("label", { for: expId }, "Expires in"), h("div", {}, exp), signBtn),
        linkOut),
      h("div", { class: "section" },
        h("h3", {}, "Copy to another path"),
        h("div", { class: "row" }, h("label", { for: destId, class: "visually-hidden" }, "Destination path"), h("div", { class: "grow" }, dest), copyBtn)),
      h("div", { class: "section" }, h("h3", {}, `Versions (${versions.length})`), vTable),
    ].filter(Boolean));
    d.querySelector(".d-foot")?.remove();
    d.append(h("div", { class: "d-foot" },
      h("a", { class: "btn", href: `${rawLocal}?download=true` }, "Download"), del,
      h("button", { class: "btn primary", type: "button", onclick: () => d.close() }, "Close")));
  }

  // ---------- folders ----------
  function createFolder(parent, refresh) {
    const id = nextId("fname");
    const input = h("input", { id, type: "text", required: true, spellcheck: "false", placeholder: "e.g. photos" });
    const errs = h("div", { hidden: true });
    const form = h("form", { id: nextId("form") }, errs, h("div", { class: "field" }, h("label", { for: id }, "Folder name"), input,
      h("span", { class: "hint" }, `Created in ${parent}`)));
    const create = h("button", { class: "btn primary", type: "submit" }, "Create folder");
    create.setAttribute("form", form.id);
    const d = dialog("New folder", form, [h("button", { class: "btn", type: "button", onclick: () => d.close() }, "Cancel"), create]);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearError(errs);
      try {
        await api("PUT", v2("/folders"), { folderPath: joinPath(parent, input.value.trim()) });
        d.close();
        toast("Folder created.");
        refresh();
      } catch (err) { showError(errs, err); }
    });
    d.showModal();
    input.focus();
  }

  async function deleteFolder(path, refresh) {
    if (!(await confirmDialog("Delete this folder?", `${path} and everything in it (all files and subfolders) will be deleted. This cannot be undone.`, "Delete folder"))) return;
    try {
      await api("DELETE", v2("/folders"), { folderPath: path, recursive: true, deleteFiles: true });
      toast("Folder deleted.");
    } catch (err) {
      const d = dialog("Could not delete the folder", [errorBox(err)], []);
      d.showModal();
    }
    refresh();
  }

  const PUBLIC = [
    { scope: "Children", permissions: { file: { downloadFile: ["*"] } } },
    { scope: "Grandchildren+", permissions: { file: { downloadFile: ["*"] } } },
  ];
  function classify(value) {
    if (!Array.isArray(value)) return { mode: "public", slugs: [] };
    const slugs = new Set();
    for (const e of value) for (const s of e?.permissions?.file?.downloadFile || []) slugs.add(s);
    if (slugs.has("*")) return { mode: "public", slugs: ["*"] };
    if (!slugs.size) return { mode: "private", slugs: [] };
    return { mode: "limited", slugs: [...slugs] };
  }
  const MODE_LABEL = { public: "Public", private: "Private", limited: "Limited" };
  function describe(c) { return c.mode === "limited" ? `Limited (${c.slugs.join(", ")})` : MODE_LABEL[c.mode]; }
  // The visibility a folder's FolderDetails says applies: {from, c}.
  function effectiveOf(det) {
    const own = det.settings && det.settings.publicPermissions;
    const inh = det.settingsInherited && det.settingsInherited.publicPermissions;
    if (own !== undefined) return { from: det.folderPath, c: classify(own) };
    if (inh) return { from: inh.folderPath, c: classify(inh.value) };
    return { from: null, c: { mode: "public", slugs: [] } };
  }
  // What "Inherit" would give: the parent's effective setting. settingsInherited
  // includes the folder's own setting, so with one, ask for the parent's.
  async function inheritHint(det) {
    const path = det.folderPath;
    if (path === "/") return "Use the default: Public.";
    let eff = effectiveOf({ ...det, settings: {} });
    if (det.settings && det.settings.publicPermissions !== undefined) {
      const parent = path.replace(/\/[^/]+$/, "") || "/";
      try {
        eff = effectiveOf(await api("GET", v2(`/folders?folderPath=${encodeURIComponent(parent)}`)));
      } catch {
        return "Use the setting of the folders above (this key cannot read it).";
      }
    }
    return eff.from ? `Use the parent setting: ${describe(eff.c)} (from ${eff.from}).` : "Use the default: Public.";
  }

  async function folderSettings(path) {
    const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
    const d = dialog(`Visibility of ${path}`, body, []);
    d.showModal();
    let det;
    try { det = await api("GET", v2(`/folders?folderPath=${encodeURIComponent(path)}`)); } catch (err) { body.replaceChildren(errorBox(err)); return; }
    const own = det.settings && det.settings.publicPermissions;
    const effective = effectiveOf({ ...det, folderPath: path });
    const current = own !== undefined ? classify(own) : null;
    const inheritText = await inheritHint({ ...det, folderPath: path });
    const name = nextId("vis");
    const radio = (value, title, text) => {
      const id = nextId("r");
      return h("label", { class: "radio", for: id },
        h("input", { id, type: "radio", name, value, checked: (current ? current.mode : "inherit") === value }),
        h("span", {}, h("strong", { text: title }), h("span", { class: "hint" }, text)));
    };
    const slugId = nextId("slugs");
    const slugs = h("input", { id: slugId, type: "text", value: current && current.mode === "limited" ? current.slugs.join(", ") : "thumbnail", spellcheck: "false" });
    const errs = h("div", { hidden: true });
    body.replaceChildren(
      errs,
      h("p", { class: "notice", role: "note" },
        "Anonymous access now: ", h("strong", { text: describe(effective.c) }),
        effective.from === path ? " — set on this folder." : effective.from ? ` — inherited from ${effective.from}.` : " — the default (no folder above sets it)."),
      h("fieldset", {}, h("legend", {}, "Who can download files in this folder"),
        radio("inherit", "Inherit", inheritText),
        radio("public", "Public", "Anyone with the URL can download originals and transformations."),
        radio("private", "Private", "Only credentials whose rules allow 'read'. Anonymous requests get 401."),
        radio("limited", "Limited", "Anyone may download only the listed transformation slugs; originals stay private."),
        h("div", { class: "field" }, h("label", { for: slugId }, "Slugs for Limited"), slugs, h("span", { class: "hint" }, "Comma-separated, e.g. thumbnail, image"))));
    const save = h("button", { class: "btn primary", type: "button", disabled: !can("folders"), onclick: async () => {
      const mode = body.querySelector(`input[name="${name}"]:checked`)?.value || "inherit";
      let setting;
      if (mode === "inherit") setting = { set: true };
      else if (mode === "public") setting = { set: true, value: PUBLIC };
      else if (mode === "private") setting = { set: true, value: [] };
      else {
        const list = slugs.value.split(",").map((s) => s.trim()).filter(Boolean);
        setting = { set: true, value: ["Children", "Grandchildren+"].map((scope) => ({ scope, permissions: { file: { downloadFile: list } } })) };
      }
      clearError(errs);
      try {
        await api("PUT", v2("/folders"), { folderPath: path, folderSettings: { publicPermissions: setting } });
        d.close();
        toast(`Visibility of ${path} saved.`);
      } catch (err) { showError(errs, err); }
    } }, "Save");
    d.append(h("div", { class: "d-foot" }, h("button", { class: "btn", type: "button", onclick: () => d.close() }, "Cancel"), save));
  }

  // ---------- Keys ----------
  const OPS = ["read", "list", "create", "overwrite", "delete", "folders", "admin"];

  function pageKeys(main) {
    main.append(pageHead("Keys", "API keys, JWT verification keys and signing keys of this account."));
    if (!can("admin")) {
      main.append(h("div", { class: "alert info", role: "note" }, h("strong", {}, "This key cannot manage keys."), h("span", {}, "Key management needs the 'admin' operation. Sign in with a secret key without rules, or one whose rules grant admin.")));
      return;
    }
    main.append(apiKeysCard(), jwtKeysCard(), signingKeysCard());
  }

  function listCard(title, desc, headCells, rowFn, loadFn, form) {
    const errs = h("div", { hidden: true });
    const tbody = h("tbody");
    const empty = h("div", { class: "empty", hidden: true }, "None yet.");
    const card = h("section", { class: "card", "aria-label": title },
      h("header", {}, h("div", {}, h("h2", { text: title }), h("p", { class: "muted small", text: desc, style: null }))),
      h("div", { class: "body" }, errs, form),
      h("table", {}, h("caption", { class: "visually-hidden", text: title }),
        h("thead", {}, h("tr", {}, headCells.map(([t, cls]) => h("th", { scope: "col", class: cls || null }, t)))), tbody),
      empty);
    async function reload() {
      try {
        const items = (await loadFn()).items || [];
        tbody.replaceChildren(...items.map((it) => rowFn(it, reload, errs)));
        empty.hidden = items.length > 0;
      } catch (err) { showError(errs, err); }
    }
    card.reload = reload;
    card.errs = errs;
    reload();
    return card;
  }

  // "This folder and everything below" (SPEC §3): the folder itself (so it can
  // be listed), its children and everything deeper, as three rules.
  const treeRules = (folder) => {
    const f = folder.trim().replace(/\/+$/, "");
    return f ? [f, `${f}/*`, `${f}/*/**`] : ["/", "/*", "/*/**"];
  };
  const folderOfGlob = (glob) => glob.trim().replace(/\/\*(\/\*\*)?$|\/\*\*$/, "") || "/";

  // Rules as lines; three rules that make one folder tree are one line.
  function ruleLines(rules) {
    const opsKey = (r) => [...r.ops].sort().join(",");
    const byPath = new Map(rules.map((r) => [r.path, r]));
    const tree = new Map(); // member path → folder
    for (const r of rules) {
      if (!r.path.endsWith("/*")) continue;
      const trio = treeRules(r.path.slice(0, -2));
      if (trio.every((p) => byPath.has(p) && opsKey(byPath.get(p)) === opsKey(r))) for (const p of trio) tree.set(p, trio[0]);
    }
    const shown = new Set();
    const out = [];
    for (const r of rules) {
      const f = tree.get(r.path);
      if (f !== undefined && shown.has(f)) continue;
      if (f !== undefined) shown.add(f);
      out.push(h("div", {}, h("code", { text: f ?? r.path }), f !== undefined ? " and everything below: " : " ", r.ops.join(", ")));
    }
    return out;
  }

  function rulesEditor() {
    const wrap = h("div", { class: "rules", role: "group", "aria-label": "Rules" });
    function addRule(path = "/uploads/*", ops = ["read", "create"]) {
      const pid = nextId("glob"), sid = nextId("scope");
      const label = h("label", { for: pid }, "Path glob");
      const input = h("input", { id: pid, type: "text", value: path, spellcheck: "false", "data-glob": "" });
      const scope = h("select", { id: sid, "data-scope": "" },
        h("option", { value: "glob" }, "Paths matching the glob"),
        h("option", { value: "tree" }, "This folder and everything below"));
      const hint = h("p", { class: "hint rule-hint", hidden: true });
      const sync = () => {
        const tree = scope.value === "tree";
        label.textContent = tree ? "Folder" : "Path glob";
        input.placeholder = tree ? "/photos" : "/photos/*";
        hint.hidden = !tree;
        hint.textContent = tree ? `Makes three rules: ${treeRules(input.value).join(", ")}` : "";
      };
      scope.addEventListener("change", () => {
        input.value = scope.value === "tree" ? folderOfGlob(input.value) : treeRules(input.value)[1];
        sync();
      });
      input.addEventListener("input", sync);
      const rule = h("div", { class: "rule", role: "group", "aria-label": "Rule" },
        h("div", { class: "row" }, h("label", { for: sid }, "Applies to"), h("div", {}, scope)),
        h("div", { class: "row" }, label, h("div", { class: "grow" }, input),
          h("button", { class: "btn sm ghost", type: "button", "aria-label": "Remove rule", onclick: () => rule.remove() }, "Remove")),
        hint,
        h("div", { class: "ops", role: "group", "aria-label": "Operations" },
          OPS.map((op) => h("label", {}, h("input", { type: "checkbox", value: op, checked: ops.includes(op), "data-op": "" }), op))));
      wrap.append(rule);
      input.focus();
    }
    const root = h("div", {},
      h("div", { class: "explain", role: "note" },
        h("strong", {}, "How path globs match"),
        h("ul", {},
          h("li", {}, h("code", {}, "/photos/*"), " — the files and folders directly in /photos (e.g. /photos/a.jpg), not deeper."),
          h("li", {}, h("code", {}, "/photos/*/**"), " — everything below the children: /photos/2024/a.jpg and deeper."),
          h("li", {}, h("code", {}, "/photos"), " — only that exact path. ", h("code", {}, "/photos/*"), " does not include /photos itself: listing /photos, or changing its visibility, needs a rule for /photos."),
          h("li", {}, "“This folder and everything below” makes all three rules at once."),
          h("li", {}, "No rules: a secret key may do everything, a public key may read and create."))),
      wrap,
      h("button", { class: "btn sm", type: "button", onclick: () => addRule() }, "Add rule"));
    root.value = () => [...wrap.querySelectorAll(".rule")].flatMap((r) => {
      const path = r.querySelector("[data-glob]").value.trim();
      const ops = [...r.querySelectorAll("[data-op]:checked")].map((c) => c.value);
      const paths = r.querySelector("[data-scope]").value === "tree" ? treeRules(path) : [path];
      return paths.map((p) => ({ path: p, ops }));
    });
    root.addRule = addRule;
    return root;
  }

  function apiKeysCard() {
    const nameId = nextId("kname"), typeId = nextId("ktype");
    const rules = rulesEditor();
    const form = h("form", { class: "create-key" },
      h("h3", {}, "Create an API key"),
      h("div", { class: "row" },
        h("div", { class: "field grow" }, h("label", { for: nameId }, "Name"), h("input", { id: nameId, type: "text", placeholder: "e.g. backend uploads" })),
        h("div", { class: "field" }, h("label", { for: typeId }, "Type"), h("select", { id: typeId }, h("option", { value: "secret" }, "Secret"), h("option", { value: "public" }, "Public")))),
      rules,
      h("div", { class: "row end" }, h("button", { class: "btn primary", type: "submit" }, "Create key")));
    const card = listCard("API keys", "Keys for servers (secret) and browsers (public). Only a hash is stored.",
      [["Name"], ["Key"], ["Type", "hide-sm"], ["Rules", "hide-sm"], ["", "num"]],
      (k, reload, errs) => h("tr", {},
        h("td", {}, k.name || h("span", { class: "muted" }, "—")),
        h("td", {}, h("code", { text: k.display }), k.revokedAt ? h("span", { class: "badge revoked" }, " revoked") : null),
        h("td", { class: "hide-sm" }, k.type),
        h("td", { class: "hide-sm small" }, (k.rules || []).length ? ruleLines(k.rules) : h("span", { class: "muted" }, "All (default)")),
        h("td", { class: "num" }, k.revokedAt ? null : h("button", { class: "btn sm danger", type: "button", "aria-label": `Revoke key ${k.display}`, onclick: async () => {
          if (!(await confirmDialog("Revoke this key?", `${k.display} will stop working on every node within a second. This cannot be undone.`, "Revoke key"))) return;
          clearError(errs);
          try { await api("DELETE", v2(`/api_keys/${encodeURIComponent(k.keyId)}`)); toast("Key revoked."); } catch (err) { showError(errs, err); }
          reload();
        } }, "Revoke"))),
      () => api("GET", v2("/api_keys")), form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { type: $(`#${typeId}`).value, name: $(`#${nameId}`).value.trim() || undefined };
      const r = rules.value();
      if (r.length) body.rules = r;
      clearError(card.errs);
      try {
        const res = await api("POST", v2("/api_keys"), body);
        secretDialog("API key created", "Here is the new key.", "API key", res.key);
        form.reset();
        rules.querySelector(".rules").replaceChildren();
        card.reload();
      } catch (err) { showError(card.errs, err); }
    });
    return card;
  }

  function jwtKeysCard() {
    const nameId = nextId("jname"), pemId = nextId("pem");
    const form = h("form", {},
      h("h3", {}, "Add a JWT key"),
      h("div", { class: "field" }, h("label", { for: nameId }, "Name"), h("input", { id: nameId, type: "text", placeholder: "e.g. auth service" })),
      h("div", { class: "field" }, h("label", { for: pemId }, "Public key (PEM)"),
        h("textarea", { id: pemId, required: true, spellcheck: "false", placeholder: "-----BEGIN PUBLIC KEY-----" }),
        h("span", { class: "hint" }, "RS256 or ES256 public key. JWTs signed with its private key are accepted for this account.")),
      h("div", { class: "row end" }, h("button", { class: "btn primary", type: "submit" }, "Add JWT key")));
    const card = listCard("JWT keys", "Public keys that verify JWTs your own backend signs.",
      [["Name"], ["Key id"], ["Algorithm", "hide-sm"], ["Added", "hide-sm"], ["", "num"]],
      (k, reload, errs) => h("tr", {},
        h("td", {}, k.name || "—"), h("td", {}, h("code", { text: k.kid })), h("td", { class: "hide-sm" }, k.alg), h("td", { class: "hide-sm" }, fmtDate(k.createdAt)),
        h("td", { class: "num" }, h("button", { class: "btn sm danger", type: "button", "aria-label": `Delete JWT key ${k.kid}`, onclick: async () => {
          if (!(await confirmDialog("Delete this JWT key?", "JWTs signed with it will stop working.", "Delete key"))) return;
          clearError(errs);
          try { await api("DELETE", v2(`/jwt_keys/${encodeURIComponent(k.kid)}`)); } catch (err) { showError(errs, err); }
          reload();
        } }, "Delete"))),
      () => api("GET", v2("/jwt_keys")), form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearError(card.errs);
      try {
        await api("POST", v2("/jwt_keys"), { pem: $(`#${pemId}`).value, name: $(`#${nameId}`).value.trim() || undefined });
        form.reset();
        toast("JWT key added.");
        card.reload();
      } catch (err) { showError(card.errs, err); }
    });
    return card;
  }

  function signingKeysCard() {
    const nameId = nextId("sname");
    const form = h("form", {},
      h("h3", {}, "Create a signing key"),
      h("div", { class: "row" }, h("div", { class: "field grow" }, h("label", { for: nameId }, "Name"), h("input", { id: nameId, type: "text", placeholder: "e.g. mobile app" })),
        h("button", { class: "btn primary", type: "submit" }, "Create signing key")));
    const card = listCard("Signing keys", "Secrets your backend uses to sign ImageKit-style client upload tokens.",
      [["Name"], ["Key id"], ["Created", "hide-sm"], ["", "num"]],
      (k, reload, errs) => h("tr", {},
        h("td", {}, k.name || "—"), h("td", {}, h("code", { text: k.kid })), h("td", { class: "hide-sm" }, fmtDate(k.createdAt)),
        h("td", { class: "num" }, h("button", { class: "btn sm danger", type: "button", "aria-label": `Delete signing key ${k.kid}`, onclick: async () => {
          if (!(await confirmDialog("Delete this signing key?", "Tokens signed with it will be refused.", "Delete key"))) return;
          clearError(errs);
          try { await api("DELETE", v2(`/signing_keys/${encodeURIComponent(k.kid)}`)); } catch (err) { showError(errs, err); }
          reload();
        } }, "Delete"))),
      () => api("GET", v2("/signing_keys")), form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearError(card.errs);
      try {
        const res = await api("POST", v2("/signing_keys"), { name: $(`#${nameId}`).value.trim() || undefined });
        const kidId = nextId("kid");
        secretDialog("Signing key created", `Key id ${res.kid}.`, "Signing secret", res.secret,
          [h("div", { class: "field" }, h("label", { for: kidId }, "Key id (kid)"), h("input", { id: kidId, type: "text", readonly: true, value: res.kid }))]);
        form.reset();
        card.reload();
      } catch (err) { showError(card.errs, err); }
    });
    return card;
  }

  // ---------- Presets ----------
  function pagePresets(main) {
    main.append(pageHead("Transformation presets", "Named image parameter sets, served at /{account}/{preset}/{path}. The Files page shows thumbnails through the preset named \"thumbnail\" when it exists (else w=96&h=96&fit=crop)."));
    const errs = h("div", { hidden: true });
    const listBody = h("tbody");
    const nameId = nextId("pname"), paramsId = nextId("params"), fileId = nextId("pfile");
    const name = h("input", { id: nameId, type: "text", required: true, pattern: "[a-z0-9\\-]{1,64}", title: "a–z, 0–9 and '-', up to 64 characters", placeholder: "thumbnail", spellcheck: "false" });
    const params = h("input", { id: paramsId, type: "text", required: true, value: "w=200&h=200&fit=crop", spellcheck: "false" });
    const file = h("input", { id: fileId, type: "text", placeholder: "/photos/a.jpg", spellcheck: "false" });
    const previewBox = h("div", { class: "preview preset-preview", role: "img", "aria-label": "Preset preview" }, h("span", { class: "muted small" }, "Enter a file path to preview."));
    let timer;
    const preview = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const p = file.value.trim();
        if (!p.startsWith("/")) { previewBox.replaceChildren(h("span", { class: "muted small" }, "Enter a file path to preview.")); return; }
        const img = h("img", { alt: `Preview of ${p} with ${params.value}`, src: `/dashboard/api/${ACC}/image${encPath(p)}?${params.value}` });
        img.addEventListener("error", () => previewBox.replaceChildren(h("span", { class: "muted small" }, "No preview: the file is not an image, is not readable with this key, or image transformations are not available yet.")), { once: true });
        previewBox.replaceChildren(img);
      }, 300);
    };
    params.addEventListener("input", preview);
    file.addEventListener("input", preview);
    const form = h("form", {},
      h("div", { class: "row" },
        h("div", { class: "field grow" }, h("label", { for: nameId }, "Preset name"), name, h("span", { class: "hint" }, "a–z, 0–9 and '-', up to 64")),
        h("div", { class: "field grow" }, h("label", { for: paramsId }, "Parameters"), params, h("span", { class: "hint" }, "w, h, fit (max, crop, pad, stretch), f, q, bg"))),
      h("div", { class: "field" }, h("label", { for: fileId }, "Preview with file"), file),
      previewBox,
      h("div", { class: "row end" }, h("button", { class: "btn primary", type: "submit", disabled: !can("admin") }, "Save preset")));
    const card = h("section", { class: "card", "aria-label": "Presets" },
      h("header", {}, h("h2", {}, "Presets")),
      h("div", { class: "body" }, errs, form),
      h("table", {}, h("caption", { class: "visually-hidden", text: "Presets" }),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Parameters"), h("th", { scope: "col", class: "num" }, h("span", { class: "visually-hidden" }, "Actions")))), listBody));
    main.append(card);
    async function reload() {
      try {
        const res = await api("GET", v2("/transformations"));
        listBody.replaceChildren(...(res.items || []).map((p) => h("tr", {},
          h("td", {}, h("code", { text: p.preset })), h("td", {}, h("code", { text: p.params })),
          h("td", { class: "num" }, h("div", { class: "actions" },
            h("button", { class: "btn sm", type: "button", onclick: () => { name.value = p.preset; params.value = p.params; preview(); name.focus(); } }, "Edit"),
            h("button", { class: "btn sm danger", type: "button", "aria-label": `Delete preset ${p.preset}`, onclick: async () => {
              if (!(await confirmDialog("Delete this preset?", `URLs using /${p.preset}/ will answer 404.`, "Delete preset"))) return;
              clearError(errs);
              try { await api("DELETE", v2(`/transformations/${encodeURIComponent(p.preset)}`)); } catch (err) { showError(errs, err); }
              reload();
            } }, "Delete"))))));
        if (!(res.items || []).length) listBody.replaceChildren(h("tr", {}, h("td", { colspan: "3", class: "muted" }, "No presets yet.")));
      } catch (err) {
        showError(errs, err);
      }
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearError(errs);
      try {
        await api("PUT", v2(`/transformations/${encodeURIComponent(name.value.trim())}`), { params: params.value.trim() });
        toast("Preset saved.");
        reload();
      } catch (err) { showError(errs, err); }
    });
    reload();
  }

  // ---------- Account ----------
  async function pageAccount(main) {
    main.append(pageHead("Account", null));
    const box = h("div", {}, h("p", { class: "muted", role: "status" }, "Loading…"));
    main.append(box);
    const stat = (k, v, s) => h("div", { class: "stat" }, h("div", { class: "k", text: k }), h("div", { class: "v", text: v }), s ? h("div", { class: "s", text: s }) : null);
    const keyCard = h("section", { class: "card", "aria-label": "Signed-in key" },
      h("header", {}, h("h2", {}, "Signed-in key")),
      h("div", { class: "body" }, h("dl", { class: "props" },
        h("dt", {}, "Key"), h("dd", {}, h("code", { text: ME.key.display })),
        h("dt", {}, "Type"), h("dd", {}, ME.key.type),
        h("dt", {}, "Name"), h("dd", {}, ME.key.name || "—"),
        h("dt", {}, "Rules"), h("dd", {}, ME.key.rules.length ? ruleLines(ME.key.rules) : "None: every operation on the whole account"),
        h("dt", {}, "Session ends"), h("dd", {}, fmtDate(ME.expiresAt * 1000)))));
    try {
      const a = await call("GET", "/dashboard/account");
      box.replaceChildren(
        h("div", { class: "stats" },
          stat("Files", a.usage.files.toLocaleString(), `${a.usage.versions.toLocaleString()} versions kept`),
          stat("Stored", fmtBytes(a.usage.bytes), `${fmtBytes(a.usage.versionBytes)} with older versions`),
          stat("Max file size", fmtBytes(a.limits.maxFileSize), a.limits.accountMaxFileSize != null ? "Set for this account" : "Server default (STOWAGE_MAX_FILE_SIZE)"),
          stat("Allowed types", a.limits.allowedMime || "Any", "MIME patterns"),
          stat("Mode", a.sandbox ? "Sandbox" : "Live", a.sandbox ? `Files are deleted ${Math.round((a.limits.sandboxTtlSeconds || 86400) / 3600)} h after upload` : "Files are kept")),
        EXT.usageCard ? EXT.usageCard() : null,
        keyCard);
    } catch (err) {
      box.replaceChildren(errorBox(err), keyCard);
    }
  }

  window.stowageDash = Object.assign(EXT, { h, $, api, v2, ACC, ApiError, nextId, fmtBytes, fmtDate, joinPath, baseName, errorBox, showError, clearError,
    toast, dialog, confirmDialog, secretDialog, copyText, pageHead, listCard, can, uploads, uploadList: () => uploadList });
  document.addEventListener("DOMContentLoaded", () => { initSignIn(); initApp(); });
})();
