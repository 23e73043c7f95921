// inferctl console: the few things the pages do in the browser. No library, nothing loaded from elsewhere.
// Live parts are redrawn from the server's own HTML; model output is only ever set as text, never as HTML.
"use strict";

function refreshLive() {
  document.querySelectorAll("[data-refresh]").forEach((part) => {
    const every = Number(part.dataset.interval) || 2000;
    let busy = false;
    setInterval(async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const answer = await fetch(part.dataset.refresh, { cache: "no-store" });
        if (answer.ok) part.innerHTML = await answer.text();
      } catch (e) {
        // the console stopped or the network blinked: keep what is shown, try again next time
      } finally {
        busy = false;
      }
    }, every);
  });
}

async function fillModels(select, note) {
  const answer = await fetch("/api/models", { cache: "no-store" });
  const data = await answer.json();
  select.replaceChildren();
  for (const name of data.models) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    select.append(option);
  }
  if (note) note.textContent = data.models.length ? (data.problem || "") : (data.problem || "no model is served");
  return data.models;
}

function addMessage(log, role, text) {
  const line = document.createElement("div");
  line.className = "msg " + role;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "you" : role === "assistant" ? "model" : "error";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  line.append(who, body);
  log.append(line);
  log.scrollTop = log.scrollHeight;
  return body;
}

// Server-sent events from the console's /api/chat (the endpoint's own stream, passed through): "data: {json}".
async function streamChat(response, onText, onUsage) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = pending.indexOf("\n\n")) >= 0) {
      const event = pending.slice(0, cut);
      pending = pending.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message || chunk.error);
        if (chunk.usage) onUsage(chunk.usage);
        for (const choice of chunk.choices || []) {
          if (choice.delta && choice.delta.content) onText(choice.delta.content);
        }
      }
    }
  }
}

function chatPage() {
  const form = document.getElementById("chat-form");
  if (!form) return;
  const select = document.getElementById("chat-model");
  const log = document.getElementById("chat-log");
  const input = document.getElementById("chat-input");
  const send = document.getElementById("chat-send");
  const stats = document.getElementById("chat-stats");
  let history = [];
  fillModels(select, document.getElementById("chat-models-note"));
  document.getElementById("chat-clear").addEventListener("click", () => {
    history = [];
    log.replaceChildren();
    stats.textContent = "";
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const prompt = input.value.trim();
    if (!prompt || !select.value) return;
    input.value = "";
    send.disabled = true;
    history.push({ role: "user", content: prompt });
    addMessage(log, "user", prompt);
    const reply = addMessage(log, "assistant", "");
    reply.parentElement.classList.add("streaming");
    const started = performance.now();
    let first = null;
    let tokens = null;
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          model: select.value,
          messages: history,
          max_tokens: Number(document.getElementById("chat-max-tokens").value) || 128,
        }),
      });
      if (!response.ok) throw new Error((await response.json()).error || "HTTP " + response.status);
      await streamChat(
        response,
        (text) => {
          if (first === null) first = performance.now();
          reply.textContent += text;
          log.scrollTop = log.scrollHeight;
        },
        (usage) => { tokens = usage.completion_tokens; },
      );
      history.push({ role: "assistant", content: reply.textContent });
      const seconds = (performance.now() - started) / 1000;
      const ttft = first === null ? "" : `first token ${Math.round(first - started)} ms, `;
      stats.textContent = tokens === null ? ttft : `${tokens} tokens, ${ttft}${(tokens / seconds).toFixed(1)} tok/s`;
      reply.parentElement.classList.add("done");
    } catch (error) {
      history.pop();
      reply.parentElement.remove();
      addMessage(log, "error", String(error.message || error));
    } finally {
      reply.parentElement.classList.remove("streaming");
      send.disabled = false;
      input.focus();
    }
  });
}

function benchPage() {
  const form = document.getElementById("bench-form");
  if (!form) return;
  const select = document.getElementById("bench-model");
  const start = document.getElementById("bench-start");
  const box = document.getElementById("bench-progress");
  const bar = document.getElementById("bench-bar");
  const phase = document.getElementById("bench-phase");
  const problem = document.getElementById("bench-error");
  fillModels(select, null);
  const show = (job) => {
    box.hidden = false;
    bar.value = job.fraction;
    const levels = job.levels.map((l) => `${l.label}: ${l.done}/${l.total ?? "?"}${l.failed ? ` (${l.failed} failed)` : ""}`);
    phase.textContent = [job.phase, ...levels].join(" · ");
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    start.disabled = true;
    const fields = Object.fromEntries(new FormData(form).entries());
    try {
      const answer = await fetch("/api/bench", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(fields),
      });
      let job = await answer.json();
      if (!answer.ok) throw new Error(job.error);
      show(job);
      while (job.state === "running") {
        await new Promise((resolve) => setTimeout(resolve, 500));
        job = await (await fetch("/api/bench/" + job.id, { cache: "no-store" })).json();
        show(job);
      }
      if (job.state !== "done") throw new Error(job.error || job.state);
      window.location.assign("/bench?run=" + encodeURIComponent(job.run_id));
    } catch (error) {
      problem.textContent = String(error.message || error);
      problem.hidden = false;
      start.disabled = false;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  refreshLive();
  chatPage();
  benchPage();
});
