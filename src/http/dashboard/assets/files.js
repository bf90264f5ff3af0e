// stowage dashboard: the Files page (listing, filter, selection, bulk actions,
// drag and drop). Uses the helpers app.js exposes as window.stowageDash.
"use strict";
(() => {
  const D = window.stowageDash;
  const { h, api, v2, ACC, nextId, fmtBytes, fmtDate, joinPath, baseName, encPath, showError, clearError, toast, dialog, confirmDialog, can, fileExists, IMAGE_EXT, THUMB_PRESET, THUMB_PARAMS, pageHead, retryable } = D;

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
  const isImage = (it) => it.type !== "Folder" && IMAGE_EXT.test(it.filePath);

  // ---------- list or grid ----------
  const VIEW_KEY = "stowage.filesView";
  const savedView = () => { try { return localStorage.getItem(VIEW_KEY) === "grid" ? "grid" : "list"; } catch { return "list"; } };
  function viewToggle(current, onChange) {
    const btn = (id, label) => h("button", { class: "btn sm", type: "button", "data-view": id, "aria-pressed": String(current === id), onclick: () => {
      try { localStorage.setItem(VIEW_KEY, id); } catch { /* private mode */ }
      for (const b of group.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.view === id));
      onChange(id);
    } }, label);
    const group = h("div", { class: "view-toggle", role: "group", "aria-label": "View" }, btn("list", "List"), btn("grid", "Grid"));
    return group;
  }
  // A tile of the grid. `ctx`: {selected, toggle, reload, view(path)}. Tab
  // stops: the checkbox, the image (opens the lightbox), the name (details).
  function gridTile(it, ctx) {
    if (it.type === "Folder") {
      const p = it.folderPath;
      return h("li", { class: "tile folder" },
        h("a", { class: "tile-img", href: `#/files?path=${encodeURIComponent(p)}`, tabindex: "-1", "aria-hidden": "true" }, icon("folder")),
        h("div", { class: "tile-meta" }, h("a", { class: "tile-name", href: `#/files?path=${encodeURIComponent(p)}` }, baseName(p) + "/"),
          h("span", { class: "muted small" }, "Folder", " ", D.visibilityBadge(it.settings))));
    }
    const p = it.filePath;
    const name = baseName(p);
    const details = () => D.fileDetails(p, ctx.reload);
    let media;
    if (isImage(it)) {
      const img = h("img", { alt: "", loading: "lazy", src: D.gridSrc(p) });
      img.addEventListener("error", () => img.replaceWith(icon("file")), { once: true });
      media = h("button", { class: "tile-img", type: "button", "aria-label": `View ${name}`, onclick: () => ctx.view(p) }, img);
    } else {
      media = h("div", { class: "tile-img", onclick: details }, icon("file"));
    }
    return h("li", { class: "tile" },
      h("input", { type: "checkbox", class: "tile-check", "data-file": p, "aria-label": `Select ${name}`, checked: ctx.selected.has(p), onchange: (e) => ctx.toggle(p, e.target.checked) }),
      media,
      h("div", { class: "tile-meta" },
        h("button", { class: "linkish tile-name", type: "button", "aria-label": `Details of ${name}`, title: name, onclick: details }, name),
        h("span", { class: "muted small" }, fmtBytes(it.size))));
  }

  // ---------- bulk move and copy (SPEC §7: files/move, files/copy) ----------
  // One request per file, in order; the dialog lists each failure with its
  // §8 message and stays open; with none it closes. The listing is reloaded.
  // The API replaces a file at the destination when the key may overwrite:
  // unless "Replace" is ticked, a destination that exists is skipped (looked
  // up just before; the API has no "never replace" flag).
  function transferDialog(kind, list, folder, done) {
    const verb = kind === "move" ? "Move" : "Copy";
    const did = kind === "move" ? "Moved" : "Copied";
    const files = (k) => `${k} file${k === 1 ? "" : "s"}`;
    const id = nextId("dest");
    const input = h("input", { id, type: "text", required: true, value: folder, spellcheck: "false", placeholder: "/photos/2025" });
    const errs = h("div", { hidden: true });
    const replace = h("input", { type: "checkbox" });
    const report = h("ul", { class: "transfer-errors", "aria-label": `Files not ${did.toLowerCase()}` });
    const progress = h("p", { class: "muted small", role: "status" });
    const form = h("form", { id: nextId("form") },
      h("div", { class: "field" }, h("label", { for: id }, "Destination folder"), input,
        h("span", { class: "hint" }, list.length === 1 ? "The file keeps its name." : "The files keep their names.")),
      h("label", { class: "check-label" }, replace, "Replace files that already exist there"),
      progress, errs);
    const go = h("button", { class: "btn primary", type: "submit" }, `${verb} ${files(list.length)}`);
    go.setAttribute("form", form.id);
    const d = dialog(`${verb} to a folder`, form, [h("button", { class: "btn", type: "button", onclick: () => d.close() }, "Cancel"), go]);
    // After a partial failure the button retries only the files that failed.
    let pending = list;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearError(errs);
      report.replaceChildren();
      let dest = input.value.trim().replace(/\/+$/, "");
      if (!dest.startsWith("/")) dest = "/" + dest;
      go.disabled = true;
      const failed = [];
      for (const [k, p] of pending.entries()) {
        progress.textContent = `${kind === "move" ? "Moving" : "Copying"} ${k + 1} of ${pending.length}…`;
        const target = joinPath(dest, baseName(p));
        try {
          if (!replace.checked && (await fileExists(target))) throw { message: `${target} already exists.`, suggestion: "Tick “Replace” to replace it." };
          await api("POST", v2(`/files/${kind}`), { source: p, destination: target });
        } catch (err) {
          failed.push(p);
          report.append(h("li", {}, h("code", { text: baseName(p) }), ": ", err.message, err.suggestion ? " " + err.suggestion : ""));
        }
      }
      progress.textContent = "";
      go.disabled = false;
      done();
      const n = pending.length;
      if (!failed.length) { d.close(); toast(`${did} ${files(n)} to ${dest}.`); return; }
      showError(errs, { message: `${did} ${n - failed.length} of ${files(n)} to ${dest}.`, suggestion: `Not ${did.toLowerCase()}:` });
      errs.firstChild.append(report);
      pending = failed;
      go.textContent = `${verb} ${files(failed.length)} again`;
    });
    d.showModal();
    input.focus();
    input.select();
  }

  // A row of the list. `ctx` as for gridTile. Two tab stops for a file: the
  // checkbox and the name, which opens the details. The "Details" button and
  // an image's thumbnail (the lightbox) are for the mouse only.
  function listRow(it, ctx) {
    if (it.type === "Folder") {
      const p = it.folderPath;
      return h("tr", {},
        h("td", { class: "col-check" }),
        h("td", { class: "col-thumb" }, icon("folder")),
        h("td", { class: "name-cell" }, h("a", { href: `#/files?path=${encodeURIComponent(p)}` }, baseName(p) + "/"), " ", D.visibilityBadge(it.settings)),
        h("td", { class: "num hide-sm muted" }, "—"),
        h("td", { class: "hide-sm muted" }, "Folder"),
        h("td", { class: "num" }, h("div", { class: "actions" },
          h("button", { class: "btn sm danger", type: "button", disabled: !can("folders"), "aria-label": `Delete folder ${baseName(p)}`, onclick: () => D.deleteFolder(p, ctx.reload) }, "Delete"))));
    }
    const p = it.filePath;
    const name = baseName(p);
    const open = () => D.fileDetails(p, ctx.reload);
    return h("tr", {},
      h("td", { class: "col-check" }, h("input", { type: "checkbox", "data-file": p, "aria-label": `Select ${name}`, checked: ctx.selected.has(p), onchange: (e) => ctx.toggle(p, e.target.checked) })),
      h("td", { class: "col-thumb" }, isImage(it)
        ? h("button", { class: "thumb-btn", type: "button", tabindex: "-1", "aria-hidden": "true", onclick: () => ctx.view(p) }, thumb(p))
        : thumb(p)),
      h("td", { class: "name-cell" }, h("button", { class: "linkish", type: "button", "aria-label": `Details of ${name}`, onclick: open }, name)),
      h("td", { class: "num hide-sm" }, fmtBytes(it.size)),
      h("td", { class: "hide-sm" }, fmtDate(it.lastModified)),
      h("td", { class: "num" }, h("div", { class: "actions" },
        h("button", { class: "btn sm", type: "button", tabindex: "-1", "aria-hidden": "true", onclick: open }, "Details"))));
  }
  function listTable(folder, selectAll, tbody) {
    return h("table", {},
      h("caption", { class: "visually-hidden", text: `Contents of ${folder}` }),
      h("thead", {}, h("tr", {},
        h("th", { class: "col-check", scope: "col" }, selectAll),
        h("th", { class: "col-thumb", scope: "col" }, h("span", { class: "visually-hidden" }, "Preview")),
        h("th", { scope: "col" }, "Name"),
        h("th", { class: "num hide-sm", scope: "col" }, "Size"),
        h("th", { class: "hide-sm", scope: "col" }, "Modified"),
        h("th", { class: "num", scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      tbody);
  }
  // The upload queue's card (the queue outlives the page; wave3.js adds rows):
  // a summary line, and the list that "Hide" folds away.
  function uploadsCard() {
    const uploads = D.uploads;
    const list = h("ul", { class: "uploads", id: nextId("uploads"), "aria-label": "Uploads" });
    D.setUploadList(list);
    const summary = h("span", { class: "muted small u-summary", role: "status" });
    const fold = h("button", { class: "btn sm ghost", type: "button", "aria-expanded": "true", "aria-controls": list.id, onclick: () => {
      list.hidden = !list.hidden;
      fold.setAttribute("aria-expanded", String(!list.hidden));
      fold.textContent = list.hidden ? "Show" : "Hide";
    } }, "Hide");
    const card = h("section", { class: "card", "aria-labelledby": "uploads-title", hidden: uploads.length === 0 },
      h("header", {}, h("h2", { id: "uploads-title" }, "Uploads"), summary, fold,
        h("button", { class: "btn sm ghost", type: "button", onclick: () => {
          for (const u of [...uploads]) if (u.state !== "uploading") { uploads.splice(uploads.indexOf(u), 1); u.li.remove(); }
          if (!uploads.length) card.hidden = true;
          D.onUploadsChanged();
        } }, "Clear finished")),
      list);
    for (const u of uploads) list.append(u.li);
    // "2 uploading · 5 done · 1 failed", kept current by upload.js.
    D.onUploadsChanged = () => {
      const count = (st) => uploads.filter((u) => u.state === st).length;
      summary.textContent = [["uploading", count("uploading")], ["done", count("done")], ["failed", count("failed")]]
        .filter(([, n]) => n).map(([w, n]) => `${n} ${w}`).join(" · ");
    };
    D.onUploadsChanged();
    return card;
  }
  // Drag and drop onto `panel`: files and whole folders, to `onFiles`.
  function wireDrop(panel, onFiles) {
    let depth = 0;
    panel.addEventListener("dragenter", (e) => { e.preventDefault(); depth++; panel.classList.add("dragging"); });
    panel.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; panel.classList.remove("dragging"); } });
    panel.addEventListener("dragover", (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; });
    panel.addEventListener("drop", async (e) => {
      e.preventDefault();
      depth = 0;
      panel.classList.remove("dragging");
      onFiles(e.dataTransfer);
    });
  }

  // The filter: the loaded rows whose name starts with it (case-insensitive);
  // when the folder has more rows than are loaded, also a search of the whole
  // folder, 250 ms after typing, SCAN_PAGES pages per round ("Search
  // further" continues). `state` is the page's (its items change in place).
  function folderSearch(folder, state, alive, onChange, onError) {
    const matches = (it, q) => baseName(itemPath(it)).toLowerCase().startsWith(q);
    let search = { q: "" };
    let typing;
    async function scan() {
      const s = search;
      if (!s.q || s.complete) return;
      s.busy = true;
      onChange();
      try {
        for (let i = 0; i < SCAN_PAGES && !s.complete && alive(); i++) {
          // The server searches (case-insensitive substring of the name, this
          // folder's files only); the prefix rule is applied here.
          const q = new URLSearchParams({ folderPath: folder, recursive: "false", q: s.q, sort: "name", limit: String(SCAN_LIMIT) });
          if (s.cursor) q.set("cursor", s.cursor);
          const res = await api("GET", v2(`/files/search?${q}`), undefined, { signal: s.ctrl.signal });
          s.items.push(...res.items.map((it) => ({ type: "File", ...it })).filter((it) => matches(it, s.q)));
          s.scanned += res.items.length;
          s.cursor = res.cursor;
          s.complete = !res.cursor;
          if (s === search) onChange();
        }
      } catch (err) {
        if (err.name === "AbortError" || s !== search) return;
        onError(err);
      }
      s.busy = false;
      if (s === search) onChange();
    }
    return {
      get current() { return search; },
      scan,
      // A new filter value: the loaded matches now, the deep search later.
      start(value) {
        if (search.ctrl) search.ctrl.abort();
        clearTimeout(typing);
        const q = value.toLowerCase();
        const deep = !!q && !state.complete && !state.error;
        search = { q, items: [], cursor: null, complete: !deep, scanned: 0, busy: deep, ctrl: new AbortController() };
        onChange();
        if (deep) typing = setTimeout(scan, 250);
      },
      // The loaded rows, plus what the search found further down.
      shown() {
        if (!search.q) return state.items;
        const local = state.items.filter((it) => matches(it, search.q));
        if (state.complete) return local;
        const all = new Map([...search.items, ...local].map((it) => [it.type + itemPath(it), it]));
        return [...all.values()].sort(byListing);
      },
    };
  }

  // What the pager, its button and the empty text say, from the listing's
  // state and the filter's search (`typed`: the filter as typed).
  function listingStatus(state, search, shownCount, typed) {
    const failed = !!state.error && !state.items.length;
    const searching = !!search.q && !state.complete;
    const v = { failed, status: searching ? scanText(search, typed) : "" };
    if (failed) Object.assign(v, { pager: retryable(state.error), more: true, moreText: "Try again" });
    else if (searching) Object.assign(v, { pager: true, more: !(search.complete || search.busy), moreText: "Search further" });
    else Object.assign(v, { pager: !state.complete, more: true, moreText: "Load more" });
    v.empty = !(failed || shownCount > 0 || (!search.q && !state.complete));
    if (!search.q) v.emptyText = "This folder is empty. Upload files or create a folder.";
    else if (searching && !search.complete) v.emptyText = search.busy ? "Searching…" : `No name starts with “${typed}” in the first ${search.scanned.toLocaleString()} names.`;
    else v.emptyText = `No name in this folder starts with “${typed}”.`;
    return v;
  }
  function scanText(search, typed) {
    const n = search.scanned.toLocaleString();
    if (search.complete) return `Searched every file in this folder (${n} containing “${typed}”).`;
    return search.busy ? `Searching… ${n} names so far.` : `Searched the first ${n} names.`;
  }
  // After a 403: the folders the key's rules let it list, as links.
  function listableHint(folder) {
    const folders = [...new Set((D.me()?.key.rules || []).filter((r) => r.ops.includes("list") && !r.path.includes("*")).map((r) => r.path))]
      .filter((f) => f !== folder);
    if (!folders.length) return [];
    return [h("p", { class: "small" }, "Folders this key may list: ",
      folders.flatMap((f, i) => [i ? ", " : "", h("a", { href: `#/files?path=${encodeURIComponent(f)}` }, f)]))];
  }
  async function bulkDelete(list, folder, errors, reload) {
    const n = list.length === 1 ? "1 file" : `${list.length} files`;
    if (!(await confirmDialog(`Delete ${n}?`, `This deletes ${n} from ${folder}. Previous versions are deleted too. This cannot be undone.`, "Delete"))) return;
    let failed = null;
    for (const p of list) {
      try { await api("DELETE", v2(`/files?filePath=${encodeURIComponent(p)}`)); } catch (err) { failed = err; }
    }
    if (failed) showError(errors, failed); else toast(`Deleted ${n}.`);
    reload();
  }

  // The selection's actions (shown while files are selected): delete, move, copy.
  function selectionBar(state, folder, errors, reload) {
    const chosen = () => [...state.selected];
    const bulkBtn = h("button", { class: "btn danger", type: "button", disabled: true, onclick: () => bulkDelete(chosen(), folder, errors, reload) }, "Delete selected");
    const moveBtn = h("button", { class: "btn", type: "button", disabled: true, onclick: () => transferDialog("move", chosen(), folder, reload) }, "Move to…");
    const copyBtn = h("button", { class: "btn", type: "button", disabled: true, onclick: () => transferDialog("copy", chosen(), folder, reload) }, "Copy to…");
    const selCount = h("span", { class: "sel-count", role: "status" });
    const el = h("div", { class: "selbar", role: "group", "aria-label": "Selected files", hidden: true }, selCount, moveBtn, copyBtn, bulkBtn);
    function update() {
      const n = state.selected.size;
      bulkBtn.disabled = n === 0 || !can("delete");
      bulkBtn.textContent = n ? `Delete selected (${n})` : "Delete selected";
      el.hidden = n === 0;
      selCount.textContent = `${n} selected`;
      moveBtn.disabled = n === 0 || !can("delete") || !can("create");
      copyBtn.disabled = n === 0 || !can("create");
    }
    return { el, update };
  }
  // The two "select all" boxes (list heading, grid heading) and the selection.
  function selection(state, rowsHost, bar) {
    const box = () => h("input", { type: "checkbox", "aria-label": "Select all files", disabled: true });
    const listAll = box();
    const gridAll = box();
    // Checked when every file row shown is selected, mixed when some are.
    function sync() {
      const boxes = [...rowsHost().querySelectorAll("input[data-file]")];
      const on = boxes.filter((b) => b.checked).length;
      for (const all of [listAll, gridAll]) {
        all.checked = boxes.length > 0 && on === boxes.length;
        all.indeterminate = on > 0 && on < boxes.length;
        all.disabled = boxes.length === 0;
      }
    }
    function toggle(path, on) {
      if (on) state.selected.add(path); else state.selected.delete(path);
      bar.update();
      sync();
    }
    for (const all of [listAll, gridAll]) all.addEventListener("change", (e) => {
      const on = e.target.checked; // read once: toggle's sync rewrites it
      for (const cb of rowsHost().querySelectorAll("input[data-file]")) { cb.checked = on; toggle(cb.dataset.file, on); }
    });
    return { listAll, gridAll, sync, toggle };
  }
  // The toolbar: filter, upload, from URL, new folder, visibility, search, view.
  function filesToolbar(folder, card, reload, view, onView) {
    const filterId = nextId("filter");
    const filter = h("input", { id: filterId, type: "search", placeholder: "Filter by name prefix", autocomplete: "off", spellcheck: "false" });
    const uploadInputId = nextId("upload");
    const canCreate = can("create");
    const fileInput = h("input", { id: uploadInputId, type: "file", multiple: true, disabled: !canCreate });
    const el = h("div", { class: "toolbar", role: "toolbar", "aria-label": "File actions" },
      h("div", { class: "filter" }, h("label", { for: filterId, class: "visually-hidden" }, "Filter by name prefix"), filter),
      h("label", { class: `btn primary upload-label${canCreate ? "" : " disabled"}`, for: uploadInputId, "aria-disabled": canCreate ? null : "true", title: canCreate ? null : "This key cannot upload files" }, "Upload files", fileInput),
      D.fromUrl ? D.fromUrl({ folder, canCreate, card, reload }) : null,
      h("button", { class: "btn", type: "button", disabled: !can("folders"), onclick: () => D.createFolder(folder, reload) }, "New folder"),
      h("button", { class: "btn", type: "button", onclick: () => D.folderSettings(folder) }, "Visibility"),
      h("a", { class: "btn", href: `#/search?path=${encodeURIComponent(folder)}` }, "Search"),
      viewToggle(view, onView));
    return { el, filter, fileInput, canCreate };
  }

  function pageFiles(main, params) {
    let folder = params.get("path") || "/";
    if (!folder.startsWith("/")) folder = "/" + folder;
    if (folder.length > 1) folder = folder.replace(/\/+$/, "");
    const state = { folder, items: [], cursor: null, complete: false, error: null, selected: new Set() };
    const search = folderSearch(folder, state, () => panel.isConnected, () => renderRows(), (err) => showError(errors, err));
    const errors = h("div", { hidden: true });
    const uploadCard = uploadsCard();
    let view = savedView();
    const tools = filesToolbar(folder, uploadCard, reload, view, (v) => { view = v; renderRows(); });
    const { filter, fileInput, canCreate } = tools;
    const bar = selectionBar(state, folder, errors, reload);
    const grid = h("ul", { class: "grid", "aria-label": `Contents of ${folder}` });
    const tbody = h("tbody");
    const rowsHost = () => (view === "grid" ? grid : tbody);
    const sel = selection(state, rowsHost, bar);
    const gridHead = h("div", { class: "grid-head" }, h("label", { class: "check-label" }, sel.gridAll, h("span", { "aria-hidden": "true" }, "Select all")));
    const table = listTable(folder, sel.listAll, tbody);
    const empty = h("div", { class: "empty", hidden: true });
    const status = h("p", { class: "muted small scan-status", role: "status" });
    const more = h("button", { class: "btn", type: "button", onclick: onMore }, "Load more");
    const pager = h("div", { class: "pager", hidden: true }, status, more);
    const panel = h("section", { class: "card dropzone", "aria-label": "Folder contents" },
      tools.el, bar.el, table, gridHead, grid, empty, pager,
      h("div", { class: "drophint" }, canCreate ? "Drag and drop files or whole folders here to upload them into this folder." : "This key cannot upload files."));
    main.append(pageHead("Files", null, folder === "/" ? null : ` in ${folder}`), crumbsOf(folder), errors, uploadCard, panel);

    function renderRows() {
      const shown = search.shown();
      const ctx = { selected: state.selected, toggle: sel.toggle, reload, view: viewImage };
      (view === "grid" ? tbody : grid).replaceChildren();
      if (view === "grid") grid.replaceChildren(...shown.map((it) => gridTile(it, ctx)));
      else tbody.replaceChildren(...shown.map((it) => listRow(it, ctx)));
      sel.sync();
      const v = listingStatus(state, search.current, shown.length, filter.value);
      table.hidden = v.failed || view === "grid";
      grid.hidden = v.failed || view !== "grid" || !shown.length;
      gridHead.hidden = grid.hidden;
      status.textContent = v.status;
      pager.hidden = !v.pager;
      more.hidden = !v.more;
      more.textContent = v.moreText;
      empty.hidden = !v.empty;
      empty.textContent = v.emptyText;
    }
    // The lightbox, over the images of the listing as shown (filter included).
    function viewImage(p) {
      const paths = search.shown().filter(isImage).map((it) => it.filePath);
      D.lightbox(paths, Math.max(0, paths.indexOf(p)), { details: (q) => D.fileDetails(q, reload) });
    }
    function onMore() {
      if (state.error && !state.items.length) load(true);
      else if (search.current.q && !state.complete) search.scan();
      else load(false);
    }
    async function load(reset) {
      if (reset) { state.items = []; state.cursor = null; state.complete = false; state.selected.clear(); sel.toggle("", false); }
      more.disabled = true;
      await loadPage(state, folder, errors);
      more.disabled = false;
      if (reset && search.current.q) search.start(filter.value); else renderRows();
    }
    function reload() { return load(true); }

    filter.addEventListener("input", () => search.start(filter.value));
    fileInput.addEventListener("change", () => {
      const files = [...fileInput.files].map((f) => ({ file: f, rel: f.name }));
      fileInput.value = "";
      D.startUploads(files, folder, uploadCard, reload);
    });
    wireDrop(panel, async (dt) => {
      if (!canCreate) { showError(errors, { message: "This key cannot upload files.", suggestion: "Sign in with a key that has 'create'." }); return; }
      D.startUploads(await droppedFiles(dt), folder, uploadCard, reload);
    });
    load(true);
  }
  // The listing's next page into `state` (100 rows); an error is shown.
  async function loadPage(state, folder, errors) {
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
      if (err.status === 403 && !state.items.length) errors.append(...listableHint(folder));
    }
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
