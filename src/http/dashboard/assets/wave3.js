// stowage dashboard, wave 3: upload from a URL (SPEC §5.7), usage against
// quotas (§12) and the Webhooks page (§11). Uses the helpers app.js exposes
// as window.stowageDash; loaded after it (both deferred).
"use strict";
(() => {
  const D = window.stowageDash;
  if (!D) return;
  const { h, api, v2, nextId, fmtBytes, fmtDate, joinPath, showError, clearError, toast, dialog, confirmDialog, secretDialog, pageHead, listCard } = D;

  // ---------- From URL (beside "Upload files") ----------
  D.fromUrl = ({ folder, canCreate, card, reload }) => h("button", {
    class: "btn", type: "button", disabled: !canCreate, title: canCreate ? null : "This key cannot upload files",
    onclick: () => urlDialog(folder, card, reload),
  }, "From URL");

  function urlDialog(folder, card, reload) {
    const urlId = nextId("furl"), pathId = nextId("fpath");
    const url = h("input", { id: urlId, type: "url", required: true, placeholder: "https://example.com/photo.jpg", spellcheck: "false" });
    const path = h("input", { id: pathId, type: "text", placeholder: joinPath(folder, "name.ext"), spellcheck: "false" });
    const form = h("form", { class: "from-url" },
      h("div", { class: "field" }, h("label", { for: urlId }, "File URL"), url),
      h("div", { class: "field" }, h("label", { for: pathId }, "Save as (optional)"), path,
        h("span", { class: "hint" }, `Empty: the URL's file name in ${folder}. The server fetches the URL itself.`)),
      h("div", { class: "row end" }, h("button", { class: "btn primary", type: "submit" }, "Upload from URL")));
    const d = dialog("Upload from a URL", [form], null);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      d.close();
      urlUpload(url.value.trim(), path.value.trim(), folder, card, reload);
    });
    d.showModal();
    url.focus();
  }

  function urlUpload(url, path, folder, card, reload) {
    let name = "download";
    try { name = decodeURIComponent(new URL(url).pathname.split("/").filter(Boolean).pop() || name); } catch { /* shown by the server */ }
    const shown = path || joinPath(folder, name);
    const progress = h("progress", { max: 100, "aria-label": `Upload progress for ${url}` });
    const metaLine = h("span", { class: "u-meta", "aria-live": "polite" }, "The server is fetching the URL…");
    const li = h("li", { "data-path": shown, "data-url": url },
      h("span", { class: "u-name", text: `${shown} ← ${url}` }), h("span", { class: "u-buttons" }), metaLine, progress);
    const u = { li, path: shown, state: "uploading" };
    D.uploads.push(u);
    D.uploadList().append(li);
    card.hidden = false;
    const body = { url, path: path || { folderPath: folder, fileName: "{ORIGINAL_FILE_NAME}{ORIGINAL_FILE_EXT}" } };
    api("POST", v2("/uploads/url"), body).then((res) => {
      u.state = "done";
      li.dataset.path = res.filePath || shown;
      li.firstChild.textContent = `${res.filePath || shown} ← ${url}`;
      progress.value = 100;
      progress.max = 100;
      metaLine.textContent = `Uploaded from URL · ${fmtBytes(res.size)}`;
      li.classList.add("done");
      li.setAttribute("data-done", "true");
    }, (err) => {
      u.state = "failed";
      progress.value = 0;
      metaLine.textContent = `${err.message}${err.suggestion ? " " + err.suggestion : ""}`;
      li.classList.add("failed");
    }).finally(reload);
  }

  // ---------- usage against quotas (Account page) ----------
  function bar(label, used, max, fmt) {
    const pct = max ? Math.min(100, Math.round((used / max) * 100)) : 0;
    const text = max == null ? `${fmt(used)} · no limit` : `${fmt(used)} of ${fmt(max)} (${pct}%)`;
    const fill = h("div", { class: `q-fill${max == null ? " none" : ""}` });
    fill.style.width = `${max == null ? 0 : pct}%`; // CSSOM, not a style attribute (the CSP has no 'unsafe-inline')
    return h("div", { class: `quota${max != null && pct >= 90 ? " high" : ""}` },
      h("div", { class: "q-head" }, h("span", { class: "q-label", text: label }), h("span", { class: "q-value", text })),
      h("div", { class: "q-track", role: "meter", "aria-label": `${label} used`, "aria-valuemin": 0, "aria-valuemax": max ?? undefined, "aria-valuenow": used, "aria-valuetext": text },
        fill));
  }
  // The Account page's cards after its stats: these bars, then every
  // `D.accountCards` entry (account-extras.js: activity charts, upload hook).
  D.usageCard = () => {
    const frag = document.createDocumentFragment();
    frag.append(usageCard(), ...(D.accountCards || []).map((make) => make()));
    return frag;
  };
  function usageCard() {
    const body = h("div", { class: "body" }, h("p", { class: "muted", role: "status" }, "Loading…"));
    const card = h("section", { class: "card usage", "aria-label": "Usage against quotas" }, h("header", {}, h("h2", {}, "Usage against quotas")), body);
    api("GET", v2("/usage")).then((u) => {
      const l = u.limits || {};
      const num = (n) => Number(n).toLocaleString();
      body.replaceChildren(
        bar("Files", u.files, l.maxFiles ?? null, num),
        bar("Storage", u.bytes, l.maxStorageBytes ?? null, fmtBytes),
        h("p", { class: "muted small" }, `${num(u.versions)} versions kept; ${fmtBytes(u.storedBytes)} on disk after deduplication.`));
    }, (err) => showError(body, err));
    return card;
  }

  // ---------- Webhooks ----------
  const EVENTS = ["file.created", "file.deleted", "folder.updated", "*"];
  D.pages.webhooks = (main) => {
    main.append(pageHead("Webhooks", "Signed POSTs (Standard Webhooks) to your backend when files or folders change."));
    const urlId = nextId("wurl"), descId = nextId("wdesc");
    const form = h("form", { class: "create-webhook" },
      h("h3", {}, "Add a webhook"),
      h("div", { class: "row" },
        h("div", { class: "field grow" }, h("label", { for: urlId }, "Endpoint URL"), h("input", { id: urlId, type: "url", required: true, placeholder: "https://api.example.com/hooks/stowage", spellcheck: "false" })),
        h("div", { class: "field grow" }, h("label", { for: descId }, "Description"), h("input", { id: descId, type: "text", placeholder: "optional" }))),
      h("div", { class: "ops", role: "group", "aria-label": "Events" },
        EVENTS.map((ev) => h("label", {}, h("input", { type: "checkbox", value: ev, checked: ev === "file.created", "data-event": "" }), ev === "*" ? "* (all events)" : ev))),
      h("div", { class: "row end" }, h("button", { class: "btn primary", type: "submit", disabled: !D.can("admin") }, "Add webhook")));
    const card = listCard("Endpoints", "Deliveries are retried with backoff; a 2xx within 10 s counts as delivered.",
      [["Endpoint"], ["Events", "hide-sm"], ["Created", "hide-sm"], ["", "num"]],
      (w, reload, errs) => h("tr", { "data-webhook": w.webhookId },
        h("td", {}, h("code", { text: w.url }), w.description ? h("div", { class: "muted small", text: w.description }) : null),
        h("td", { class: "hide-sm small" }, (w.events || []).join(", ")),
        h("td", { class: "hide-sm" }, fmtDate(w.createdAt)),
        h("td", { class: "num" }, h("div", { class: "actions" },
          h("button", { class: "btn sm", type: "button", "aria-label": `Send a test to ${w.url}`, onclick: async () => {
            clearError(errs);
            try { await api("POST", v2(`/webhooks/${encodeURIComponent(w.webhookId)}/test`)); toast("Test event queued."); } catch (err) { showError(errs, err); }
          } }, "Send test"),
          h("button", { class: "btn sm", type: "button", "aria-label": `Deliveries of ${w.url}`, onclick: () => deliveries(w) }, "Deliveries"),
          h("button", { class: "btn sm danger", type: "button", "aria-label": `Delete webhook ${w.url}`, onclick: async () => {
            if (!(await confirmDialog("Delete this webhook?", `${w.url} will get no more events.`, "Delete webhook"))) return;
            clearError(errs);
            try { await api("DELETE", v2(`/webhooks/${encodeURIComponent(w.webhookId)}`)); toast("Webhook deleted."); } catch (err) { showError(errs, err); }
            reload();
          } }, "Delete")))),
      () => api("GET", v2("/webhooks")), form);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const events = [...form.querySelectorAll("[data-event]:checked")].map((c) => c.value);
      clearError(card.errs);
      if (!events.length) { showError(card.errs, { message: "Choose at least one event.", suggestion: "Tick file.created, file.deleted, folder.updated or * (all)." }); return; }
      const body = { url: form.querySelector(`#${urlId}`).value.trim(), events: events.includes("*") ? ["*"] : events };
      const desc = form.querySelector(`#${descId}`).value.trim();
      if (desc) body.description = desc;
      try {
        const res = await api("POST", v2("/webhooks"), body);
        secretDialog("Webhook added", `Deliveries to ${res.url} are signed with this secret.`, "Signing secret", res.secret);
        form.reset();
        card.reload();
      } catch (err) { showError(card.errs, err); }
    });
    main.append(card);
  };

  async function deliveries(w) {
    const body = h("div", {}, h("p", { class: "muted", role: "status" }, "Loading…"));
    const refresh = h("button", { class: "btn", type: "button", onclick: () => load() }, "Refresh");
    const d = dialog(`Deliveries to ${w.url}`, [body], [refresh], { wide: true });
    d.showModal();
    const load = async () => {
      try {
        const items = (await api("GET", v2(`/webhooks/${encodeURIComponent(w.webhookId)}/deliveries`))).items || [];
        if (!items.length) { body.replaceChildren(h("p", { class: "muted" }, "No deliveries yet. Send a test, or change a file.")); return; }
        body.replaceChildren(h("table", { class: "deliveries" },
          h("caption", { class: "visually-hidden", text: "Deliveries" }),
          h("thead", {}, h("tr", {}, ["Time", "Event", "Attempt", "Result"].map((t) => h("th", { scope: "col", text: t })))),
          h("tbody", {}, items.map((x) => h("tr", { "data-outcome": x.outcome },
            h("td", { class: "small" }, fmtDate(typeof x.at === "number" ? x.at : Date.parse(x.at))),
            h("td", {}, h("code", { text: x.type }), h("div", { class: "muted small", text: x.eventId })),
            h("td", { class: "num" }, String(x.attempt)),
            h("td", {}, h("span", { class: `badge ${x.outcome === "delivered" ? "live" : "revoked"}`, text: x.outcome }),
              " ", x.statusCode != null ? `HTTP ${x.statusCode}` : "", x.error ? h("div", { class: "muted small", text: x.error }) : null))))));
      } catch (err) { showError(body, err); }
    };
    await load();
  }
})();
