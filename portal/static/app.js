// Lantern: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  function suggestions() { return document.getElementById("suggestions"); }
  function clearSuggestions() {
    var box = suggestions();
    if (box) { box.innerHTML = ""; }
    syncExpanded();
  }

  function options() {
    var box = suggestions();
    return box ? Array.prototype.slice.call(box.querySelectorAll("[role=option]")) : [];
  }
  // Combobox pattern (WAI-ARIA APG): focus stays in the box; the active option is announced
  // through aria-activedescendant, so typing can continue at any point.
  function setActive(q, opts, i) {
    opts.forEach(function (o, k) { o.setAttribute("aria-selected", k === i ? "true" : "false"); });
    if (i >= 0 && opts[i]) {
      q.setAttribute("aria-activedescendant", opts[i].id);
      opts[i].scrollIntoView({ block: "nearest" });
    } else {
      q.removeAttribute("aria-activedescendant");
    }
  }
  function syncExpanded() {
    var q = document.getElementById("q");
    if (!q) { return; }
    var open = options().length > 0;
    q.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) { q.removeAttribute("aria-activedescendant"); }
  }

  document.addEventListener("keydown", function (ev) {
    var q = document.getElementById("q");
    if (!q || document.activeElement !== q) { return; }
    var opts = options();
    var i = opts.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
    if (ev.key === "Escape" && opts.length) {
      clearSuggestions();
      ev.preventDefault();
    } else if (ev.key === "ArrowDown" && opts.length) {
      setActive(q, opts, Math.min(i + 1, opts.length - 1));
      ev.preventDefault();
    } else if (ev.key === "ArrowUp" && opts.length) {
      setActive(q, opts, i - 1);
      ev.preventDefault();
    } else if (ev.key === "Enter" && i >= 0) {
      ev.preventDefault();
      window.location.assign(opts[i].getAttribute("href"));
    }
  });

  // Close the type-ahead when focus or a click goes elsewhere.
  document.addEventListener("click", function (ev) {
    var box = suggestions();
    if (box && !box.contains(ev.target) && ev.target.id !== "q") { clearSuggestions(); }
  });
  document.addEventListener("focusin", function (ev) {
    var box = suggestions();
    var form = document.getElementById("search-form");
    if (box && form && !form.contains(ev.target)) { clearSuggestions(); }
  });

  // A submitted search replaces the type-ahead; an emptied box clears it.
  document.addEventListener("submit", function (ev) {
    if (ev.target && ev.target.id === "search-form") { clearSuggestions(); }
  });
  document.addEventListener("input", function (ev) {
    if (ev.target && ev.target.id === "q" && ev.target.value.trim().length < 2) { clearSuggestions(); }
  });

  // After htmx swaps the results, keep keyboard users oriented and hide the no-JS Apply button.
  document.addEventListener("htmx:afterSwap", function (ev) {
    // "Show all N" linked records (and their pages) replace the link that was activated:
    // focus moves to the group's heading, or it would fall back to the top of the page.
    var from = ev.detail && ev.detail.requestConfig && ev.detail.requestConfig.elt;
    if (from && from.classList && from.classList.contains("show-all")) {
      var groupHeading = document.getElementById(from.getAttribute("data-focus") || "");
      if (groupHeading) { groupHeading.setAttribute("tabindex", "-1"); groupHeading.focus(); }
    }
    if (ev.detail && ev.detail.target && ev.detail.target.id === "suggestions") { syncExpanded(); }
    if (ev.detail && ev.detail.target && ev.detail.target.id === "search-main") {
      document.documentElement.classList.add("js");
      var elt = ev.detail.requestConfig && ev.detail.requestConfig.elt;
      if (elt && elt.id !== "q" && elt.closest && !elt.closest("#search-form")) {
        var heading = document.getElementById("results-heading");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
      }
      // The results (and their aria-live heading) were replaced; announce the count from a
      // region that stays put, which screen readers do announce.
      var live = document.getElementById("live-status");
      var count = document.getElementById("results-heading");
      if (live) { live.textContent = count ? count.textContent.replace(/\s+/g, " ").trim() : ""; }
    }
  });
  document.documentElement.classList.add("js");
})();
