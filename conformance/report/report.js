/* Conformance report behaviour: filters and search, copy buttons, opening collapsed sections on
   anchor jumps, and expanding the violations for printing. Reads text only (textContent) and sets
   `hidden`; never writes markup. Without it the page shows everything and loses nothing. */
(function () {
  "use strict";

  function copyText(text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text, done); });
    } else {
      fallback(text, done);
    }
  }

  function fallback(text, done) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* nothing else to try */ }
    document.body.removeChild(area);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      copyText(source.textContent, function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });

  /* Filters: every element with data-o (outcome), data-f (family) and data-op (operations,
     "|"-separated) is shown when it matches all of: a checked outcome, the family, the operation
     and the search text. Containers marked data-group hide when nothing inside them is shown. */
  var form = document.getElementById("filters");
  if (form) {
    var items = Array.prototype.slice.call(document.querySelectorAll("[data-o]"));
    var groups = Array.prototype.slice.call(document.querySelectorAll("[data-group]")).reverse();
    var texts = new Map();
    var output = form.querySelector("output");
    var textOf = function (el) {
      if (!texts.has(el)) { texts.set(el, el.textContent.toLowerCase()); }
      return texts.get(el);
    };
    var apply = function () {
      var outcomes = {};
      form.querySelectorAll("input[name=o]").forEach(function (box) { outcomes[box.value] = box.checked; });
      var family = form.elements.family.value;
      var op = form.elements.op.value;
      var words = form.elements.q.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (el) {
        var o = el.getAttribute("data-o");
        var ok = outcomes[o] !== false
          && (!family || el.getAttribute("data-f") === family)
          && (!op || el.getAttribute("data-op").split("|").indexOf(op) >= 0)
          && words.every(function (w) { return textOf(el).indexOf(w) >= 0; });
        el.hidden = !ok;
        if (ok) { shown += 1; }
      });
      groups.forEach(function (g) { g.hidden = !g.querySelector("[data-o]:not([hidden])"); });
      var all = shown === items.length;
      output.textContent = all ? "" : "Showing " + shown + " of " + items.length;
      document.body.classList.toggle("filtered", !all);
    };
    form.addEventListener("input", apply);
    form.addEventListener("change", apply);
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.addEventListener("reset", function () { setTimeout(apply, 0); });
    form.hidden = false;
  }

  function reveal() {
    var id = "";
    try { id = decodeURIComponent(window.location.hash.slice(1)); } catch (e) { return; }
    var el = id ? document.getElementById(id) : null;
    var target = el;
    while (el) {
      if (el.tagName === "DETAILS") { el.open = true; }
      if (el.hidden && el !== form) { el.hidden = false; }
      el = el.parentElement;
    }
    if (target) { target.scrollIntoView(); }
  }
  window.addEventListener("hashchange", reveal);
  if (window.location.hash) { reveal(); }

  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("#violations details:not([open])").forEach(function (d) {
      d.open = true;
      openedForPrint.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (d) { d.open = false; });
    openedForPrint = [];
  });
})();
