// The few lines of behaviour the pages need beyond htmx: the phone's menu, confirmations,
// "select all", the dashboard clock, and "/" to jump to a page's search box.
(function () {
  "use strict";

  // Styles that need the script (the phone's menu button) apply only when it runs.
  document.documentElement.classList.add("js");

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    var links = document.getElementById(toggle.getAttribute("aria-controls"));
    if (!links) return;
    var open = links.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

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

  // A poll sends back the ETag of the fragment it last got, and the server answers "304 Not
  // Modified" with no body when nothing changed: htmx then swaps nothing (the responseHandling
  // in base.html), so the fragment stays exactly as it is.
  var etags = {};
  function polls(elt) {
    var trigger = (elt && elt.getAttribute && elt.getAttribute("hx-trigger")) || "";
    return trigger.indexOf("every ") !== -1;
  }
  function pollKey(elt, path) {
    return (elt.id || "") + " " + path;
  }
  document.addEventListener("htmx:configRequest", function (event) {
    if (!polls(event.detail.elt) || event.detail.verb !== "get") return;
    var tag = etags[pollKey(event.detail.elt, event.detail.path)];
    if (tag) event.detail.headers["If-None-Match"] = tag;
  });
  // (before the swap: after an outerHTML swap the polling element is out of the document and
  // its later events reach no listener here)
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail.xhr;
    var config = event.detail.requestConfig;
    if (!xhr || !config || config.verb !== "get" || !polls(event.detail.elt)) return;
    var tag = xhr.getResponseHeader("ETag");
    var key = pollKey(event.detail.elt, config.path);
    if (tag && (xhr.status === 200 || xhr.status === 304)) etags[key] = tag;
    else delete etags[key];
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

  // Seconds as the server's `duration` filter writes them (webapp/templating.py).
  function duration(seconds) {
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + Math.floor(seconds % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  // The server's clock, a running job's duration and the wait for a retry tick between
  // refreshes, so a refresh with nothing new can answer "304 Not Modified".
  window.setInterval(function () {
    var clock = document.getElementById("server-clock");
    if (clock) {
      var offset = parseInt(clock.getAttribute("data-offset-minutes"), 10) || 0;
      var now = new Date(Date.now() + offset * 60000);
      clock.textContent = now.toISOString().slice(11, 19);
    }
    document.querySelectorAll("[data-elapsed-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-elapsed-since"));
      if (!isNaN(since)) el.textContent = duration(Math.max(Date.now() - since, 0) / 1000);
    });
    document.querySelectorAll("[data-countdown-to]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-countdown-to")) - Date.now()) / 1000;
      if (isNaN(left)) return;
      var what = el.getAttribute("data-countdown-what") || "retry";
      el.textContent = left > 0 ? what + " in " + duration(left) : what + " due";
    });
  }, 1000);
})();
