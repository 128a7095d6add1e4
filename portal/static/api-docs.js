// Starts the vendored Swagger UI on /api/docs (an external file: the CSP allows no inline script).
(function () {
  "use strict";
  window.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("swagger-ui");
    if (!el || typeof window.SwaggerUIBundle !== "function") {
      return;
    }
    window.SwaggerUIBundle({
      url: el.getAttribute("data-openapi-url"),
      dom_id: "#swagger-ui",
      // No deep links: Swagger UI puts them inside each operation's toggle button, a link
      // nested in a button that keyboard and screen-reader users cannot reach (axe
      // nested-interactive, target-size). The operations are still listed and expandable.
      deepLinking: false,
      // Same-origin calls carry the session cookie; unsafe methods need the CSRF header.
      requestInterceptor: function (req) {
        var token = el.getAttribute("data-csrf");
        if (token) {
          req.headers["X-CSRF-Token"] = token;
        }
        return req;
      },
    });
  });
})();
