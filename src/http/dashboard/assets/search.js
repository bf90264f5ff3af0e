// stowage dashboard: the Search page (#/search). The server searches
// (GET …/files/search, SPEC §7): a case-insensitive part of the name, a type,
// size and date ranges, a tag, in a folder (with or without what is below it)
// or the whole account; sortable columns, cursor pages and the total count.
// The form is kept in the address (#/search?q=…&sort=size&order=desc).
"use strict";
(() => {
  const D = window.stowageDash;
  const { h, api, v2, nextId, fmtBytes, fmtDate, baseName, showError, pageHead } = D;
  const TYPES = [["", "Any type"], ["image/*", "Images"], ["video/*", "Videos"], ["audio/*", "Audio"], ["application/pdf", "PDF documents"], ["text/*", "Text"]];
  const UNITS = [["KB", 1024], ["MB", 1024 ** 2], ["GB", 1024 ** 3]];
  const COLS = [["name", "Name", ""], ["size", "Size", "num"], ["lastModified", "Modified", "hide-sm"]];
  const PAGE = 50;
  // Address parameters the form keeps (and the search sends, but for unit).
  const KEEP = ["q", "mime", "min", "max", "unit", "from", "to", "tag", "path", "scope", "sort", "order"];

  // A labelled control.
  function field(label, control, cls = "") {
    control.id = control.id || nextId("s");
    return h("div", { class: `field ${cls}` }, h("label", { for: control.id }, label), control);
  }
  const input = (name, attrs = {}) => h("input", { name, autocomplete: "off", spellcheck: "false", ...attrs });
  function select(name, options, value) {
    const el = h("select", { name }, options.map(([v, label]) => h("option", { value: v }, label)));
    el.value = value || options[0][0];
    return el;
  }

  // The form, filled from the address.
  function searchForm(params, onSubmit) {
    const get = (k) => params.get(k) || "";
    const controls = {
      q: input("q", { type: "search", placeholder: "Part of the file name", value: get("q") }),
      mime: select("mime", TYPES, get("mime")),
      tag: input("tag", { type: "text", placeholder: "e.g. invoice", value: get("tag") }),
      min: input("min", { type: "number", min: "0", step: "any", inputmode: "decimal", value: get("min") }),
      max: input("max", { type: "number", min: "0", step: "any", inputmode: "decimal", value: get("max") }),
      unit: select("unit", UNITS.map(([u]) => [u, u]), get("unit")),
      from: input("from", { type: "date", value: get("from") }),
      to: input("to", { type: "date", value: get("to") }),
      path: input("path", { type: "text", placeholder: "/", value: get("path") || "/" }),
      scope: select("scope", [["below", "Folder and below"], ["only", "Folder only"], ["account", "Whole account"]], get("scope")),
    };
    const form = h("form", { class: "card search-form", role: "search", "aria-label": "Search files" },
      h("div", { class: "search-grid" },
        field("Name contains", controls.q, "wide"), field("Type", controls.mime), field("Tag", controls.tag),
        field("Size from", controls.min), field("Size to", controls.max), field("Unit", controls.unit),
        field("Modified from", controls.from), field("Modified to", controls.to),
        field("Folder", controls.path), field("Where", controls.scope)),
      h("div", { class: "row-actions" },
        h("button", { class: "btn primary", type: "submit" }, "Search"),
        h("button", { class: "btn ghost", type: "reset" }, "Clear")));
    controls.path.disabled = controls.scope.value === "account";
    controls.scope.addEventListener("change", () => { controls.path.disabled = controls.scope.value === "account"; });
    form.addEventListener("reset", () => setTimeout(() => { controls.path.value = "/"; controls.path.disabled = false; }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const out = new URLSearchParams();
      for (const [k, el] of Object.entries(controls)) if (el.value && !(k === "path" && el.disabled)) out.set(k, el.value.trim());
      onSubmit(out);
    });
    return { form, focus: () => controls.q.focus() };
  }

  // The query string of GET …/files/search for the form's parameters.
  function apiQuery(p, cursor) {
    const q = new URLSearchParams({ sort: p.get("sort") || "name", order: p.get("order") || "asc", limit: String(PAGE) });
    if (p.get("q")) q.set("q", p.get("q"));
    if (p.get("mime")) q.set("mime", p.get("mime"));
    if (p.get("tag")) q.set("tag", p.get("tag"));
    const unit = (UNITS.find(([u]) => u === p.get("unit")) || UNITS[0])[1];
    if (p.get("min")) q.set("minSize", String(Math.ceil(Number(p.get("min")) * unit)));
    if (p.get("max")) q.set("maxSize", String(Math.floor(Number(p.get("max")) * unit)));
    // Dates are whole local days: from its first to its last millisecond.
    if (p.get("from")) q.set("from", String(new Date(`${p.get("from")}T00:00:00`).getTime()));
    if (p.get("to")) q.set("to", String(new Date(`${p.get("to")}T23:59:59.999`).getTime()));
    const scope = p.get("scope") || "below";
    q.set("folderPath", scope === "account" ? "/" : p.get("path") || "/");
    q.set("recursive", String(scope !== "only"));
    if (cursor) q.set("cursor", cursor);
    return q;
  }

  // A sortable column heading: a button that sorts by it, then reverses.
  function sortHead(p, [key, label, cls], onSort) {
    const on = (p.get("sort") || "name") === key;
    const desc = on && p.get("order") === "desc";
    return h("th", { scope: "col", class: cls || null, "aria-sort": on ? (desc ? "descending" : "ascending") : "none" },
      h("button", { class: "sort-btn", type: "button", "data-sort": key, onclick: () => onSort(key, on && !desc ? "desc" : "asc") },
        label, h("span", { "aria-hidden": "true", class: "sort-mark" }, on ? (desc ? " ▼" : " ▲") : "")));
  }

  function resultRow(it, again) {
    const p = it.filePath;
    const folder = p.slice(0, p.lastIndexOf("/")) || "/";
    return h("tr", {},
      h("td", { class: "col-thumb" }, D.thumb(p)),
      h("td", { class: "name-cell" },
        h("button", { class: "linkish", type: "button", "aria-label": `Details of ${baseName(p)}`, onclick: () => D.fileDetails(p, again) }, baseName(p)),
        h("div", { class: "small muted" }, h("a", { href: `#/files?path=${encodeURIComponent(folder)}`, "aria-label": `Open folder ${folder}` }, folder))),
      h("td", { class: "num" }, fmtBytes(it.size)),
      h("td", { class: "hide-sm" }, fmtDate(it.lastModified)),
      h("td", { class: "hide-sm muted" }, it.mime || "—"));
  }

  D.pages.search = (main, params) => {
    const p = new URLSearchParams([...params].filter(([k]) => KEEP.includes(k)));
    const errors = h("div", { hidden: true });
    const { form, focus } = searchForm(p, (next) => { for (const k of ["sort", "order"]) if (p.get(k)) next.set(k, p.get(k)); run(next); });
    const count = h("p", { class: "muted small", role: "status", "aria-live": "polite" });
    const thead = h("thead");
    const tbody = h("tbody");
    const table = h("table", { class: "search-results", hidden: true }, h("caption", { class: "visually-hidden", text: "Search results" }), thead, tbody);
    const more = h("button", { class: "btn", type: "button", hidden: true, onclick: () => page(false) }, "Load more");
    main.append(pageHead("Search", "Find files by name, type, size, date or tag, in a folder or the whole account."),
      form, errors, h("section", { class: "card", "aria-label": "Results" }, h("div", { class: "search-count" }, count), table, h("div", { class: "pager" }, more)));
    let cursor = null;
    let seq = 0;

    function heads() {
      thead.replaceChildren(h("tr", {},
        h("th", { class: "col-thumb", scope: "col" }, h("span", { class: "visually-hidden" }, "Preview")),
        ...COLS.map((c) => sortHead(p, c, (sort, order) => { p.set("sort", sort); p.set("order", order); run(p); })),
        h("th", { class: "hide-sm", scope: "col" }, "Type")));
    }
    // A new search (the address follows it) or the next page of this one.
    function run(next) {
      const entries = [...next];
      for (const k of [...p.keys()]) p.delete(k);
      for (const [k, v] of entries) p.set(k, v);
      history.replaceState(null, "", `#/search${p.size ? `?${p}` : ""}`);
      page(true);
    }
    async function page(reset) {
      const mine = ++seq;
      if (reset) { cursor = null; heads(); }
      more.disabled = true;
      count.textContent = "Searching…";
      try {
        const res = await api("GET", v2(`/files/search?${apiQuery(p, cursor)}`));
        if (mine !== seq) return;
        errors.hidden = true;
        const rows = res.items.map((it) => resultRow(it, () => page(true)));
        if (reset) tbody.replaceChildren(...rows); else tbody.append(...rows);
        cursor = res.cursor;
        const shown = tbody.children.length;
        const total = res.total.toLocaleString();
        count.textContent = res.total === 0 ? "No file matches." : `${total} ${res.total === 1 ? "file matches" : "files match"}; ${shown === res.total ? "all shown" : `${shown.toLocaleString()} shown`}.`;
        table.hidden = res.total === 0;
        more.hidden = !cursor;
      } catch (err) {
        if (mine !== seq) return;
        count.textContent = "";
        showError(errors, err);
      }
      more.disabled = false;
    }
    page(true);
    focus();
  };
  D.titles = Object.assign(D.titles || {}, { search: "Search" });
})();
