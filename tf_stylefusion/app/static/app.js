// stylefusion app: sliders, brush and previews. Plain JavaScript, no build step, nothing loaded
// from elsewhere (the page works offline).
"use strict";

const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
                "#bfef45", "#9a6324", "#469990", "#800000", "#000075"];
const PREVIEW_DELAY_MS = 120;  // debounce: a slider drag sends one request per pause, not per pixel
// Names this page to the server, which renders only the newest of its previews in the order sent.
const PAGE_ID = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Math.random()).slice(2);

const $ = (id) => document.getElementById(id);
const state = {
  model: null,      // /api/model
  photo: null,      // the uploaded photo: {id, name, width, height, preview_width, preview_height}
  rows: [],         // one per style: {name, kind: "bank" | "image", id?, weight, layer, painted}
  brushRow: 0,
  previewSeq: 0,    // the newest preview request sent
  shownSeq: 0,      // the request whose answer is on screen; older answers are dropped
  previewTimer: null,
  maskCache: null,  // mask PNG blobs, rebuilt only after the painting changes
};

// ---------- messages ----------

function showError(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = false;
}

function clearError() {
  $("message").hidden = true;
  $("message").textContent = "";
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (e) { /* not JSON: fall through */ }
  return `the app answered ${response.status} ${response.statusText}`;
}

function setPending(pending) {
  document.body.dataset.pending = pending ? "1" : "0";
}

// ---------- style rows: sliders and paint layers ----------

function newLayer() {
  const c = document.createElement("canvas");
  c.width = $("paint").width;
  c.height = $("paint").height;
  return c;
}

function addRow(name, kind, id, weight) {
  const row = {name, kind, id, weight, layer: newLayer(), painted: false};
  state.rows.push(row);
  renderRows();
  return row;
}

function renderRows() {
  const box = $("styles");
  box.textContent = "";
  const total = state.rows.reduce((s, r) => s + r.weight, 0);
  state.rows.forEach((row, i) => {
    const el = document.createElement("div");
    el.className = "style-row";
    el.dataset.row = String(i);
    const swatch = document.createElement("input");
    swatch.type = "radio";
    swatch.name = "brush-style";
    swatch.className = "swatch";
    swatch.value = String(i);
    swatch.title = `paint with ${row.name}`;
    swatch.style.background = COLORS[i % COLORS.length];
    swatch.checked = i === state.brushRow;
    swatch.addEventListener("change", () => { state.brushRow = i; $("erase").checked = false; });
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = row.kind === "image" ? `${row.name} (style image)` : row.name;
    name.title = name.textContent;
    const slider = document.createElement("input");
    slider.type = "range";
    slider.min = "0";
    slider.max = "100";
    slider.value = String(Math.round(row.weight * 100));
    slider.className = "mix";
    slider.setAttribute("aria-label", `${row.name} share`);
    const out = document.createElement("output");
    out.textContent = total > 0 ? `${Math.round(100 * row.weight / total)} %` : "0 %";
    slider.addEventListener("input", () => {
      row.weight = Number(slider.value) / 100;
      updateShares();
      schedulePreview();
    });
    el.append(swatch, name, slider, out);
    box.append(el);
  });
}

function updateShares() {
  const total = state.rows.reduce((s, r) => s + r.weight, 0);
  document.querySelectorAll("#styles .style-row").forEach((el) => {
    const row = state.rows[Number(el.dataset.row)];
    el.querySelector("output").textContent = total > 0 ? `${Math.round(100 * row.weight / total)} %` : "0 %";
  });
}

// ---------- painting ----------

function paintScale() {
  const canvas = $("paint");
  const rect = canvas.getBoundingClientRect();
  return {x: canvas.width / rect.width, y: canvas.height / rect.height, rect};
}

function strokeOn(ctx, from, to, size, mode) {
  ctx.save();
  ctx.globalCompositeOperation = mode;
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = size;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x + 0.01, to.y);
  ctx.stroke();
  ctx.restore();
}

