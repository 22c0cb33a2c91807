// The mailing form's clients picker: a filter over the server-rendered checkboxes, "select
// all shown", "clear shown" and a live count. Without JavaScript the checkboxes work as they are; every
// word shown comes from the template.

const FILTER_DELAY_MS = 120;

function setUp(picker) {
  const tools = picker.querySelector("[data-picker-tools]");
  if (!tools) return;
  const rows = Array.from(picker.querySelectorAll("[data-picker-row]"));
  const boxes = rows.map((row) => row.querySelector("input[type=checkbox]"));
  const filter = picker.querySelector("[data-picker-filter]");
  const count = picker.querySelector("[data-picker-count]");
  const empty = picker.querySelector("[data-picker-empty]");

  const updateCount = () => {
    count.textContent = String(boxes.filter((box) => box.checked).length);
  };

  const applyFilter = () => {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of rows) {
      const text = row.dataset.search;
      const match = words.every((word) => text.includes(word));
      row.hidden = !match;
      shown += match ? 1 : 0;
    }
    empty.hidden = shown > 0;
  };

  const setShown = (checked) => {
    rows.forEach((row, index) => {
      if (!row.hidden) boxes[index].checked = checked;
    });
    updateCount();
  };

  let timer = null;
  filter.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(applyFilter, FILTER_DELAY_MS);
  });
  // Enter in the filter must not submit the mailing form.
  filter.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      applyFilter();
    }
  });
  picker.querySelector("[data-picker-all]").addEventListener("click", () => setShown(true));
  picker.querySelector("[data-picker-none]").addEventListener("click", () => setShown(false));
  picker.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox]")) updateCount();
  });
  tools.hidden = false;
  updateCount();
}

document.querySelectorAll("[data-client-picker]").forEach(setUp);
