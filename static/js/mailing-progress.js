// The mailing page's live progress bar: while a send runs or is due, ask /graphql/
// (graphql/operations/mailingProgress.graphql) every few seconds and move the bar. The server rendered the
// first state and every word; this only switches between them and writes numbers.

import { operation, poll, request, signInUrl } from "./graphql.js";
import { momentFormat } from "./moments.js";

const INTERVAL_MS = 2500;
const PARTS = ["sent", "failed", "waiting", "skipped"];
// After the last send finishes, the scheduler's same pass marks a mailing with no next send completed a
// moment later: a few more polls catch that, so the badge does not stay "started".
const SETTLE_POLLS = 8;

// Whether a send is due is judged on the server's clock: the offset between it and this browser's is taken
// when the page loads, from the time the server rendered it.
function clockOffset(section) {
  const offset = Date.parse(section.dataset.serverNow) - Date.now();
  return Number.isNaN(offset) ? 0 : offset;
}

function setUp(section, offset) {
  const query = operation("mailingProgress");
  const id = section.dataset.mailingId;
  const serverNow = () => Date.now() + offset;
  const when = section.querySelector("[data-progress-when]");
  const error = section.querySelector("[data-progress-error]");
  const errorText = section.querySelector("[data-progress-error-text]");
  const sessionEnded = section.querySelector("[data-progress-session-ended]");
  const format = momentFormat(section.dataset.timeZone);

  // The page header's badges and "Send now" follow the same poll: the server rendered a badge per status.
  const badges = document.querySelector("[data-mailing-status]");
  const sendNow = document.querySelector("[data-send-now]");
  const showStatus = (mailing) => {
    const status = String(mailing.status).toLowerCase();
    if (badges) {
      badges.querySelectorAll("[data-status]").forEach((badge) => {
        badge.hidden = badge.dataset.status !== status;
      });
      const disabled = badges.querySelector("[data-status-disabled]");
      if (disabled) disabled.hidden = mailing.isActive;
      const paused = badges.querySelector("[data-status-paused]");
      if (paused) paused.hidden = !mailing.pausedAt;
    }
    // The server refuses a send now of a completed, disabled or paused mailing; the page stops offering it.
    if (sendNow && (status === "completed" || !mailing.isActive || mailing.pausedAt)) sendNow.hidden = true;
  };
  let settlePolls = SETTLE_POLLS;

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
      waiting: occurrence.waiting,
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
    showStatus(mailing);
    const due =
      mailing.isActive &&
      !mailing.pausedAt &&
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
    const completing = mailing.isActive && mailing.status !== "COMPLETED" && mailing.nextRunAt === null;
    settlePolls -= 1;
    return completing && settlePolls >= 0;
  };

  const polling = poll(refresh, {
    intervalMs: INTERVAL_MS,
    onError: (problem) => {
      if (problem.sessionEnded) {
        // No poll can succeed until the user signs in again.
        polling.stop();
        error.hidden = true;
        const link = sessionEnded.querySelector("[data-sign-in]");
        link.href = signInUrl(link.getAttribute("href"));
        sessionEnded.hidden = false;
        return;
      }
      errorText.textContent = problem.messages && problem.messages.length ? problem.messages.join(" ") : "";
      error.hidden = false;
    },
    onRecover: () => {
      error.hidden = true;
    },
  });
}

// The server writes each part's width as data (a style attribute would need the Content-Security-Policy
// to allow inline styles); the bar takes it here, live or not, and draw() moves it from then on.
document.querySelectorAll("[data-progress-part]").forEach((part) => {
  part.style.width = `${part.dataset.width}%`;
});

// A page opened before the send time starts following the send when that time comes, on the server's clock,
// without a reload (the page is often left open to watch it start).
const CHECK_MS = 60 * 60 * 1000;

function whenDue(section, offset) {
  const nextRun = Date.parse(section.dataset.nextRun);
  if (Number.isNaN(nextRun)) return;
  const wait = () => {
    const left = nextRun - (Date.now() + offset);
    if (left <= 0) {
      setUp(section, offset);
      return;
    }
    // Long waits are taken in steps: a timer cannot wait more than about 24 days, and a sleeping laptop
    // delays timers; each step looks at the clock again.
    window.setTimeout(wait, Math.min(left, CHECK_MS));
  };
  wait();
}

document.querySelectorAll("[data-mailing-progress]").forEach((section) => {
  const offset = clockOffset(section);
  if (section.dataset.live) setUp(section, offset);
  else whenDue(section, offset);
});
