// Console page behaviour, kept out of the templates so that the Content-Security-Policy needs
// no 'unsafe-inline' (docs/security.md):
// - <select data-autosubmit> submits its form when changed (the language switch);
// - <input data-mirror="ID"> copies its value into the field with that id as it changes (the
//   simulator's threshold slider and number box).
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
})();