function paintSegment(from, to) {
  const size = Number($("brush-size").value);
  const erase = $("erase").checked;
  state.rows.forEach((row, i) => {
    const ctx = row.layer.getContext("2d");
    if (!erase && i === state.brushRow) {
      strokeOn(ctx, from, to, size, "source-over");
      row.painted = true;
    } else {
      // A pixel belongs to one painted style: painting one erases the others there.
      strokeOn(ctx, from, to, size, "destination-out");
    }
  });
  state.maskCache = null;
  drawOverlay();
}

function drawOverlay() {
  const canvas = $("paint");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const tint = document.createElement("canvas");
  tint.width = canvas.width;
  tint.height = canvas.height;
  const t = tint.getContext("2d");
  state.rows.forEach((row, i) => {
    if (!row.painted) return;
    t.globalCompositeOperation = "source-over";
    t.clearRect(0, 0, tint.width, tint.height);
    t.drawImage(row.layer, 0, 0);
    t.globalCompositeOperation = "source-in";
    t.fillStyle = COLORS[i % COLORS.length];
    t.fillRect(0, 0, tint.width, tint.height);
    ctx.globalAlpha = 0.45;
    ctx.drawImage(tint, 0, 0);
    ctx.globalAlpha = 1;
  });
}

function setupPainting() {
  const canvas = $("paint");
  let last = null;
  const point = (e) => {
    const s = paintScale();
    return {x: (e.clientX - s.rect.left) * s.x, y: (e.clientY - s.rect.top) * s.y};
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (!state.photo) return;
    canvas.setPointerCapture(e.pointerId);
    last = point(e);
    paintSegment(last, last);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = point(e);
    paintSegment(last, p);
    last = p;
  });
  const end = () => {
    if (!last) return;
    last = null;
    schedulePreview();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("clear-paint").addEventListener("click", () => {
    clearPainting();
    schedulePreview();
  });
}

function clearPainting() {
  state.rows.forEach((row) => {
    row.layer.getContext("2d").clearRect(0, 0, row.layer.width, row.layer.height);
    row.painted = false;
  });
  state.maskCache = null;
  drawOverlay();
}

function layerBlob(layer) {
  // The server wants a greyscale mask: white where the style goes, black elsewhere.
  const c = document.createElement("canvas");
  c.width = layer.width;
  c.height = layer.height;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage(layer, 0, 0);
  return new Promise((resolve) => c.toBlob(resolve, "image/png"));
}

async function maskBlobs() {
  if (!state.maskCache) {
    const rows = [];
    state.rows.forEach((row, i) => { if (row.painted) rows.push(i); });
    const blobs = await Promise.all(rows.map((i) => layerBlob(state.rows[i].layer)));
    state.maskCache = {rows, blobs};
  }
  return state.maskCache;
}

// ---------- requests ----------

function settings(maskRows) {
  return {
    photo: state.photo.id,
    bank: state.rows.filter((r) => r.kind === "bank").map((r) => r.weight),
    style_images: state.rows.filter((r) => r.kind === "image").map((r) => ({id: r.id, weight: r.weight})),
    strength: Number($("strength").value) / 100,
    texture: Number($("texture").value) / 100,
    color: document.querySelector("input[name=color]:checked").value,
    softness: Number($("softness").value),
    masks: maskRows,
  };
}

async function jobForm(extra = {}) {
  const masks = await maskBlobs();
  const form = new FormData();
  form.append("settings", JSON.stringify({...settings(masks.rows), ...extra}));
  masks.blobs.forEach((b, k) => form.append("mask", b, `mask_${masks.rows[k]}.png`));
  return form;
}

function schedulePreview() {
  if (!state.photo) return;
  clearTimeout(state.previewTimer);
  setPending(true);
  state.previewTimer = setTimeout(() => {
    state.previewTimer = null;
    requestPreview();
  }, PREVIEW_DELAY_MS);
}

function previewSettled(seq) {
  // "Pending" ends when the newest request has been answered and no other is waiting to go.
  if (seq === state.previewSeq && state.previewTimer === null) setPending(false);
}

