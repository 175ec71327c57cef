// The few controls every page shares, wired here because the Content-Security-Policy
// runs no inline script (no onchange="…" in the markup).

// The language switch submits itself when a language is chosen.
for (const select of document.querySelectorAll("form.language select")) {
  select.addEventListener("change", () => select.form.submit());
}

// <button data-action="print"> prints the page (the ICS 214 form).
for (const button of document.querySelectorAll("[data-action='print']")) {
  button.addEventListener("click", () => window.print());
}
