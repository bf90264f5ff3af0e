// stowage dashboard: images as images — the lightbox of the Files page and
// the transformation URL builder of an image's details (SPEC §6.1).
"use strict";
(() => {
  const D = window.stowageDash;
  const { h, api, v2, ACC, nextId, baseName, encPath, errorBox, copyText } = D;

  // Transformed through the dashboard's session (works in private folders).
  const local = (path, query) => `/dashboard/api/${ACC}/image${encPath(path)}${query ? "?" + query : ""}`;
  // WebP, not f=auto: Chromium's Accept names AVIF, which takes seconds per
  // image to encode; a grid of 100 would keep the server's pool busy.
  const GRID_PARAMS = "w=256&h=256&fit=crop&f=webp";
  const VIEW_PARAMS = "w=1600&h=1600&f=webp"; // fit=max: never enlarged
  const gridSrc = (path) => local(path, GRID_PARAMS);

  // ---------- lightbox ----------
  // `paths`: the images of the listing, in its order; `index`: the one to show.
  // A modal <dialog>: Escape closes it, Tab stays inside, ← → (and the
  // buttons) move through the images, wrapping around; the focus returns to
  // what opened it.
  function lightbox(paths, index, opts = {}) {
    const opener = document.activeElement;
    let i = index;
    const img = h("img", { class: "lb-img", alt: "" });
    const caption = h("span", { class: "lb-name" });
    const counter = h("span", { class: "lb-count" });
    const size = h("span", { class: "lb-size" });
    const prev = h("button", { class: "btn lb-nav lb-prev", type: "button", "aria-label": "Previous image", onclick: () => show(i - 1) }, "‹");
    const next = h("button", { class: "btn lb-nav lb-next", type: "button", "aria-label": "Next image", onclick: () => show(i + 1) }, "›");
    const close = h("button", { class: "btn lb-close", type: "button", "aria-label": "Close", onclick: () => d.close() }, "✕");
    const details = opts.details ? h("button", { class: "btn sm", type: "button", onclick: () => { const p = paths[i]; d.close(); opts.details(p); } }, "Details") : null;
    // A click beside the image (on the dark stage) closes, as Escape does.
    const stage = h("div", { class: "lb-stage", onclick: (e) => { if (e.target === stage) d.close(); } }, img);
    const d = h("dialog", { class: "lightbox", "aria-label": "Image" },
      h("figure", {}, stage,
        h("figcaption", {}, caption, counter, size, details)),
      paths.length > 1 ? [prev, next] : null, close);
    img.addEventListener("load", () => { size.textContent = `${img.naturalWidth} × ${img.naturalHeight}`; });
    img.addEventListener("error", () => { size.textContent = "Cannot be shown"; });
    d.addEventListener("keydown", (e) => {
      if (e.key === "ArrowLeft" && paths.length > 1) { e.preventDefault(); show(i - 1); }
      else if (e.key === "ArrowRight" && paths.length > 1) { e.preventDefault(); show(i + 1); }
    });
    d.addEventListener("close", () => {
      setTimeout(() => d.remove(), 0);
      if (opener && opener.isConnected) opener.focus();
    });
    document.body.append(d);
    d.showModal();
    show(i);
    (paths.length > 1 ? next : close).focus();
    return d;

    function show(n) {
      i = (n + paths.length) % paths.length;
      const p = paths[i];
      size.textContent = "";
      img.src = local(p, VIEW_PARAMS);
      img.alt = baseName(p);
      caption.textContent = baseName(p);
      counter.textContent = `${i + 1} of ${paths.length}`;
      d.setAttribute("aria-label", `${baseName(p)}, image ${i + 1} of ${paths.length}`);
      // The neighbours, so that the next arrow press shows at once.
      for (const k of [i - 1, i + 1]) if (paths.length > 2 || k !== i) new Image().src = local(paths[(k + paths.length) % paths.length], VIEW_PARAMS);
    }
  }

  // ---------- transformation URL builder ----------
  const FITS = [["", "max (default)"], ["crop", "crop"], ["pad", "pad"], ["stretch", "stretch"]];
  const FORMATS = [["", "auto (default)"], ["webp", "webp"], ["avif", "avif"], ["jpg", "jpg"], ["png", "png"]];

  // The query a choice makes: only SPEC §6.1 parameters, defaults left out.
  // A preset URL may only change the format and quality.
  function queryOf(v) {
    const q = new URLSearchParams();
    if (!v.preset) {
      if (v.w) q.set("w", v.w);
      if (v.h) q.set("h", v.h);
      if (v.fit) q.set("fit", v.fit);
      if (v.fit === "pad" && v.bg) q.set("bg", v.bg.replace(/^#/, ""));
    }
    if (v.f) q.set("f", v.f);
    if (v.q) q.set("q", v.q);
    return q.toString();
  }
  // `/{acc}/image{path}?…` or `/{acc}/{preset}{path}?…`.
  const pathOf = (v, path) => `/${ACC}/${v.preset || "image"}${encPath(path)}`;

  // `fileUrl` (FileDetails) gives the public origin the URL is built on.
  function transformBuilder(path, fileUrl) {
    const at = fileUrl.indexOf(`/${ACC}/raw/`);
    const origin = at >= 0 ? fileUrl.slice(0, at) : location.origin;
    const field = (label, input, hint) => {
      input.id = nextId("tb");
      return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hint ? h("span", { class: "hint" }, hint) : null);
    };
    const select = (opts) => h("select", {}, opts.map(([v, t]) => h("option", { value: v }, t)));
    const num = (min, max, ph) => h("input", { type: "number", min, max, step: 1, placeholder: ph, inputmode: "numeric" });
    const preset = h("select", {}, h("option", { value: "" }, "None: parameters below"));
    const w = num(1, 8192, "auto"), hh = num(1, 8192, "auto");
    const fit = select(FITS), fmt = select(FORMATS);
    const bg = h("input", { type: "text", placeholder: "ffffff", spellcheck: "false", maxlength: 7 });
    const quality = num(1, 100, "80");
    const bgField = field("Background (pad)", bg, "Hex colour, e.g. ffff00");
    const geometry = h("div", { class: "tb-grid" }, field("Width", w, "1–8192 px"), field("Height", hh, "1–8192 px"), field("Fit", fit), bgField);
    const out = h("textarea", { readonly: true, rows: 2, class: "tb-url", "aria-label": "Transformation URL", spellcheck: "false" });
    const open = h("a", { class: "btn", target: "_blank", rel: "noopener" }, "Open");
    const result = h("p", { class: "muted small tb-result", role: "status" });
    const stage = h("div", { class: "preview tb-preview" });
    const values = () => ({ preset: preset.value, w: w.value.trim(), h: hh.value.trim(), fit: fit.value, bg: bg.value.trim(), f: fmt.value, q: quality.value.trim() });
    let timer, shown = "";
    function update() {
      const v = values();
      geometry.hidden = !!v.preset;
      bgField.hidden = v.fit !== "pad";
      const q = queryOf(v);
      const url = `${origin}${pathOf(v, path)}${q ? "?" + q : ""}`;
      out.value = url;
      open.href = url;
      clearTimeout(timer);
      timer = setTimeout(() => render(`/dashboard/api${pathOf(v, path)}${q ? "?" + q : ""}`), 300);
    }
    function render(src) {
      if (src === shown) return;
      shown = src;
      result.textContent = "Loading…";
      const img = h("img", { alt: `Result of ${out.value}`, src });
      img.addEventListener("load", () => { if (shown === src) result.textContent = `Result: ${img.naturalWidth} × ${img.naturalHeight} px`; });
      img.addEventListener("error", async () => {
        if (shown !== src) return;
        result.textContent = "";
        let err = { message: "This image cannot be made." };
        try {
          const body = await (await fetch(src, { credentials: "same-origin" })).json();
          if (body && body.error) err = body.error;
        } catch { /* not JSON */ }
        if (shown === src) stage.replaceChildren(errorBox(err));
      });
      stage.replaceChildren(img);
    }
    for (const el of [preset, w, hh, fit, bg, fmt, quality]) el.addEventListener("input", update);
    api("GET", v2("/transformations")).then((res) => {
      for (const p of res.items || []) preset.append(h("option", { value: p.preset, title: p.params }, `${p.preset} (${p.params})`));
    }).catch(() => { preset.disabled = true; });
    update();
    return h("div", { class: "section tb" },
      h("h3", {}, "Transformation URL"),
      h("p", { class: "hint" }, "Pick a size, fit, format and quality, or a preset (a preset URL may only change format and quality)."),
      field("Preset", preset),
      geometry,
      h("div", { class: "tb-grid" }, field("Format", fmt), field("Quality", quality, "1–100")),
      out,
      h("div", { class: "row tb-actions" },
        h("button", { class: "btn primary", type: "button", onclick: () => copyText(out.value, "Image URL") }, "Copy URL"), open),
      h("p", { class: "hint" }, "Anyone can open it in a Public folder, or in a Limited one that allows its slug (image, or the preset); elsewhere it needs credentials."),
      stage, result);
  }

  Object.assign(D, { lightbox, transformBuilder, gridSrc });
})();
