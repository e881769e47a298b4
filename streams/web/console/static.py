"""The console's script and style sheet, served as ``/console/app.js`` and
``/console/app.css`` (no build step). The script builds every pushed draft with
``textContent``, never ``innerHTML``: pushed text stays text."""

from __future__ import annotations

from typing import Final

SCRIPT: Final = r"""
"use strict";
(function () {
  // the sign-in link printed by `rapport run` carries the token in the fragment,
  // which browsers never send to a server (nor to its logs)
  const login = document.getElementById("login");
  if (login && location.hash.startsWith("#token=")) {
    login.elements.token.value = decodeURIComponent(location.hash.slice(7));
    history.replaceState(null, "", location.pathname + location.search);
    login.submit();
    return;
  }
  const queue = document.getElementById("queue");
  const ops = document.getElementById("ops");
  if (!queue && !ops) return;
  const source = new EventSource("/console/stream");
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function link(href, text) {
    const a = el("a", "", text);
    a.href = href;
    return a;
  }
  source.addEventListener("draft", function (ev) {
    if (!queue) return;
    const d = JSON.parse(ev.data);
    const conv = String(d.conversation_id);
    for (const old of queue.querySelectorAll("li.item")) {
      if (old.dataset.conversation === conv) old.remove();
    }
    const li = el("li", "item");
    li.dataset.conversation = conv;
    li.append(link("/console/conversations/" + encodeURIComponent(conv), conv), " · ",
      link("/console/customers/" + encodeURIComponent(d.customer_id), d.customer_id), " · ",
      el("time", "", d.message_at));
    li.append(el("p", "message", d.message), el("p", "draft", d.text));
    const meta = el("p", "meta");
    const origin = d.fallback ? "template fallback" : "LLM draft (" + d.model + ")";
    meta.append(el("span", "origin", origin),
      " · flags: " + ((d.flags || []).join(", ") || "none") + " · " + d.latency_ms + " ms");
    li.append(meta);
    li.classList.add("new");
    queue.prepend(li);
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
  });
  source.addEventListener("ops", function (ev) {
    const o = JSON.parse(ev.data);
    for (const node of document.querySelectorAll("[data-ops]")) {
      const value = o[node.dataset.ops];
      if (value !== undefined) node.textContent = String(value);
    }
  });
})();
"""

STYLE: Final = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d232b; background: #f5f6f8; }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem;
  background: #1d3557; color: #fff; }
header a.brand { color: #fff; font-weight: 700; text-decoration: none; margin-right: auto; }
form.inline { display: inline-flex; gap: .3rem; margin: 0; }
.ops { padding: .35rem 1rem; background: #e8edf3; font-size: 13px; }
main { max-width: 60rem; margin: 1rem auto; padding: 0 1rem; }
ul.queue, ul.thread { list-style: none; padding: 0; }
li.item, section.card { background: #fff; border: 1px solid #d6dbe1; border-radius: 6px;
  padding: .6rem .8rem; margin: .6rem 0; }
li.item.new { border-color: #2a9d8f; }
p.message { margin: .4rem 0; color: #333; }
p.draft { margin: .4rem 0; padding: .4rem .6rem; background: #f0f7f4; border-radius: 4px; }
p.meta, .hint, time { color: #5c6773; font-size: 13px; }
textarea { width: 100%; box-sizing: border-box; font: inherit; }
form.verdict button { margin: .4rem .4rem 0 0; }
table { border-collapse: collapse; margin: .5rem 0; background: #fff; }
th, td { border: 1px solid #d6dbe1; padding: .25rem .5rem; text-align: left; vertical-align: top; }
dl.top { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dl.top dt { font-weight: 600; }
.error, .erased { color: #9b2226; }
.notice { color: #2a6f4f; }
body.login main { max-width: 24rem; margin-top: 4rem; }
"""
