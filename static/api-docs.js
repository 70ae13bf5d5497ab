// Render the API description with the vendored Redoc; a file, not inline, so a CSP can forbid inline scripts.
const target = document.getElementById("redoc");
Redoc.init(target.dataset.spec, {}, target);
