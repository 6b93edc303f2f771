// Console page behaviour, kept out of the templates so that the Content-Security-Policy needs
// no 'unsafe-inline' (docs/security.md):
// - <select data-autosubmit> submits its form when changed (the language switch);
// - <input data-mirror="ID"> copies its value into the field with that id as it changes (the
//   simulator's threshold slider and number box);
// - an open <details class="nav-menu"> (the Settings menu) closes on Escape or a click outside.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLInputElement)) {
      return;
    }
    var id = field.getAttribute("data-mirror");
    var other = id ? document.getElementById(id) : null;
    if (other) {
      other.value = field.value;
    }
  });

  function closeMenus(except) {
    document.querySelectorAll("details.nav-menu[open]").forEach(function (menu) {
      if (menu !== except) {
        menu.removeAttribute("open");
      }
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("details.nav-menu") : null;
    closeMenus(target);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    var open = document.querySelector("details.nav-menu[open]");
    if (open) {
      open.removeAttribute("open");
      open.querySelector("summary").focus();
    }
  });
})();