async function requestPreview() {
  // Requests are not aborted: while a slider moves, each answer that is newer than the one on
  // screen is shown; the server skips requests that a newer one overtook in its queue.
  const seq = ++state.previewSeq;
  try {
    const form = await jobForm({page: PAGE_ID, seq});
    const started = performance.now();
    const response = await fetch("/api/preview", {method: "POST", body: form});
    if (seq < state.shownSeq || response.status === 204) return previewSettled(seq);
    if (!response.ok) {
      const text = await errorText(response);
      if (seq === state.previewSeq) showError(text);
      return previewSettled(seq);
    }
    const blob = await response.blob();
    if (seq < state.shownSeq) return previewSettled(seq);
    state.shownSeq = seq;
    const img = $("preview");
    const old = img.src;
    img.onload = () => {
      if (old && old.startsWith("blob:")) URL.revokeObjectURL(old);
      img.dataset.version = String(Number(img.dataset.version) + 1);
      previewSettled(seq);
    };
    img.onerror = () => previewSettled(seq);
    img.src = URL.createObjectURL(blob);
    $("preview-info").textContent =
      `(${state.photo.preview_width}×${state.photo.preview_height}: stylized in ` +
      `${response.headers.get("X-Render-Ms")} ms, ${Math.round(performance.now() - started)} ms in all)`;
    clearError();
  } catch (e) {
    if (seq === state.previewSeq) showError(`the preview failed: ${e.message}`);
    previewSettled(seq);
  }
}

async function upload(url, file) {
  if (file.size > state.model.max_upload_bytes) {
    throw new Error(`${file.name}: the file is ${(file.size / 2 ** 20).toFixed(1)} MB, over the limit of ` +
                    `${Math.round(state.model.max_upload_bytes / 2 ** 20)} MB`);
  }
  const form = new FormData();
  form.append("file", file, file.name);
  const response = await fetch(url, {method: "POST", body: form});
  if (!response.ok) throw new Error(await errorText(response));
  return response.json();
}

// Uploads `file` to `url` with `message` in the status line, then hands the reply to `use` and
// refreshes the preview; a failure clears the status and shows its message instead.
async function uploadThen(url, file, message, use) {
  if (!file) return;
  $("status").textContent = message;
  try {
    use(await upload(url, file));
    $("status").textContent = "";
    clearError();
    schedulePreview();
  } catch (e) {
    $("status").textContent = "";
    showError(e.message);
  }
}

function choosePhoto(file) {
  return uploadThen("/api/photos", file, `Reading ${file && file.name}…`, (photo) => {
    state.photo = photo;
    document.body.dataset.photo = photo.id;
    $("paint").width = photo.preview_width;
    $("paint").height = photo.preview_height;
    state.rows.forEach((row) => { row.layer = newLayer(); row.painted = false; });
    state.maskCache = null;
    drawOverlay();
    $("backdrop").src = `/api/photos/${photo.id}/backdrop.jpg`;
    $("placeholder").hidden = true;
    $("photo-info").textContent = `${photo.name}: ${photo.width}×${photo.height} px`;
    $("render").disabled = false;
    $("render-best").disabled = false;
    $("download").hidden = true;
  });
}

function addStyleImage(file) {
  return uploadThen("/api/styles", file, `Reading the style of ${file && file.name}…`, (style) => {
    addRow(style.name, "image", style.id, 1);
    updateShares();
  });
}

// What the server says of a full-size render in progress: its stage and tiles done.
const STAGE_WORDS = {statistics: "measuring the photo", tiles: "painting", encoding: "writing the PNG"};

// Polls the render's progress into the status line and the bar until `stop()` is called.
function followProgress(what) {
  const bar = $("render-progress");
  let running = true;
  const poll = async () => {
    if (!running) return;
    try {
      const p = await (await fetch("/api/render/progress")).json();
      if (running && p.stage) {
        const share = p.total ? p.done / p.total : 0;
        $("status").textContent = `Rendering ${what}: ${STAGE_WORDS[p.stage] || p.stage}` +
          (p.total ? ` ${Math.round(100 * share)} %` : "…");
        bar.hidden = false;
        if (p.total) bar.value = share; else bar.removeAttribute("value");
      }
    } catch (e) { /* the render's own request reports failures */ }
    if (running) setTimeout(poll, 700);
  };
  setTimeout(poll, 300);
  return () => { running = false; bar.hidden = true; bar.value = 0; };
}

