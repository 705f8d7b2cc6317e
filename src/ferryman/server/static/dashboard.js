// ferryman dashboard: swap the page's live part for each server-sent "update" event.
(function () {
  "use strict";
  const live = document.getElementById("live");
  const state = document.getElementById("live-state");
  if (!live || !live.dataset.live || !window.EventSource) {
    return;
  }
  let pending = null;
  const say = (text) => { if (state) { state.textContent = text; } };
  const editing = () => {
    const active = document.activeElement;
    return active && live.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  };
  const apply = (html) => {
    if (editing()) { pending = html; return; }  // never wipe what someone is typing
    pending = null;
    live.innerHTML = html;
    live.dataset.updates = String(Number(live.dataset.updates || "0") + 1);
  };
  live.addEventListener("focusout", () => {
    setTimeout(() => { if (pending !== null && !editing()) { apply(pending); } }, 0);
  });
  const source = new EventSource(live.dataset.live);
  source.addEventListener("open", () => say("live"));
  source.addEventListener("update", (event) => { apply(event.data); say("live"); });
  source.addEventListener("end", () => { source.close(); say("finished"); document.body.classList.add("finished"); });
  source.addEventListener("error", () => { if (source.readyState !== EventSource.CLOSED) { say("reconnecting…"); } });
})();
