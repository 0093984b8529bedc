// The desk's few lines of script: keyboard shortcuts, the browser's timezone at sign-in, inserting saved replies.
(function () {
  "use strict";
  let selected = null; // the item number selected with j/k; kept when htmx refreshes the rows

  function rows() { return Array.from(document.querySelectorAll("#rows tr[data-number]")); }

  function mark() {
    rows().forEach(function (row) { row.classList.toggle("selected", row.dataset.number === selected); });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.findIndex(function (row) { return row.dataset.number === selected; });
    const next = all[Math.min(all.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
    selected = next.dataset.number;
    mark();
    next.scrollIntoView({ block: "nearest" });
  }

  function current() {
    const page = document.querySelector(".item-page");
    if (page) return { number: page.dataset.number, scope: document };
    const row = rows().find(function (r) { return r.dataset.number === selected; });
    return row ? { number: row.dataset.number, scope: row } : null;
  }

  function submit(scope, name) {
    const form = scope.querySelector("form." + name);
    if (form) form.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    const typing = event.target.closest("input, textarea, select");
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const item = current();
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o": case "Enter": if (item && !document.querySelector(".item-page")) location.href = "/items/" + item.number; break;
      case "c": if (item) submit(item.scope, "claim"); break;
      case "x": if (item) submit(item.scope, "close"); break;
      case "r":
        if (document.querySelector(".item-page")) {
          const box = document.querySelector(".reply-form textarea, .inline-form input[name=url]");
          if (box) { event.preventDefault(); box.focus(); }
        } else if (item) { location.href = "/items/" + item.number + "#reply"; }
        break;
      case "/": { const search = document.getElementById("search"); if (search) { event.preventDefault(); search.focus(); } break; }
      case "?": { const help = document.getElementById("shortcuts"); help.hidden = !help.hidden; break; }
      default: return;
    }
  });

  document.addEventListener("htmx:afterSwap", mark);

  document.addEventListener("click", function (event) {
    const insert = event.target.closest("button.insert");
    if (!insert) return;
    const box = document.querySelector(".reply-form textarea");
    box.value = (box.value ? box.value + "\n" : "") + insert.dataset.text;
    box.focus();
  });

  document.addEventListener("DOMContentLoaded", function () {
    const zone = document.getElementById("browser-timezone");
    if (zone) zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  });
})();
