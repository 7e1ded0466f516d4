/* Confirmation of irreversible steps, from a static file (the Content-Security-Policy allows no inline
   script). A submit button with data-confirm="text" opens the page's <dialog id="confirm-dialog"> with
   that text; only "yes" lets the form go (the button is clicked again, so its name and value are sent
   and other submit handlers, such as upload.js, still run). data-confirm-if="name" asks only while the
   form's checkbox of that name is ticked (e.g. "replace the snapshot"). */
(function () {
  "use strict";
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") { return; }
  var text = dialog.querySelector(".confirm-text");
  var pending = null;

  function needed(button) {
    var when = button.getAttribute("data-confirm-if");
    if (!when) { return true; }
    var box = button.form && button.form.elements[when];
    return !!(box && box.checked);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-confirm]") : null;
    if (!button || !button.form) { return; }
    if (button.getAttribute("data-confirmed") === "1") { button.removeAttribute("data-confirmed"); return; }
    if (!needed(button)) { return; }
    if (!button.form.checkValidity()) { return; }  /* let the browser name the missing field first */
    event.preventDefault();
    pending = button;
    text.textContent = button.getAttribute("data-confirm");
    dialog.returnValue = "";
    dialog.showModal();
  }, true);

  dialog.addEventListener("close", function () {
    var button = pending;
    pending = null;
    if (button && dialog.returnValue === "yes") {
      button.setAttribute("data-confirmed", "1");
      button.click();
    }
  });
}());
