// stowage dashboard: the Keys, Presets and Account pages.
"use strict";
(() => {
  const D = window.stowageDash;
  const { h, $, api, v2, ACC, nextId, fmtBytes, fmtDate, encPath, errorBox, showError, clearError, toast, confirmDialog, can, call, secretDialog, pageHead } = D;

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
      [["Name"], ["Key"], ["Type", "hide-sm"], ["Rules", "hide-sm"], ["Last used", "hide-sm"], ["", "num"]],
      (k, reload, errs) => h("tr", {},
        h("td", {}, k.name || h("span", { class: "muted" }, "—")),
        h("td", {}, h("code", { text: k.display }), k.revokedAt ? h("span", { class: "badge revoked" }, " revoked") : null),
        h("td", { class: "hide-sm" }, k.type),
        h("td", { class: "hide-sm small" }, (k.rules || []).length ? ruleLines(k.rules) : h("span", { class: "muted" }, "All (default)")),
        h("td", { class: "hide-sm small", "data-last-used": k.lastUsedAt || "", title: "Recorded to the minute" }, k.lastUsedAt ? fmtDate(k.lastUsedAt) : h("span", { class: "muted" }, "Never")),
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
    main.append(pageHead("Transformation presets", "Named image parameter sets, served at /{account}/{preset}/{path}. The Files page shows thumbnails through the preset named \"thumbnail\" when it exists (else w=96&h=96&fit=crop&f=webp)."));
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
    const ME = D.me();
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
        D.usageCard ? D.usageCard() : null,
        keyCard);
    } catch (err) {
      box.replaceChildren(errorBox(err), keyCard);
    }
  }

  Object.assign(D.pages, { keys: pageKeys, presets: pagePresets, account: pageAccount });
  D.listCard = listCard;
})();
