// Selects that submit their form as soon as a choice is made (the language switch, the mailing list's
// filters, the message preview's client): an attribute in the template instead of an inline handler,
// which the Content-Security-Policy refuses.

document.addEventListener("change", (event) => {
  const select = event.target;
  if (select instanceof HTMLSelectElement && select.matches("[data-auto-submit]") && select.form) {
    select.form.requestSubmit();
  }
});
