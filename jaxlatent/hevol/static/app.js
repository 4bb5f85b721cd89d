// HEVOL page: shows a round, collects picks (repeats allowed), posts them, draws the history.
"use strict";

const KEYS = "1234567890qwertyuiopasdfghjkl";
const STORE = "hevol-picks";
let state = null;
let picks = [];
let busy = false;
let restartArmed = null;

const $ = (id) => document.getElementById(id);

function setStatus(text, ok) {
  $("status").textContent = text || "";
  $("status").className = ok ? "status ok" : "status";
}

async function call(method, url, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(url, opts);
  const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
  if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
  return data;
}

function savePicks() {
  if (!state) return;
  localStorage.setItem(STORE, JSON.stringify({ restart: state.restart, round: state.round, picks }));
}

function loadPicks() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) || "null");
    if (saved && saved.restart === state.restart && saved.round === state.round) {
      return saved.picks.filter((i) => Number.isInteger(i) && i >= 0 && i < state.population)
        .slice(0, state.mu);
    }
  } catch (e) { /* a corrupt entry: start with no picks */ }
  return [];
}

function countOf(i) { return picks.filter((p) => p === i).length; }

function drawPicks() {
  if (!state) return;
  document.querySelectorAll(".cell").forEach((cell) => {
    const n = countOf(Number(cell.dataset.index));
    cell.dataset.count = String(n);
    cell.classList.toggle("picked", n > 0);
    cell.querySelector(".badge").textContent = n > 0 ? `×${n}` : "";
  });
  const full = picks.length === state.mu;
  $("count").textContent = `picks ${picks.length} / ${state.mu}`;
  $("count").classList.toggle("full", full);
  $("submit").disabled = !full || busy;
  $("undo").disabled = !state.can_undo || busy;
  savePicks();
}

function cell(src, i) {
  const div = document.createElement("div");
  div.className = "cell" + (i < state.num_parents ? " parent" : "");
  div.dataset.index = String(i);
  const img = document.createElement("img");
  img.src = src;
  img.alt = `image ${i}` + (i < state.num_parents ? " (parent)" : "");
  const key = document.createElement("span");
  key.className = "key";
  key.textContent = KEYS[i] || "";
  const badge = document.createElement("span");
  badge.className = "badge";
  div.append(img, key, badge);
  div.addEventListener("click", (ev) => (ev.shiftKey ? unpick(i) : pick(i)));
  div.addEventListener("contextmenu", (ev) => { ev.preventDefault(); unpick(i); });
  return div;
}

function figure(src, label, cls) {
  const fig = document.createElement("figure");
  if (cls) fig.className = cls;
  const img = document.createElement("img");
  img.src = src;
  img.alt = label;
  const cap = document.createElement("figcaption");
  cap.textContent = label;
  fig.append(img, cap);
  return fig;
}

function render(s) {
  state = s;
  document.title = `${s.title} · round ${s.round}`;
  $("title").textContent = `${s.title}: pick ${s.mu} of ${s.population}`;
  $("round").textContent = `round ${s.round}`;
  $("grid").replaceChildren(...s.images.map((src, i) => cell(src, i)));
  const strip = s.history.map((h) => figure(h.image, `round ${h.round}`));
  strip.push(figure(s.images[0], "now", "now"));
  $("history").replaceChildren(...strip);
  const box = $("class-box");
  box.hidden = s.class_names.length === 0;
  $("class").replaceChildren(...s.class_names.map((name, i) => {
    const opt = document.createElement("option");
    opt.value = String(i);
    opt.textContent = name;
    opt.selected = i === s.class_index;
    return opt;
  }));
  picks = loadPicks();
  drawPicks();
}

function pick(i) {
  if (busy) return;
  if (picks.length >= state.mu) { setStatus(`already ${state.mu} picks: remove one first`); return; }
  picks.push(i);
  setStatus("");
  drawPicks();
}

function unpick(i) {
  const at = picks.lastIndexOf(i);
  if (at >= 0) { picks.splice(at, 1); drawPicks(); }
}

async function act(method, url, body, done) {
  if (busy) return false;
  busy = true;
  drawPicks();
  try {
    const s = await call(method, url, body);
    busy = false;
    render(s);
    if (done) setStatus(done, true);
    return true;
  } catch (err) {
    busy = false;
    drawPicks();
    setStatus(err.message);
    return false;
  }
}

function submit() {
  if (picks.length !== state.mu) { setStatus(`pick ${state.mu} images first`); return; }
  const sent = picks.slice();
  act("POST", "/api/round", { round: state.round, picks: sent }, `round ${state.round} done`);
}

function undo() { act("POST", "/api/undo", { round: state.round }, "undid the last round"); }

function restart() {
  if (!restartArmed) {
    $("restart").textContent = "Click again to restart";
    restartArmed = setTimeout(() => { restartArmed = null; $("restart").textContent = "Restart…"; }, 4000);
    return;
  }
  clearTimeout(restartArmed);
  restartArmed = null;
  $("restart").textContent = "Restart…";
  act("POST", "/api/restart", {}, "restarted from ẑ₀ = 0");
}

function onKey(ev) {
  if (ev.target.tagName === "SELECT" || ev.ctrlKey || ev.metaKey || ev.altKey || !state) return;
  const k = ev.key.toLowerCase();
  if (k === "enter") { ev.preventDefault(); submit(); return; }
  if (k === "backspace") { ev.preventDefault(); if (picks.length) { picks.pop(); drawPicks(); } return; }
  if (k === "x") { picks = []; drawPicks(); return; }
  if (k === "z") { undo(); return; }
  const i = KEYS.indexOf(k);
  if (k.length === 1 && i >= 0 && i < state.population) pick(i);
}

window.addEventListener("DOMContentLoaded", () => {
  $("submit").addEventListener("click", submit);
  $("clear").addEventListener("click", () => { picks = []; drawPicks(); });
  $("undo").addEventListener("click", undo);
  $("restart").addEventListener("click", restart);
  $("class").addEventListener("change", (ev) =>
    act("POST", "/api/class", { class_index: Number(ev.target.value) }, "class changed"));
  document.addEventListener("keydown", onKey);
  act("GET", "/api/state");
});