// The full-size render (the generator) and the best-quality one (example-based synthesis)
// differ in their route, what the status says, and the file's name.
async function renderTo(url, buttonId, what, suffix) {
  if (!state.photo) return;
  const button = $(buttonId);
  button.disabled = true;
  $("status").textContent = `Rendering ${what}…`;
  const started = performance.now();
  const stop = url === "/api/render" ? followProgress(what) : () => {};
  try {
    const response = await fetch(url, {method: "POST", body: await jobForm()});
    if (!response.ok) throw new Error(await errorText(response));
    const blob = await response.blob();
    const link = $("download");
    if (link.href && link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(blob);
    link.download = `${state.photo.name.replace(/\.[^.]*$/, "") || "photo"}${suffix}.png`;
    link.hidden = false;
    link.dataset.version = String(Number(link.dataset.version || 0) + 1);
    link.click();
    $("status").textContent = `Rendered ${what} in ${((performance.now() - started) / 1000).toFixed(1)} s`;
    clearError();
  } catch (e) {
    $("status").textContent = "";
    showError(e.message);
  } finally {
    stop();
    button.disabled = false;
  }
}

function renderFullSize() {
  if (!state.photo) return;
  return renderTo("/api/render", "render", `${state.photo.width}×${state.photo.height}`, "_stylized");
}

function renderBestQuality() {
  return renderTo("/api/render-best", "render-best", "at best quality (seconds)", "_best");
}

// ---------- wiring ----------

function setupDrop() {
  const zones = [$("drop"), $("stage")];
  zones.forEach((zone) => {
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      choosePhoto(e.dataTransfer.files[0]);
    });
  });
  $("photo-input").addEventListener("change", (e) => choosePhoto(e.target.files[0]));
  $("style-input").addEventListener("change", (e) => addStyleImage(e.target.files[0]));
}

function setupControls() {
  const strength = $("strength");
  strength.addEventListener("input", () => {
    $("strength-out").textContent = `${strength.value} %`;
    schedulePreview();
  });
  const texture = $("texture");
  texture.addEventListener("input", () => {
    $("texture-out").textContent = `${texture.value} %`;
    schedulePreview();
  });
  document.querySelectorAll("input[name=color]").forEach((r) => r.addEventListener("change", schedulePreview));
  $("brush-size").addEventListener("input", () => { $("brush-size-out").textContent = `${$("brush-size").value} px`; });
  $("softness").addEventListener("input", () => {
    $("softness-out").textContent = `${$("softness").value} %`;
    if (state.rows.some((r) => r.painted)) schedulePreview();
  });
  $("render").addEventListener("click", renderFullSize);
  $("render-best").addEventListener("click", renderBestQuality);
}

async function start() {
  try {
    const response = await fetch("/api/model");
    if (!response.ok) throw new Error(await errorText(response));
    state.model = await response.json();
  } catch (e) {
    showError(`cannot reach the app: ${e.message}`);
    return;
  }
  $("model-title").textContent = state.model.title;
  state.model.styles.forEach((name, i) => addRow(name, "bank", null, i === 0 ? 1 : 0));
  // Models without brushwork tiles: the slider would change nothing.
  $("texture-controls").hidden = !state.model.textures;
  // The slider spans the setting's one range (config.SETTING_BOUNDS), as the server checks it.
  $("texture").max = String(Math.round((state.model.max_texture ?? 2) * 100));
  $("texture").value = String(Math.round((state.model.texture ?? 1) * 100));
  $("texture-out").textContent = `${$("texture").value} %`;
  if (!state.model.encoder) {
    $("strength").disabled = true;
    $("style-input").disabled = true;
    $("encoder-note").hidden = false;
  }
  setupDrop();
  setupControls();
  setupPainting();
  document.body.dataset.ready = "1";
}

start();
