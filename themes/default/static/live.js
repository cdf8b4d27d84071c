// Keeps the regions marked data-live-src current from the server's event stream, and makes
// the print buttons work. The server renders every fragment; this only puts it in place.
(function () {
  "use strict";

  function follow(region) {
    var status = document.getElementById(region.getAttribute("data-live-status"));
    var pending = null;
    var offline = null;

    function say(text) {
      if (status && text) status.textContent = text;
    }

    function apply(html) {
      // Never pull the page from under a keyboard or screen reader user: wait until the
      // focus has left the region.
      if (region.contains(document.activeElement) && document.activeElement !== document.body) {
        pending = html;
        return;
      }
      pending = null;
      region.innerHTML = html;
      var summary = region.querySelector("[data-live-summary]");
      if (summary) say(summary.textContent.trim());
    }

    region.addEventListener("focusout", function (event) {
      if (pending !== null && !region.contains(event.relatedTarget)) apply(pending);
    });

    if (!("EventSource" in window)) return;
    var source = new EventSource(region.getAttribute("data-live-src"));
    source.addEventListener("update", function (event) {
      var data = JSON.parse(event.data);
      region.setAttribute("data-seq", data.seq);
      document.documentElement.setAttribute("data-live-seq", data.seq);
      apply(data.html);
    });
    source.addEventListener("open", function () {
      clearTimeout(offline);
      offline = null;
      region.removeAttribute("data-offline");
      document.documentElement.setAttribute("data-live", "open");
    });
    source.addEventListener("error", function () {
      document.documentElement.setAttribute("data-live", "reconnecting");
      // The server ends every stream after a while and the browser reconnects at once:
      // only a connection that stays lost for a few seconds is worth a warning.
      if (offline === null) {
        offline = setTimeout(function () {
          region.setAttribute("data-offline", "");
          say(region.getAttribute("data-text-offline"));
        }, 3000);
      }
    });
  }

  document.querySelectorAll("[data-live-src]").forEach(follow);

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
