// The mailing page's live progress bar (issue 11 §4, §6): while a send runs or is due, ask /graphql/
// (graphql/operations/mailingProgress.graphql) every few seconds and move the bar. The server rendered the
// first state and every word; this only switches between them and writes numbers.

import { operation, poll, request } from "./graphql.js";
import { momentFormat } from "./moments.js";

const INTERVAL_MS = 2500;
const PARTS = ["sent", "failed", "waiting", "skipped"];

function setUp(section) {
  const query = operation("mailingProgress");
  const id = section.dataset.mailingId;
  // Whether a send is due is judged on the server's clock: the offset between it and this browser's is
  // taken from the time the page was rendered.
  const offset = Date.parse(section.dataset.serverNow) - Date.now();
  const serverNow = () => Date.now() + (Number.isNaN(offset) ? 0 : offset);
  const when = section.querySelector("[data-progress-when]");
  const error = section.querySelector("[data-progress-error]");
  const errorText = section.querySelector("[data-progress-error-text]");
  const format = momentFormat(section.dataset.timeZone);

  const show = (state) => {
    section.dataset.state = state;
    section.querySelectorAll("[data-progress-message]").forEach((element) => {
      element.hidden = element.dataset.progressMessage !== state;
    });
  };

  const draw = (occurrence) => {
    const counts = {
      sent: occurrence.sent,
      failed: occurrence.failed,
      waiting: occurrence.pending + occurrence.retrying,
      skipped: occurrence.skipped,
    };
    const total = PARTS.reduce((sum, name) => sum + counts[name], 0);
    for (const name of PARTS) {
      const percent = total ? (100 * counts[name]) / total : 0;
      const part = section.querySelector(`[data-progress-part="${name}"]`);
      part.style.width = `${percent.toFixed(2)}%`;
      part.setAttribute("aria-valuenow", percent.toFixed(0));
      section.querySelector(`[data-progress-count="${name}"]`).textContent = String(counts[name]);
    }
    section.querySelector('[data-progress-count="total"]').textContent = String(total);
    when.textContent = format(occurrence.scheduledFor);
    when.dateTime = occurrence.scheduledFor;
  };

  const refresh = async () => {
    const { mailing } = await request(query, { id });
    const occurrence = mailing.lastOccurrence;
    if (occurrence) draw(occurrence);
    const due =
      mailing.isActive &&
      mailing.status !== "COMPLETED" &&
      mailing.nextRunAt !== null &&
      Date.parse(mailing.nextRunAt) <= serverNow();
    if (occurrence && !occurrence.finishedAt) {
      show("running");
      return true;
    }
    if (due) {
      show("waiting");
      return true;
    }
    show(occurrence ? "done" : "none");
    return false;
  };

  poll(refresh, {
    intervalMs: INTERVAL_MS,
    onError: (problem) => {
      errorText.textContent = problem.messages && problem.messages.length ? problem.messages.join(" ") : "";
      error.hidden = false;
    },
    onRecover: () => {
      error.hidden = true;
    },
  });
}

document.querySelectorAll("[data-mailing-progress]").forEach((section) => {
  if (section.dataset.live) setUp(section);
});
