// Lantern: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  function suggestions() { return document.getElementById("suggestions"); }
  function clearSuggestions() {
    var box = suggestions();
    if (box) { box.innerHTML = ""; }
  }

  document.addEventListener("keydown", function (ev) {
    var box = suggestions();
    var q = document.getElementById("q");
    if (!box || !q) { return; }
    var links = Array.prototype.slice.call(box.querySelectorAll("a"));
    var inBox = box.contains(document.activeElement);
    if (ev.key === "Escape" && (inBox || document.activeElement === q)) {
      clearSuggestions();
      q.focus();
      return;
    }
    if (ev.key === "ArrowDown" && links.length) {
      if (document.activeElement === q) { links[0].focus(); ev.preventDefault(); }
      else if (inBox) {
        var i = links.indexOf(document.activeElement);
        if (i < links.length - 1) { links[i + 1].focus(); }
        ev.preventDefault();
      }
    }
    if (ev.key === "ArrowUp" && inBox) {
      var j = links.indexOf(document.activeElement);
      if (j > 0) { links[j - 1].focus(); } else { q.focus(); }
      ev.preventDefault();
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
    if (ev.detail && ev.detail.target && ev.detail.target.id === "search-main") {
      document.documentElement.classList.add("js");
      var elt = ev.detail.requestConfig && ev.detail.requestConfig.elt;
      if (elt && elt.id !== "q" && elt.closest && !elt.closest("#search-form")) {
        var heading = document.getElementById("results-heading");
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
      }
    }
  });
  document.documentElement.classList.add("js");
})();
