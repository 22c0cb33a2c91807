// A "Show" switch beside each password box marked data-password-toggle: the password is typed once and
// checked by eye. Without JavaScript the box stays a plain password box; the words come from the server.
for (const input of document.querySelectorAll("input[data-password-toggle]")) {
  const group = document.createElement("div");
  group.className = "input-group";
  input.replaceWith(group);
  group.append(input);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "btn btn-outline-secondary";
  button.dataset.passwordShow = "";
  button.setAttribute("aria-pressed", "false");
  button.setAttribute("aria-controls", input.id);
  button.textContent = input.dataset.showLabel;
  button.addEventListener("click", () => {
    const showing = input.type === "password";
    input.type = showing ? "text" : "password";
    button.setAttribute("aria-pressed", String(showing));
    button.textContent = showing ? input.dataset.hideLabel : input.dataset.showLabel;
    input.focus();
  });
  group.append(button);
}

// The sign-up form's time zone starts at the browser's, for the person to confirm or change; a choice the
// server sent back (a form with errors) is kept.
const zone = document.querySelector("select[data-browser-time-zone]");
if (zone && !zone.querySelector("option[selected]")) {
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (browserZone && [...zone.options].some((option) => option.value === browserZone)) {
    zone.value = browserZone;
  }
}
