// Forms marked data-confirm="question" ask before they submit (no inline handlers: CSP).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form instanceof HTMLFormElement && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
