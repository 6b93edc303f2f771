// The MQL queue's SLA countdown: each <span class="countdown" data-due="ISO time"> ticks every
// second, from "2:13:05 left" to "overdue by 0:00:12"; the row turns overdue when it passes.
// The words come from the table's data-left / data-over / data-day (translated by the server),
// so no text is hard-coded here. A static file: the Content-Security-Policy allows no inline
// script.
(function () {
  "use strict";

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function span(ms, dayWords) {
    var total = Math.floor(Math.abs(ms) / 1000);
    var days = Math.floor(total / 86400);
    var rest = total % 86400;
    var clock = Math.floor(rest / 3600) + ":" + pad(Math.floor((rest % 3600) / 60)) + ":" + pad(rest % 60);
    return days > 0 ? dayWords.replace("{n}", String(days)) + " " + clock : clock;
  }

  function tick() {
    var table = document.querySelector("table.queue");
    if (!table) {
      return;
    }
    var left = table.getAttribute("data-left") || "{t}";
    var over = table.getAttribute("data-over") || "-{t}";
    var day = table.getAttribute("data-day") || "{n} d";
    var now = Date.now();
    table.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) {
        return;
      }
      var ms = due - now;
      var late = ms <= 0;
      el.textContent = (late ? over : left).replace("{t}", span(ms, day));
      el.classList.toggle("late", late);
      var row = el.closest("tr");
      if (row) {
        row.classList.toggle("overdue", late);
      }
    });
  }

  function start() {
    tick();
    window.setInterval(tick, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
