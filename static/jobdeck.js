// The few lines of behaviour the pages need beyond htmx: confirmations, "select all",
// the dashboard clock, and "/" to jump to a page's search box.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    var name = all.getAttribute("data-select-all");
    var table = all.closest("table");
    table.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (document.activeElement && document.activeElement.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    var search = document.querySelector('main input[type=search]');
    if (search) {
      event.preventDefault();
      search.focus();
    }
  });

  // Polling costs nothing while nobody looks: a tab in the background asks for no refresh, and
  // a table with ticked boxes is not replaced under the user's hand (no eval in hx-trigger,
  // which the Content-Security-Policy refuses).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var trigger = (elt.getAttribute && elt.getAttribute("hx-trigger")) || "";
    if (trigger.indexOf("every ") === -1) return;
    if (document.hidden) {
      event.preventDefault();
      return;
    }
    if (elt.hasAttribute("data-poll-pauses-while-ticked") &&
        elt.querySelector("input[type=checkbox][name=ids]:checked")) {
      event.preventDefault();
    }
  });

  // A filter form sends only the filters that are set, so the URL it pushes is short and
  // shareable ("/jobs?status=failed", not every blank field).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (event.detail.verb !== "get" || !elt.matches || !elt.matches("form.filters")) return;
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (name) {
      if (params[name] === "") delete params[name];
    });
  });

  // The browser's time zone, for users whose setting is "the browser's" (read by the server).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("jobdeck_tz=" + zone) === -1) {
      document.cookie = "jobdeck_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (ignored) { /* a browser without Intl: the server's zone is used */ }

  // The server's clock, ticking between refreshes of the dashboard.
  window.setInterval(function () {
    var clock = document.getElementById("server-clock");
    if (!clock) return;
    var offset = parseInt(clock.getAttribute("data-offset-minutes"), 10) || 0;
    var now = new Date(Date.now() + offset * 60000);
    clock.textContent = now.toISOString().slice(11, 19);
  }, 1000);
})();
