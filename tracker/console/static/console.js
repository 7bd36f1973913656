// The console's only script of its own. Pages work without it; with it:
// - htmx requests carry the page's CSRF token (a header; forms also carry it as a field);
// - "copy" buttons put a packet field on the clipboard in one click;
// - a region marked data-refresh re-reads itself (htmx does the polling; see the templates).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Fallback for plain-http deployments: a hidden textarea and the copy command.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var copied = document.execCommand("copy");
      document.body.removeChild(area);
      if (copied) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    event.preventDefault();
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = "value" in source && source.tagName !== "DIV" ? source.value : source.textContent;
    var done = button.getAttribute("data-copied") || "Copied";
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    copyText(text).then(function () {
      button.textContent = done;
      button.classList.add("copied");
      var status = document.getElementById("copy-status");
      if (status) { status.textContent = done; }
      window.setTimeout(function () {
        button.textContent = original;
        button.classList.remove("copied");
      }, 2000);
    });
  });

  // Progressive enhancement: show the copy buttons only where they work.
  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
  });
})();
