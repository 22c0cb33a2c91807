// The client list's bulk form: "tick every row on this page" for the row boxes that belong to the form
// (their form="bulk-tags" attribute). Without JavaScript the boxes are ticked one by one; the words come
// from the template.

const form = document.getElementById("bulk-tags");
const button = form && form.querySelector("[data-bulk-tick-all]");
if (button) {
  const boxes = () => Array.from(document.querySelectorAll(`input[form="${form.id}"][data-bulk-pick]`));
  button.addEventListener("click", () => {
    const all = boxes();
    const tick = !all.every((box) => box.checked);
    for (const box of all) box.checked = tick;
  });
  button.hidden = false;
}
