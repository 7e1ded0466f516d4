/* Starts Swagger UI on /api/v1/docs (rewards/templates/swagger_ui.html). validatorUrl null: the page
   must not call the public validator (closed networks, and nothing leaves the site). */
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui-container");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui-container",
    validatorUrl: null,
    deepLinking: true
  });
}());
