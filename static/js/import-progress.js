// A background client import's progress bar: asks the page's small JSON endpoint every few seconds and
// writes the numbers; the server rendered every word. When the import is over the page reloads, and the
// server renders the final state (report, errors).

const INTERVAL_MS = 2000;
const COUNTS = ["rowsDone", "rowsTotal", "added", "updated", "skipped", "errors"];

function setUp(section) {
  const url = section.dataset.progressUrl;
  const bar = section.querySelector("[data-progress-bar]");
  const reload = section.querySelector("[data-reload-link]");
  if (reload) reload.hidden = true;

  const draw = (state) => {
    bar.value = state.percent;
    bar.textContent = `${state.percent}%`;
    for (const name of COUNTS) {
      const value = state[name];
      document.querySelectorAll(`[data-progress-count="${name}"]`).forEach((element) => {
        if (value !== null && value !== undefined) element.textContent = String(value);
      });
    }
    section.querySelectorAll("[data-status-badge]").forEach((badge) => {
      badge.hidden = badge.dataset.statusBadge !== state.status;
    });
  };

  const poll = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const state = await response.json();
      draw(state);
      if (state.finished) {
        window.location.reload();
        return;
      }
    } catch {
      if (reload) reload.hidden = false;
    }
    window.setTimeout(poll, INTERVAL_MS);
  };
  window.setTimeout(poll, INTERVAL_MS);
}

document.querySelectorAll("[data-import-progress]").forEach(setUp);
