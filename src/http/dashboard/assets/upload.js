// stowage dashboard: multipart uploads (SPEC §5.3) with progress, retry of
// failed parts and resume. The queue survives page changes.
"use strict";
(() => {
  const D = window.stowageDash;
  const { h, api, v2, nextId, fmtBytes, joinPath, baseName, ApiError, retryable, confirmDialog, copyText, fileExists } = D;

  const uploads = []; // upload queue entries (kept across navigation)
  let uploadList = null;
  
  // ---------- multipart uploads (SPEC §5.3) ----------
  const PARALLEL = 4;
  const TRIES = 3;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // The target paths that already hold a file (8 lookups at a time; a path
  // the key may not read counts as free: the server decides on upload).
  async function existing(paths) {
    const found = [];
    const queue = [...paths];
    const worker = async () => {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) if (await fileExists(p)) found.push(p);
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
    return found;
  }
  // Asks before replacing files: "Replace" uploads all, "Cancel" none.
  async function mayReplace(files, folder) {
    const taken = await existing(files.map(({ rel }) => joinPath(folder, rel)));
    if (!taken.length) return true;
    const n = taken.length;
    const names = taken.slice(0, 5).map((p) => baseName(p)).join(", ") + (n > 5 ? ` and ${n - 5} more` : "");
    return confirmDialog(n === 1 ? "Replace a file?" : `Replace ${n} files?`,
      `${names} ${n === 1 ? "already exists" : "already exist"} in ${folder}. Uploading makes the new content current; the old one is kept as a previous version.`,
      n === 1 ? "Replace" : `Replace ${n} files`);
  }

  async function startUploads(files, folder, card, done) {
    if (!files.length) return;
    if (!(await mayReplace(files, folder))) return;
    card.hidden = false;
    let pending = files.length;
    for (const { file, rel } of files) {
      const u = newUploadEntry(file, joinPath(folder, rel), done);
      uploads.push(u);
      uploadList.append(u.li);
      if (D.onUploadsChanged) D.onUploadsChanged();
      runUpload(u).finally(() => { if (--pending === 0) done(); });
    }
  }

  function newUploadEntry(file, path, done) {
    const pid = nextId("prog");
    const progress = h("progress", { id: pid, max: 100, value: 0, "aria-label": `Upload progress for ${file.name}` });
    const metaLine = h("span", { class: "u-meta", "aria-live": "polite" }, "Waiting…");
    const cancel = h("button", { class: "btn sm", type: "button", "aria-label": `Cancel upload of ${file.name}` }, "Cancel");
    const retry = h("button", { class: "btn sm primary", type: "button", hidden: true, "aria-label": `Retry upload of ${file.name}` }, "Retry");
    const copy = h("button", { class: "btn sm", type: "button", hidden: true, "aria-label": `Copy the URL of ${file.name}`, onclick: () => copyText(u.fileUrl, "URL") }, "Copy URL");
    const li = h("li", { "data-path": path },
      h("span", { class: "u-name", text: path }), h("span", { class: "u-buttons" }, cancel, retry, copy), metaLine, progress);
    // id/count/confirmed survive a failure, so Retry resumes the same session.
    const u = { file, path, li, progress, metaLine, cancel, retry, copy, state: "uploading", xhrs: new Set(), aborted: false, id: null, count: 0, first: null, confirmed: new Map() };
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
    if (state === "done") { u.progress.value = 100; u.copy.hidden = !u.fileUrl; }
    if (D.onUploadsChanged) D.onUploadsChanged();
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
    Object.assign(u, { id: begin.uploadId, count: begin.uploadParts.count, first: begin.uploadParts.first, fileUrl: begin.file && begin.file.fileUrl });
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

  // Bytes per second, smoothed: an exponential moving average (time
  // constant 3 s) of rates measured at least 250 ms apart. `add(total)` takes
  // the bytes sent so far, which may fall when a part starts again.
  function rateMeter(now = () => performance.now()) {
    let last = null;
    let rate = null;
    return {
      add(total) {
        const t = now();
        if (!last) { last = { t, total }; return; }
        const dt = t - last.t;
        if (dt < 250) return;
        const inst = (Math.max(0, total - last.total) * 1000) / dt;
        rate = rate == null ? inst : rate + (1 - Math.exp(-dt / 3000)) * (inst - rate);
        last = { t, total };
      },
      get rate() { return rate; },
    };
  }
  function fmtDuration(sec) {
    const s = Math.max(1, Math.ceil(sec));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
    return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
  }
  // "42% · 7.1 MB of 17 MB · 2.3 MB/s · 5 s left" (speed once measured).
  function progressText(sent, size, rate) {
    const base = `${pctOf(sent, size)}% · ${fmtBytes(sent)} of ${fmtBytes(size)}`;
    if (!rate) return base;
    return `${base} · ${fmtBytes(rate)}/s · ${fmtDuration((size - sent) / rate)} left`;
  }

  async function runUpload(u) {
    const size = u.file.size;
    const inflight = new Map();
    const meter = rateMeter();
    const update = () => {
      if (u.state !== "uploading") return;
      const sum = sumOf(u.confirmed) + sumOf(inflight);
      meter.add(sum);
      u.progress.value = pctOf(sum, size);
      u.metaLine.textContent = progressText(sum, size, meter.rate);
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

  Object.assign(D, { rateMeter, progressText, uploads, uploadList: () => uploadList, setUploadList: (el) => { uploadList = el; }, startUploads });
})();
