// The scoring rule editor, progressively enhanced (without this script every field shows and
// "Add condition" / "Remove" go through the server):
// - elements with data-kinds="behavior fit" show only while the kind <select> is one of those;
// - the condition builder adds and removes field / operator / value rows in place, and its
//   field suggestions follow the kind (lead fields for fit rules, event fields otherwise).
// A static file: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  function form() {
    return document.getElementById("rule-form");
  }

  function kindSelect() {
    return document.querySelector("select[data-rule-kind]");
  }

  function showForKind() {
    var select = kindSelect();
    if (!select) {
      return;
    }
    var kind = select.value;
    document.querySelectorAll("[data-kinds]").forEach(function (el) {
      var kinds = (el.getAttribute("data-kinds") || "").split(" ");
      el.hidden = kinds.indexOf(kind) === -1;
    });
    var list = kind === "fit" ? "cond-fields-fit" : "cond-fields-event";
    document.querySelectorAll("[data-condition-row] input[data-part='field']").forEach(function (input) {
      input.setAttribute("list", list);
      input.setAttribute("placeholder", kind === "fit" ? "country" : "properties.category");
    });
  }

  function renumber() {
    var rows = document.querySelectorAll("[data-condition-row]");
    rows.forEach(function (row, index) {
      row.querySelectorAll("[data-part]").forEach(function (field) {
        var id = "cond-" + field.getAttribute("data-part") + "-" + index;
        var label = row.querySelector("label[for='" + field.id + "']");
        field.id = id;
        if (label) {
          label.setAttribute("for", id);
          label.textContent = (label.getAttribute("data-label") || "").replace("{n}", String(index + 1));
        }
      });
      var remove = row.querySelector("[data-remove-condition]");
      if (remove) {
        remove.value = String(index);
      }
    });
  }

  function addRow() {
    var body = document.querySelector("[data-condition-rows]");
    var last = body && body.querySelector("[data-condition-row]:last-child");
    if (!last) {
      return;
    }
    var row = last.cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) {
      input.value = "";
    });
    row.querySelectorAll("select").forEach(function (select) {
      select.selectedIndex = 0;
    });
    body.appendChild(row);
    renumber();
    showForKind();
    var first = row.querySelector("input[data-part='field']");
    if (first) {
      first.focus();
    }
  }

  function removeRow(button) {
    var row = button.closest("[data-condition-row]");
    var rows = document.querySelectorAll("[data-condition-row]");
    if (!row) {
      return;
    }
    if (rows.length === 1) {
      row.querySelectorAll("input").forEach(function (input) {
        input.value = "";
      });
      row.querySelector("select").selectedIndex = 0;
    } else {
      row.remove();
    }
    renumber();
    var add = document.querySelector("[data-add-condition]");
    if (add) {
      add.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target || !form() || !form().contains(target)) {
      return;
    }
    var add = target.closest("[data-add-condition]");
    var remove = target.closest("[data-remove-condition]");
    if (add) {
      event.preventDefault();
      addRow();
    } else if (remove) {
      event.preventDefault();
      removeRow(remove);
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target === kindSelect()) {
      showForKind();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showForKind);
  } else {
    showForKind();
  }
})();
