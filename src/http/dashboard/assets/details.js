// stowage dashboard: the file details dialog and the folder dialogs (new
// folder, delete, visibility).
"use strict";
(() => {
  const D = window.stowageDash;
  const { h, api, v2, ACC, nextId, fmtBytes, fmtDate, joinPath, baseName, encPath, errorBox, showError, clearError, toast, dialog, confirmDialog, can, copyText } = D;

  // ---------- file details ----------
  // FileDetails has no pixel size: the preview's natural size is it (a format
  // the browser cannot show, e.g. TIFF, previewed through /image unresized).
  function imagePreview(path, rawLocal) {
    const dims = h("dd", { class: "dims" }, "…");
    const img = h("img", { src: rawLocal, alt: `Preview of ${baseName(path)}` });
    const preview = h("div", { class: "preview" }, img);
    img.addEventListener("load", () => { dims.textContent = `${img.naturalWidth} × ${img.naturalHeight} px`; });
    img.addEventListener("error", () => {
      const viaImage = `/dashboard/api/${ACC}/image${encPath(path)}?f=webp`;
      if (img.getAttribute("src") !== viaImage) img.src = viaImage;
      else { dims.textContent = "—"; preview.remove(); }
    });
    return { preview, dims };
  }

  // The versions, newest (current) first; an older one can be made current
  // (POST …/files/restore, a new version with its bytes) or downloaded.
  function versionsTable(path, versions, rawLocal, errs, reopen) {
    const restore = (v, i) => h("button", { class: "btn sm", type: "button", disabled: !can("overwrite"), "aria-label": `Restore version ${i + 1}`, onclick: async () => {
      if (!(await confirmDialog("Restore this version?", `Version ${v.versionId.slice(0, 12)} becomes the current content of ${path}. The current one is kept as a previous version.`, "Restore"))) return;
      clearError(errs);
      try {
        await api("POST", v2("/files/restore"), { filePath: path, versionId: v.versionId });
        toast(`Restored version ${v.versionId.slice(0, 12)}.`);
        reopen();
      } catch (err) { showError(errs, err); }
    } }, "Restore");
    return h("table", {},
      h("caption", { class: "visually-hidden", text: "Versions" }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Version"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col", class: "hide-sm" }, "Date"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      h("tbody", {}, versions.map((v, i) => h("tr", {},
        h("td", {}, h("code", { text: v.versionId.slice(0, 12) }), i === 0 ? h("span", { class: "badge live", style: null }, " current") : null),
        h("td", { class: "num" }, fmtBytes(v.size)),
        h("td", { class: "hide-sm" }, fmtDate(v.lastModified)),
        h("td", { class: "num" }, h("div", { class: "actions" },
          i > 0 ? restore(v, i) : null,
          h("a", { class: "btn sm", href: `${rawLocal}?versionId=${encodeURIComponent(v.versionId)}&download=true`, "aria-label": `Download version ${i + 1}` }, "Download")))))));
  }

  // "Create signed link": an expiry, the button, and the link once made.
  function signedLinkSection(path) {
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
    return h("div", { class: "section" },
      h("h3", {}, "Signed link"),
      h("div", { class: "row" }, h("label", { for: expId }, "Expires in"), h("div", {}, exp), signBtn),
      linkOut);
  }

  // "Copy to another path".
  function copySection(path, errs, refresh) {
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
    return h("div", { class: "section" },
      h("h3", {}, "Copy to another path"),
      h("div", { class: "row" }, h("label", { for: destId, class: "visually-hidden" }, "Destination path"), h("div", { class: "grow" }, dest), copyBtn));
  }

  function propsList(det, isImage, dims) {
    const tags = (det.tags || []).length ? h("div", { class: "tags" }, det.tags.map((t) => h("span", { class: "badge", text: t }))) : h("span", { class: "muted" }, "None");
    return h("dl", { class: "props" },
      h("dt", {}, "Path"), h("dd", {}, h("code", { text: det.filePath })),
      h("dt", {}, "Size"), h("dd", {}, `${fmtBytes(det.size)} (${det.size.toLocaleString()} bytes)`),
      h("dt", {}, "Type"), h("dd", {}, det.mime),
      isImage ? [h("dt", {}, "Dimensions"), dims] : null,
      h("dt", {}, "ETag"), h("dd", {}, h("code", { text: det.etag })),
      h("dt", {}, "Modified"), h("dd", {}, fmtDate(det.lastModified)),
      h("dt", {}, "Original name"), h("dd", {}, det.originalFileName || "—"),
      h("dt", {}, "Tags"), h("dd", {}, tags));
  }

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
    const isImage = !!det.mime && det.mime.startsWith("image/") && det.mime !== "image/svg+xml";
    const { preview, dims } = isImage ? imagePreview(path, rawLocal) : {};
    const reopen = () => { d.close(); refresh(); fileDetails(path, refresh); };
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
      propsList(det, isImage, dims),
      h("h3", {}, "Metadata"),
      h("pre", { class: "json", tabindex: "0", "aria-label": "Metadata" }, JSON.stringify(det.metadata || {}, null, 2)),
      h("div", { class: "section" },
        h("h3", {}, "URL"),
        h("div", { class: "secret-box" }, h("input", { type: "text", readonly: true, value: det.fileUrl, "aria-label": "File URL", class: "grow" }),
          h("button", { class: "btn", type: "button", onclick: () => copyText(det.fileUrl, "URL") }, "Copy URL"))),
      isImage && D.transformBuilder ? D.transformBuilder(path, det.fileUrl) : null,
      signedLinkSection(path),
      copySection(path, errs, refresh),
      h("div", { class: "section" }, h("h3", {}, `Versions (${versions.length})`), versionsTable(path, versions, rawLocal, errs, reopen)),
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

  // How many files are at or below `path` (the search's total), or null.
  async function filesBelow(path) {
    try {
      const q = new URLSearchParams({ folderPath: path, recursive: "true", limit: "1" });
      return (await api("GET", v2(`/files/search?${q}`))).total;
    } catch { return null; }
  }
  async function deleteFolder(path, refresh) {
    const n = await filesBelow(path);
    const what = n == null ? "everything in it (all files and subfolders)" : n === 0 ? "its subfolders (it holds no files)" : `the ${n.toLocaleString()} ${n === 1 ? "file" : "files"} in it and below it`;
    if (!(await confirmDialog("Delete this folder?", `${path} and ${what} will be deleted. This cannot be undone.`, n ? `Delete folder and ${n.toLocaleString()} ${n === 1 ? "file" : "files"}` : "Delete folder"))) return;
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
  // A folder row's badge: its own visibility setting, or null when it inherits.
  function visibilityBadge(settings) {
    if (!settings || !("publicPermissions" in settings)) return null;
    const c = classify(settings.publicPermissions);
    return h("span", { class: `badge vis-${c.mode}`, title: `Own setting: ${describe(c)}` }, describe(c));
  }
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


  Object.assign(D, { fileDetails, createFolder, deleteFolder, folderSettings, visibilityBadge });
})();
