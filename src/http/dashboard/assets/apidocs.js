// stowage dashboard: the API page (SPEC §13, issue #29). Renders the server's
// own /openapi.json: operations grouped by tag, each with its parameters,
// request and response schemas ($refs resolved) and a curl with this account
// filled in. An operation's details are built when it is first opened, so the
// whole document costs one <details> per operation up front.
"use strict";
(() => {
  const D = window.stowageDash;
  if (!D) return;
  const { h, nextId, pageHead, errorBox, copyText, ACC } = D;
  const METHODS = ["get", "put", "post", "patch", "delete", "head", "options"];
  let docPromise = null; // fetched once per page load

  function loadDoc() {
    docPromise ||= fetch("/openapi.json", { headers: { accept: "application/json" }, credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(`GET /openapi.json answered ${r.status}.`); return r.json(); })
      .catch((e) => { docPromise = null; throw e; });
    return docPromise;
  }

  // Every operation, in the document's order, with its tag and search text.
  function operations(doc) {
    const out = [];
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const params = [...(item.parameters || []), ...(op.parameters || [])];
        const tag = (op.tags && op.tags[0]) || "other";
        const text = `${method} ${path} ${op.summary || ""} ${op.operationId || ""} ${tag}`.toLowerCase();
        out.push({ method, path, op, params, tag, text });
      }
    }
    return out;
  }

  // ---------- schemas ----------
  const refName = (ref) => ref.split("/").pop();
  function resolve(doc, s) {
    let seen = 0;
    while (s && s.$ref && seen++ < 20) {
      const parts = s.$ref.replace(/^#\//, "").split("/");
      s = parts.reduce((o, k) => (o ? o[k.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined), doc);
    }
    return s || {};
  }
  // A one-line type: "string", "integer(int64)?", "FileDetails", "string[]", "\"a\" | \"b\"".
  function typeOf(doc, s) {
    if (!s) return "any";
    if (s.$ref) return refName(s.$ref);
    const alt = s.oneOf || s.anyOf;
    if (alt) {
      const parts = alt.filter((x) => x.type !== "null").map((x) => typeOf(doc, x));
      return parts.join(" | ") + (parts.length < alt.length ? "?" : "");
    }
    if (s.allOf) return s.allOf.map((x) => typeOf(doc, x)).join(" & ");
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
    let t = Array.isArray(s.type) ? s.type.filter((x) => x !== "null") : [s.type || (s.properties ? "object" : "any")];
    const nullable = Array.isArray(s.type) && s.type.includes("null");
    t = t.map((x) => (x === "array" ? `${typeOf(doc, s.items)}[]` : x)).join(" | ");
    if (s.format) t += `(${s.format})`;
    return t + (nullable ? "?" : "");
  }
  // The fields of an object schema (allOf merged), or null when it has none.
  function fields(doc, s, depth = 0) {
    s = resolve(doc, s);
    if (s.type === "array" || (Array.isArray(s.type) && s.type.includes("array"))) s = resolve(doc, s.items);
    let props = { ...(s.properties || {}) };
    let required = [...(s.required || [])];
    for (const part of s.allOf || []) {
      const p = resolve(doc, part);
      props = { ...props, ...(p.properties || {}) };
      required = required.concat(p.required || []);
    }
    const names = Object.keys(props);
    if (!names.length) return null;
    return h("ul", { class: "schema" }, names.map((name) => {
      const ps = props[name];
      const inner = depth < 2 && (ps.$ref || ps.properties || ps.items) ? fields(doc, ps, depth + 1) : null;
      const desc = ps.description || resolve(doc, ps).description;
      return h("li", {},
        h("code", { class: "f-name", text: name }), required.includes(name) ? h("span", { class: "req", title: "required", text: "*" }) : null,
        " ", h("span", { class: "f-type", text: typeOf(doc, ps) }),
        desc ? h("span", { class: "f-desc", text: ` — ${desc}` }) : null, inner);
    }));
  }
  function schemaBlock(doc, label, s) {
    return h("div", { class: "schema-block" },
      h("div", { class: "small" }, h("strong", { text: label }), " ", h("span", { class: "f-type", text: typeOf(doc, s) })),
      fields(doc, s));
  }

  // ---------- curl ----------
  const SAMPLE = {
    filePath: "/uploads/example.jpg", folderPath: "/uploads", days: "30", url: "https://example.com/photo.jpg",
    events: "file.created", type: "secret", "tus-resumable": "1.0.0", "upload-length": "$(wc -c < example.jpg)",
  };
  function sampleValue(doc, s, name, depth = 0) {
    s = resolve(doc, s);
    const alt = (s.oneOf || s.anyOf || []).find((x) => x.type !== "null");
    if (alt) return sampleValue(doc, alt, name, depth);
    if (s.example !== undefined) return s.example;
    if (s.enum) return s.enum[0];
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
    if (type === "array") return depth < 3 ? [sampleValue(doc, s.items, name, depth + 1)] : [];
    if (SAMPLE[String(name).toLowerCase()] ?? SAMPLE[name]) return SAMPLE[String(name).toLowerCase()] ?? SAMPLE[name];
    if (type === "integer" || type === "number") return 0;
    if (type === "boolean") return false;
    if (type === "object" || s.properties) {
      const o = {};
      if (depth < 3) for (const [k, v] of Object.entries(s.properties || {})) if ((s.required || []).includes(k)) o[k] = sampleValue(doc, v, k, depth + 1);
      return o;
    }
    return name ? name.toUpperCase().replace(/-/g, "_") : "VALUE";
  }
  const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  function curlFor(doc, o) {
    let path = o.path.replace(/\{(account|accountId)\}/g, ACC).replace(/\{([^}]+)\}/g, (_, n) => n.toUpperCase());
    // The required query parameters, and an upload's (optional) filePath.
    const query = o.params.filter((p) => p.in === "query" && (p.required || p.name === "filePath"))
      .map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(String(sampleValue(doc, p.schema, p.name))).replace(/%2F/g, "/")}`);
    if (query.length) path += `?${query.join("&")}`;
    const verb = { get: "", head: "--head " }[o.method] ?? `-X ${o.method.toUpperCase()} `;
    const lines = [`curl ${verb}"${location.origin}${path}"`];
    const security = o.op.security || doc.security || [];
    const schemes = security.flatMap((r) => Object.keys(r));
    if (schemes.includes("bearer") || schemes.includes("apiKeyHeader")) lines.push(`-H "Authorization: Bearer $STOWAGE_KEY"`);
    else if (schemes.includes("basic")) lines.push(`-u "$STOWAGE_KEY:"`);
    for (const p of o.params.filter((p) => p.in === "header" && (p.required || SAMPLE[p.name.toLowerCase()]))) lines.push(`-H "${p.name}: ${sampleValue(doc, p.schema, p.name)}"`);
    const content = (o.op.requestBody && o.op.requestBody.content) || {};
    const type = Object.keys(content)[0];
    if (type === "application/json") {
      lines.push(`-H "Content-Type: application/json"`, `-d ${shq(JSON.stringify(sampleValue(doc, content[type].schema, "")))}`);
    } else if (type && type.startsWith("multipart/")) {
      const s = resolve(doc, content[type].schema);
      const n = lines.length;
      for (const [k, v] of Object.entries(s.properties || {})) {
        const file = resolve(doc, v).format === "binary";
        if (file || (s.required || []).includes(k)) lines.push(`-F ${shq(`${k}=${file ? "@example.jpg" : sampleValue(doc, v, k)}`)}`);
      }
      if (lines.length === n) lines.push(`-F "file=@example.jpg"`);
    } else if (type) {
      lines.push(`-H "Content-Type: ${type === "*/*" ? "application/octet-stream" : type}"`, "--data-binary @example.jpg");
    }
    return lines.join(" \\\n  ");
  }

  // ---------- rendering ----------
  function paramsTable(doc, params) {
    if (!params.length) return null;
    return h("table", { class: "params" },
      h("caption", { class: "visually-hidden", text: "Parameters" }),
      h("thead", {}, h("tr", {}, ["Name", "In", "Type", "Description"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, params.map((p) => h("tr", {},
        h("td", {}, h("code", { text: p.name }), p.required ? h("span", { class: "req", title: "required", text: "*" }) : null),
        h("td", { class: "small", text: p.in }),
        h("td", {}, h("span", { class: "f-type", text: typeOf(doc, p.schema) })),
        h("td", { class: "small", text: p.description || "" })))));
  }
  function opBody(doc, o) {
    const op = o.op;
    const content = (op.requestBody && op.requestBody.content) || {};
    const responses = Object.entries(op.responses || {});
    const curl = curlFor(doc, o);
    return h("div", { class: "op-body" },
      op.description ? h("p", { class: "small", text: op.description }) : null,
      paramsTable(doc, o.params),
      Object.entries(content).map(([type, c]) => schemaBlock(doc, `Request body (${type})`, c.schema)),
      h("div", { class: "responses" }, h("strong", { class: "small" }, "Responses"),
        h("ul", { class: "resp" }, responses.map(([code, r]) => {
          r = resolve(doc, r);
          const [type, c] = Object.entries(r.content || {})[0] || [];
          const ok = code.startsWith("2");
          return h("li", { "data-status": code },
            h("span", { class: `status ${ok ? "ok" : "err"}`, text: code }), " ", r.description || "",
            c && c.schema ? h("span", { class: "f-type", text: ` ${typeOf(doc, c.schema)}${type !== "application/json" ? ` (${type})` : ""}` }) : null,
            ok && c && c.schema ? fields(doc, c.schema) : null);
        }))),
      h("div", { class: "curl" },
        h("div", { class: "row between" }, h("strong", { class: "small" }, "curl"),
          h("button", { class: "btn sm", type: "button", "aria-label": `Copy curl for ${o.method.toUpperCase()} ${o.path}`, onclick: () => copyText(curl, "curl command") }, "Copy")),
        h("pre", { class: "curl-cmd", text: curl })));
  }
  function opItem(doc, o) {
    const label = `${o.method.toUpperCase()} ${o.path}`;
    const det = h("details", { class: "op", "data-op": label },
      h("summary", {}, h("span", { class: `method m-${o.method}`, text: o.method.toUpperCase() }),
        h("code", { class: "op-path", text: o.path }), h("span", { class: "op-sum", text: o.op.summary || "" })));
    det.addEventListener("toggle", () => { if (det.open && !det.dataset.built) { det.dataset.built = "1"; det.append(opBody(doc, o)); } });
    o.el = det;
    return det;
  }

  D.pages.api = async (main, params) => {
    main.append(pageHead("API", "This server's API, from its OpenAPI 3.1 description. Set STOWAGE_KEY to a secret key to run the curl commands."));
    const body = h("div", {}, h("p", { class: "muted", role: "status" }, "Loading…"));
    main.append(body);
    let doc;
    try { doc = await loadDoc(); } catch (err) { body.replaceChildren(errorBox(err)); return; }
    const ops = operations(doc);
    const tagInfo = new Map((doc.tags || []).map((t) => [t.name, t.description || ""]));
    for (const o of ops) if (!tagInfo.has(o.tag)) tagInfo.set(o.tag, "");
    const searchId = nextId("apiq");
    const search = h("input", { id: searchId, type: "search", placeholder: "e.g. upload, webhooks, GET /v2", spellcheck: "false", autocomplete: "off" });
    const count = h("p", { class: "muted small", role: "status", "aria-live": "polite" });
    const groups = [...tagInfo].map(([tag, desc]) => {
      const mine = ops.filter((o) => o.tag === tag);
      if (!mine.length) return null;
      const sec = h("section", { class: "card api-tag", "data-tag": tag, "aria-label": tag },
        h("header", {}, h("h2", { text: tag }), desc ? h("span", { class: "muted small", text: desc }) : null),
        h("div", { class: "ops-list" }, mine.map((o) => opItem(doc, o))));
      return { sec, mine };
    }).filter(Boolean);
    const apply = () => {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const g of groups) {
        let any = false;
        for (const o of g.mine) {
          const hit = words.every((w) => o.text.includes(w));
          o.el.hidden = !hit;
          if (hit) { any = true; shown++; }
        }
        g.sec.hidden = !any;
      }
      count.textContent = words.length ? `${shown} of ${ops.length} operations match.` : `${ops.length} operations in ${groups.length} groups.`;
    };
    // The filter is kept in the address (#/api?q=…) without a re-render.
    search.value = (params && params.get("q")) || "";
    search.addEventListener("input", () => {
      apply();
      const q = search.value.trim();
      history.replaceState(null, "", `#/api${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    });
    body.replaceChildren(
      h("div", { class: "api-tools" },
        h("div", { class: "field grow" }, h("label", { for: searchId }, "Filter operations"), search),
        h("a", { class: "btn", href: "/openapi.json", download: "openapi.json" }, "Download openapi.json")),
      count, ...groups.map((g) => g.sec));
    apply();
  };
})();
