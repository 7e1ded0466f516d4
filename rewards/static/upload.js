/* Upload progress for big files: a form with data-progress is sent by XMLHttpRequest and a <progress>
   bar shows the bytes sent. The answer page (or the page it redirects to) then replaces this one, exactly
   as a normal submission would. Without JavaScript the form posts as usual. */
(function () {
  "use strict";
  function attach(form) {
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) { return; }
      event.preventDefault();
      var bar = form.querySelector("progress.upload") || document.createElement("progress");
      bar.className = "upload"; bar.max = 100; bar.value = 0; bar.hidden = false;
      var label = form.querySelector(".upload-label") || document.createElement("span");
      label.className = "upload-label muted";
      if (!bar.parentNode) { form.appendChild(bar); form.appendChild(label); }
      var buttons = form.querySelectorAll("button");
      for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
      var xhr = new XMLHttpRequest();
      xhr.open(form.method || "POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.floor(e.loaded * 100 / e.total);
          label.textContent = " " + bar.value + "% · " + (e.loaded / 1048576).toFixed(1) + " / " + (e.total / 1048576).toFixed(1) + " MB";
        }
      });
      xhr.upload.addEventListener("load", function () {
        bar.removeAttribute("value");  /* indeterminate while the server checks the file */
        label.textContent = " " + (form.getAttribute("data-progress") || "");
      });
      xhr.addEventListener("load", function () {
        if (xhr.responseURL && xhr.responseURL !== window.location.href) {
          window.history.pushState(null, "", xhr.responseURL);
        }
        document.open(); document.write(xhr.responseText); document.close();
      });
      xhr.addEventListener("error", function () {
        for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = false; }
        bar.hidden = true;
        label.textContent = " " + (form.getAttribute("data-error") || "Upload failed.");
      });
      xhr.send(new FormData(form));
    });
  }
  var forms = document.querySelectorAll("form[data-progress]");
  for (var i = 0; i < forms.length; i++) { attach(forms[i]); }
})();
