// <button data-copy="ID">: copies the text of the field with that id (Clipboard API), then says
// so in the button's own status element (data-copied="ID of a role=status element").
document.addEventListener("click", function (event) {
  var button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (!button) {
    return;
  }
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.getElementById(button.getAttribute("data-copied") || "");
  if (!field) {
    return;
  }
  var text = "value" in field ? field.value : field.textContent;
  function said(message) {
    if (status) {
      status.textContent = message;
    }
  }
  function fallback() {
    field.focus();
    if (field.select) {
      field.select();
    }
    said(button.getAttribute("data-failed-text") || "");
  }
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(text).then(function () {
      said(button.getAttribute("data-done-text") || "");
    }, fallback);
  } else {
    fallback();
  }
});
