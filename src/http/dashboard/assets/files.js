// stowage dashboard: the Files page (listing, filter, selection, bulk actions,
// drag and drop). Uses the helpers app.js exposes as window.stowageDash.
"use strict";
(() => {
  const D = window.stowageDash;
  const { h, api, v2, ACC, nextId, fmtBytes, fmtDate, baseName, encPath, showError, toast, confirmDialog, can, IMAGE_EXT, THUMB_PRESET, THUMB_PARAMS, pageHead, retryable } = D;

  // ---------- Files ----------
  const itemPath = (it) => it.folderPath || it.filePath;
  // The listing's order: by path, a folder before a file of the same path.
  const byListing = (a, b) => (itemPath(a) < itemPath(b) ? -1 : itemPath(a) > itemPath(b) ? 1 : a.type === "Folder" ? -1 : 1);
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
    const newFolderBtn = h("button", { class: "btn", type: "button", disabled: !can("folders"), onclick: () => D.createFolder(folder, reload) }, "New folder");
    const visBtn = h("button", { class: "btn", type: "button", onclick: () => D.folderSettings(folder) }, "Visibility");
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
    const uploads = D.uploads;
    const uploadList = h("ul", { class: "uploads", "aria-label": "Uploads" });
    D.setUploadList(uploadList);
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
        uploadBtn, D.fromUrl ? D.fromUrl({ folder, canCreate, card: uploadCard, reload }) : null, newFolderBtn, visBtn, bulkBtn),
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
          h("button", { class: "btn sm danger", type: "button", disabled: !can("folders"), "aria-label": `Delete folder ${baseName(p)}`, onclick: () => D.deleteFolder(p, reload) }, "Delete"))));
    }
    // Two tab stops: the checkbox and the name, which opens the details. The
    // "Details" button repeats the name's action for the mouse only.
    function fileRow(it) {
      const p = it.filePath;
      const name = baseName(p);
      const open = () => D.fileDetails(p, reload);
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
      const folders = [...new Set((D.me()?.key.rules || []).filter((r) => r.ops.includes("list") && !r.path.includes("*")).map((r) => r.path))]
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
      D.startUploads(files, folder, uploadCard, reload);
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
      D.startUploads(files, folder, uploadCard, reload);
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


  D.pages.files = pageFiles;
  Object.assign(D, { icon, thumb, itemPath });
})();
