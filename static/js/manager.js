// The manager dashboard (R-AUTH-5, R-UI-8). The server renders only the frame (templates/web/
// manager.html); every figure and row comes from /graphql/ through graphql.js with the operations of
// graphql/operations/manager*.graphql, and every change goes back through the API's mutations, whose
// payloads re-render the rows they changed. What a manager may do is the API's decision: the page hides the
// buttons the API would refuse, and shows the API's refusal next to the row if it comes anyway.
//
// Words come from Django's JavaScript catalog (/jsi18n/, loaded before this module: gettext, ngettext,
// interpolate); times are shown in the viewer's time zone (the root element's data-time-zone).

import { momentFormat } from "./moments.js";
import { operation, request, signInUrl } from "./graphql.js";

const { gettext, ngettext, npgettext, interpolate } = window;
const PAGE_SIZE = 50;
const DEBOUNCE_MS = 300;

const root = document.getElementById("manager-dashboard");
const language = document.documentElement.lang || undefined;
const timeZone = root.dataset.timeZone || undefined;
// The owner pages' one date format (moments.js, as backend/web/moments.py writes it on the server).
const momentText = momentFormat(timeZone);
// perDay's dates are already the viewer's calendar days: read and shown as UTC so no zone shifts them.
const dayFormat = new Intl.DateTimeFormat(language, { day: "numeric", month: "short", timeZone: "UTC" });

// A mailing's status (label and badge) and periodicity in the owner pages' words and colours, which the
// server writes into the page (backend/web/pages/mailings.py: mailing_choices), keyed by the API's enum names.
const { statuses: STATUS, periodicities: PERIODICITY } = JSON.parse(
  document.getElementById("mailing-choices").textContent,
);

// --- small DOM helpers: text always goes in as text nodes, never as HTML -----------------------------------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** An email address that a narrow cell wraps before its "@" and dots, not mid-word. */
function emailText(email) {
  const parts = email.split(/(?=[@.])/);
  return h("span", {}, parts.flatMap((part, index) => (index ? [h("wbr"), part] : [part])));
}

function when(iso) {
  return iso ? momentText(iso) : "";
}

function time(iso) {
  return h("time", { datetime: iso }, when(iso));
}

function format(text, values) {
  return interpolate(text, values, true);
}

/** Fill `%(count)s` in `text`, an ngettext(…, count) call's result (written out at each call, so that
 * makemessages finds the words). */
function counted(text, count) {
  return format(text, { count });
}

/** "Your session has ended. Sign in again." with a link back here through the sign-in page. */
function sessionEnded(linkClass = null) {
  return h(
    "span",
    { "data-testid": "session-ended" },
    gettext("Your session has ended."),
    " ",
    h("a", { href: signInUrl(root.dataset.loginUrl), class: linkClass }, gettext("Sign in again.")),
  );
}

/** What to show for a failed request: the sign-in link when the session has ended (the server's words then
 * speak to API clients), else the server's own words (already translated), else ours. */
function describe(error) {
  if (error && error.sessionEnded) return sessionEnded();
  if (error && error.messages && error.messages.length) return error.messages.join(" ");
  if (error && error.network) return gettext("The server could not be reached. Check the connection and try again.");
  if (error && error.status) {
    return format(gettext("The server answered with an error (HTTP %(status)s). Try again."), { status: error.status });
  }
  console.error(error);
  return gettext("Something went wrong. Try again.");
}

function retryBox(title, error, retry) {
  if (error && error.sessionEnded) {
    // Trying again cannot help until the user signs in again.
    return h("div", { class: "alert alert-warning", role: "alert" }, sessionEnded("alert-link"));
  }
  return h(
    "div",
    { class: "alert alert-warning d-flex flex-wrap align-items-center gap-2", role: "alert", "data-testid": "retry" },
    h("span", {}, title, " ", h("span", { class: "small" }, describe(error))),
    h("button", { type: "button", class: "btn btn-sm btn-outline-dark", onclick: retry }, gettext("Try again")),
  );
}

function show(section, state) {
  section.dataset.state = state;
}

// --- the confirmation dialog (disable, enable, unblock) ----------------------------------------------------

/** The same control (switch or action button) in the row shown now for `control`'s row, which a payload or
 * a reload may have re-rendered since. */
function counterpart(control) {
  const row = control.closest("tr[data-id]");
  const now = row && root.querySelector(`tr[data-id="${CSS.escape(row.dataset.id)}"]`);
  if (!now) return null;
  return now.querySelector(control.dataset.testid ? `[data-testid="${control.dataset.testid}"]` : "[data-action]");
}

/** Give keyboard focus back to the control a dialog was opened from (Bootstrap returns it only to
 * data-bs-toggle triggers; otherwise it falls to <body> and a keyboard user starts over from the top). */
function focusBack(control) {
  const target = control && (control.isConnected ? control : counterpart(control));
  if (target) target.focus();
}

const confirmModal = document.getElementById("confirm-modal");

function confirmAction({ title, text, ok, okClass = "btn-primary", opener = null }) {
  confirmModal.querySelector("[data-confirm-title]").textContent = title;
  confirmModal.querySelector("[data-confirm-text]").textContent = text;
  const button = confirmModal.querySelector("[data-confirm-ok]");
  button.textContent = ok;
  button.className = `btn ${okClass}`;
  const modal = window.bootstrap.Modal.getOrCreateInstance(confirmModal);
  return new Promise((resolve) => {
    let answered = false;
    const onOk = () => {
      answered = true;
      modal.hide();
    };
    const onHidden = () => {
      button.removeEventListener("click", onOk);
      focusBack(opener);
      resolve(answered);
    };
    button.addEventListener("click", onOk);
    confirmModal.addEventListener("hidden.bs.modal", onHidden, { once: true });
    modal.show();
  });
}

// --- service totals and the 30-day chart ---------------------------------------------------------------------

function statCard(key, value, label, extra = null) {
  return h(
    "div",
    { class: "col" },
    h(
      "div",
      { class: "card h-100" },
      h(
        "div",
        { class: "card-body p-2" },
        h("div", { class: "fs-3 fw-semibold", "data-stat": key }, String(value)),
        h("div", { class: "text-body-secondary small" }, label),
        extra,
      ),
    ),
  );
}

function createStats(section) {
  const loading = section.querySelector("[data-loading]");
  const errorBox = section.querySelector("[data-error]");
  const body = section.querySelector("[data-body]");
  const totals = section.querySelector("[data-testid=totals]");
  const figure = section.querySelector("[data-testid=chart]");
  const canvas = figure.querySelector("canvas");
  let chart = null;

  // The counts by status share the owner dashboard's messages ("mailings by status"), so the Russian forms
  // agree with the number as they do there ("5 завершено"); the users' states have a context of their own.
  const drawTotals = (stats) => {
    const byStatus = h(
      "div",
      { class: "small d-flex flex-wrap justify-content-center gap-1", "data-testid": "mailings-by-status" },
      h(
        "span",
        { class: `badge ${STATUS.CREATED.badge}` },
        counted(
          npgettext("mailings by status", "%(count)s created", "%(count)s created", stats.mailingsCreated),
          stats.mailingsCreated,
        ),
      ),
      h(
        "span",
        { class: `badge ${STATUS.STARTED.badge}` },
        counted(
          npgettext("mailings by status", "%(count)s started", "%(count)s started", stats.mailingsStarted),
          stats.mailingsStarted,
        ),
      ),
      h(
        "span",
        { class: `badge ${STATUS.COMPLETED.badge}` },
        counted(
          npgettext("mailings by status", "%(count)s completed", "%(count)s completed", stats.mailingsCompleted),
          stats.mailingsCompleted,
        ),
      ),
    );
    const users = h(
      "div",
      { class: "small text-body-secondary" },
      counted(
        npgettext("users by state", "%(count)s confirmed", "%(count)s confirmed", stats.verifiedUsers),
        stats.verifiedUsers,
      ),
      " · ",
      h(
        "span",
        { "data-stat": "blocked" },
        counted(
          npgettext("users by state", "%(count)s blocked", "%(count)s blocked", stats.blockedUsers),
          stats.blockedUsers,
        ),
      ),
    );
    totals.replaceChildren(
      statCard("users", stats.users, ngettext("user", "users", stats.users), users),
      statCard("mailings", stats.mailings, ngettext("mailing", "mailings", stats.mailings), byStatus),
      // Not the rows' "Active" (not disabled): this counts the started mailings among those.
      statCard(
        "active",
        stats.activeMailings,
        ngettext("mailing running", "mailings running", stats.activeMailings),
        h("div", { class: "small text-body-secondary" }, gettext("started and not disabled")),
      ),
      statCard("sent-today", stats.sentToday, gettext("sent today")),
      // Every attempt the server did not accept, temporary failures that are retried included.
      statCard(
        "failed-today",
        stats.failedToday,
        ngettext("failed attempt today", "failed attempts today", stats.failedToday),
      ),
    );
  };

  const drawChart = (perDay) => {
    const labels = perDay.map((day) => dayFormat.format(new Date(`${day.date}T00:00:00Z`)));
    const datasets = [
      { label: gettext("Sent"), data: perDay.map((day) => day.sent), backgroundColor: "#198754" },
      { label: gettext("Failed"), data: perDay.map((day) => day.failed), backgroundColor: "#dc3545" },
    ];
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets.forEach((dataset, index) => {
        dataset.data = datasets[index].data;
      });
      chart.update();
    } else {
      chart = new window.Chart(canvas, {
        type: "bar",
        data: { labels, datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: {
            x: { ticks: { autoSkip: true, maxRotation: 0 } },
            y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: gettext("Attempts") } },
          },
          plugins: { legend: { position: "bottom" } },
        },
      });
    }
    figure.dataset.points = String(perDay.length);
    figure.dataset.total = String(perDay.reduce((sum, day) => sum + day.sent + day.failed, 0));
  };

  const load = async () => {
    if (section.dataset.state !== "ready") loading.hidden = false;
    try {
      const { serviceStats } = await request(operation("managerStats"));
      errorBox.hidden = true;
      body.hidden = false;
      drawTotals(serviceStats);
      drawChart(serviceStats.perDay);
      show(section, "ready");
    } catch (error) {
      errorBox.replaceChildren(retryBox(gettext("The totals could not be loaded."), error, load));
      errorBox.hidden = false;
      if (section.dataset.state !== "ready") show(section, "error");
    } finally {
      loading.hidden = true;
    }
  };
  return { load };
}

// --- a filtered list paged by cursor, with rows that re-render from mutation payloads --------------------

function createList(section, { operationName, connection, variables, renderRow, summaryText, onData = () => {} }) {
  const form = section.querySelector("[data-filters]");
  const loading = section.querySelector("[data-loading]");
  const errorBox = section.querySelector("[data-error]");
  const body = section.querySelector("[data-body]");
  const rows = section.querySelector("[data-rows]");
  const empty = section.querySelector("[data-empty]");
  const more = section.querySelector("[data-more]");
  const moreButton = section.querySelector("[data-load-more]");
  const summary = section.querySelector("[data-summary]");
  const counter = document.querySelector(`[data-count="${section.dataset.section}"]`);
  const nodes = new Map();
  let endCursor = null;
  let total = 0;
  let sequence = 0;

  const rowFor = (id) => rows.querySelector(`tr[data-id="${CSS.escape(id)}"]`);

  const drawSummary = () => {
    summary.textContent = summaryText(nodes.size, total);
    if (counter) counter.textContent = String(total);
    empty.hidden = nodes.size > 0;
  };

  const load = async ({ append = false } = {}) => {
    sequence += 1;
    const mine = sequence;
    const vars = { ...variables(new FormData(form)), first: PAGE_SIZE, after: append ? endCursor : null };
    show(section, append ? "loading-more" : "loading");
    if (!append && !nodes.size) loading.hidden = false;
    moreButton.disabled = true;
    try {
      const data = await request(operation(operationName), vars);
      if (mine !== sequence) return;
      onData(data);
      const page = data[connection];
      if (!append) {
        nodes.clear();
        rows.replaceChildren();
      }
      for (const { node } of page.edges) {
        nodes.set(node.id, node);
        rows.append(renderRow(node));
      }
      endCursor = page.pageInfo.endCursor;
      total = page.totalCount;
      more.hidden = !page.pageInfo.hasNextPage;
      errorBox.hidden = true;
      body.hidden = false;
      drawSummary();
      show(section, "ready");
    } catch (error) {
      if (mine !== sequence) return;
      const again = () => load({ append });
      const title = append ? gettext("More rows could not be loaded.") : gettext("The list could not be loaded.");
      errorBox.replaceChildren(retryBox(title, error, again));
      errorBox.hidden = false;
      show(section, "error");
    } finally {
      if (mine === sequence) {
        loading.hidden = true;
        moreButton.disabled = false;
      }
    }
  };

  let timer = null;
  const reload = () => {
    clearTimeout(timer);
    load();
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    reload();
  });
  // Selects reload at once; search boxes after a pause in typing (their "change" on blur would only repeat
  // the same request, and re-render the rows under the pointer).
  form.addEventListener("change", (event) => {
    if (event.target.type !== "search") reload();
  });
  form.addEventListener("input", (event) => {
    if (event.target.type !== "search") return;
    clearTimeout(timer);
    timer = setTimeout(load, DEBOUNCE_MS);
  });
  moreButton.addEventListener("click", () => load({ append: true }));

  return {
    load,
    node: (id) => nodes.get(id),
    nodes: () => nodes.values(),
    /** Put the payload's version of a row in place of the shown one; keyboard focus on the old row's
     * control moves to the new row's. */
    replace(node) {
      const current = rowFor(node.id);
      nodes.set(node.id, node);
      if (!current) return;
      const focused = current.contains(document.activeElement) ? document.activeElement : null;
      current.replaceWith(renderRow(node));
      if (focused) focusBack(focused);
    },
    /** Show an error (text or an element) next to a row; empty text clears it. */
    rowError(id, content) {
      const slot = rowFor(id) && rowFor(id).querySelector("[data-row-error]");
      if (slot) {
        slot.replaceChildren(content);
        slot.hidden = !content;
      }
    },
  };
}

function rowErrorSlot() {
  return h("div", { class: "small text-danger mt-1", role: "alert", "data-row-error": true, hidden: true });
}

function booleanOf(value) {
  return value === "true" ? true : value === "false" ? false : null;
}

function payloadErrors(errors) {
  return errors.map((error) => error.message).join(" ");
}

// --- the page -------------------------------------------------------------------------------------------------

const statsSection = root.querySelector("[data-section=stats]");
const stats = statsSection ? createStats(statsSection) : { load: () => {} };
const mailingsSection = root.querySelector("[data-section=mailings]");
const usersSection = root.querySelector("[data-section=users]");
let mailings = null;
let users = null;
let me = null;

function mayBlock(user) {
  // The API's rule (accounts.services): nobody blocks themselves, only a superuser blocks a superuser.
  return Boolean(me) && user.email !== me.email && (!user.isSuperuser || me.isSuperuser);
}

async function toggleMailing(mailing, opener) {
  const disabling = mailing.isActive;
  const which = { subject: mailing.name, owner: mailing.owner.email };
  const question = disabling
    ? {
        title: gettext("Disable this mailing?"),
        text: format(
          gettext(
            "“%(subject)s” of %(owner)s will not be sent until it is enabled again; what is waiting now is " +
              "skipped.",
          ),
          which,
        ),
        ok: gettext("Disable"),
        okClass: "btn-danger",
      }
    : {
        title: gettext("Enable this mailing?"),
        text: format(
          gettext(
            "“%(subject)s” of %(owner)s will be sent again: its current send goes out, not the ones missed " +
              "while it was disabled.",
          ),
          which,
        ),
        ok: gettext("Enable"),
      };
  const confirmed = await confirmAction({ ...question, opener });
  if (!confirmed) return;
  const name = disabling ? "managerDisableMailing" : "managerEnableMailing";
  const field = disabling ? "disableMailing" : "enableMailing";
  mailings.rowError(mailing.id, "");
  try {
    const payload = (await request(operation(name), { id: mailing.id }))[field];
    if (payload.errors.length) {
      mailings.rowError(mailing.id, payloadErrors(payload.errors));
      return;
    }
    mailings.replace(payload.mailing);
    stats.load();
  } catch (error) {
    mailings.rowError(mailing.id, describe(error));
  }
}

/** A send's outcome counts: sent and failed; `full` adds waiting, skipped and the total. */
function sendCounts(last, full) {
  const { sent, failed, waiting, skipped, total } = last;
  return [
    h("span", { class: "text-success" }, counted(ngettext("%(count)s sent", "%(count)s sent", sent), sent)),
    " · ",
    h("span", { class: "text-danger" }, counted(ngettext("%(count)s failed", "%(count)s failed", failed), failed)),
    full && waiting ? [" · ", counted(ngettext("%(count)s waiting", "%(count)s waiting", waiting), waiting)] : null,
    full && skipped ? [" · ", counted(ngettext("%(count)s skipped", "%(count)s skipped", skipped), skipped)] : null,
    full
      ? h("span", { class: "text-body-secondary" }, " ", counted(ngettext("of %(count)s", "of %(count)s", total), total))
      : null,
  ];
}

function renderMailing(mailing) {
  const status = STATUS[mailing.status] || { label: mailing.status, badge: "text-bg-light" };
  const periodicity = PERIODICITY[mailing.periodicity] || mailing.periodicity;
  const last = mailing.lastOccurrence;
  const switchId = `active-${mailing.id}`;
  const toggle = h("input", {
    class: "form-check-input",
    type: "checkbox",
    role: "switch",
    id: switchId,
    "aria-label": mailing.isActive ? gettext("Active") : gettext("Disabled"),
    checked: mailing.isActive,
    "data-testid": "active-switch",
    // The switch shows the server's state until the confirmed mutation's payload re-renders the row: the
    // browser's own toggle is undone here, by the page, whether it came from a click or the keyboard.
    onchange: (event) => {
      const current = mailings.node(mailing.id) || mailing;
      event.target.checked = current.isActive;
      toggleMailing(current, event.target);
    },
  });
  const ownerBlocked = () =>
    mailing.owner.isBlocked ? h("span", { class: "badge text-bg-danger" }, gettext("owner blocked")) : null;
  return h(
    "tr",
    { "data-id": mailing.id, "data-testid": "mailing-row", class: mailing.isActive ? null : "table-secondary" },
    h(
      "td",
      { class: "d-none d-md-table-cell" },
      h("div", { class: "fw-semibold" }, mailing.owner.fullName || emailText(mailing.owner.email)),
      mailing.owner.fullName
        ? h("div", { class: "small text-body-secondary" }, emailText(mailing.owner.email))
        : null,
      ownerBlocked(),
    ),
    h(
      "td",
      {},
      h("div", { class: "text-break" }, mailing.name),
      mailing.name !== mailing.message.subject
        ? h("div", { class: "small text-body-secondary" }, mailing.message.subject)
        : null,
      mailing.pausedAt ? h("span", { class: "badge text-bg-warning" }, gettext("paused")) : null,
      // On narrow screens the hidden columns' essentials go under the subject, the owner first.
      h(
        "div",
        { class: "small text-body-secondary d-md-none", "data-testid": "owner-under-subject" },
        emailText(mailing.owner.email),
        mailing.owner.isBlocked ? " " : null,
        ownerBlocked(),
      ),
      h("div", { class: "small text-body-secondary d-md-none" }, periodicity),
      last ? h("div", { class: "small d-lg-none" }, sendCounts(last, false)) : null,
    ),
    h("td", { class: "d-none d-md-table-cell" }, periodicity),
    h("td", {}, h("span", { class: `badge ${status.badge}`, "data-testid": "status" }, status.label)),
    h(
      "td",
      { class: "d-none d-lg-table-cell small", "data-testid": "last-send" },
      last
        ? [h("div", {}, time(last.scheduledFor)), h("div", {}, sendCounts(last, true))]
        : h("span", { class: "text-body-secondary" }, gettext("No sends yet")),
    ),
    h(
      "td",
      {},
      h(
        "div",
        { class: "form-check form-switch mb-0" },
        toggle,
        h(
          "label",
          { class: "form-check-label small d-none d-lg-inline-block", for: switchId },
          mailing.isActive ? gettext("Active") : gettext("Disabled"),
        ),
      ),
      // Narrow screens have no room for the label beside the switch; the word that matters goes under it.
      mailing.isActive ? null : h("div", { class: "small d-lg-none", "data-testid": "disabled-note" }, gettext("Disabled")),
      !mailing.isActive && mailing.disabledAt
        ? h(
            "div",
            { class: "small text-body-secondary" },
            format(gettext("since %(when)s"), { when: when(mailing.disabledAt) }),
          )
        : null,
      rowErrorSlot(),
    ),
  );
}

// The block dialog: asks for the reason; the reason's errors come from the API's form, shown at the field.
const blockModal = document.getElementById("block-modal");
const blockForm = blockModal.querySelector("form");
const blockReason = blockModal.querySelector("#block-reason");
const blockError = blockModal.querySelector("[data-block-error]");
const blockSubmit = blockModal.querySelector("[data-block-submit]");
let blocking = null;
// "user": the Users tab's Block (blockUser); "sender": the review's Block (blockSender, recorded with the
// sender's figures as a sending decision).
let blockMode = "user";

function askBlock(user, opener, mode = "user") {
  blocking = user;
  blockMode = mode;
  blockModal.querySelector("[data-block-who]").textContent = format(gettext("Block %(who)s?"), {
    who: user.fullName ? `${user.fullName} <${user.email}>` : user.email,
  });
  blockReason.value = "";
  blockReason.classList.remove("is-invalid");
  blockError.textContent = "";
  blockSubmit.disabled = false;
  const modal = window.bootstrap.Modal.getOrCreateInstance(blockModal);
  blockModal.addEventListener("shown.bs.modal", () => blockReason.focus(), { once: true });
  blockModal.addEventListener("hidden.bs.modal", () => focusBack(opener), { once: true });
  modal.show();
}

blockForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = blocking;
  if (!user) return;
  const modal = window.bootstrap.Modal.getOrCreateInstance(blockModal);
  const sender = blockMode === "sender";
  const list = sender ? review : users;
  blockSubmit.disabled = true;
  list.rowError(user.id, "");
  try {
    const variables = { id: user.id, reason: blockReason.value };
    const payload = sender
      ? (await request(operation("managerBlockSender"), variables)).blockSender
      : (await request(operation("managerBlockUser"), variables)).blockUser;
    const atField = payload.errors.filter((error) => error.field === "reason");
    const elsewhere = payload.errors.filter((error) => error.field !== "reason");
    if (atField.length) {
      blockReason.classList.add("is-invalid");
      blockError.textContent = payloadErrors(atField);
      blockSubmit.disabled = false;
      return;
    }
    modal.hide();
    if (elsewhere.length) {
      list.rowError(user.id, payloadErrors(elsewhere));
      return;
    }
    userChanged(payload.user);
  } catch (error) {
    modal.hide();
    list.rowError(user.id, describe(error));
  }
});

async function unblock(user, opener) {
  const confirmed = await confirmAction({
    opener,
    title: gettext("Unblock this user?"),
    text: format(
      gettext("%(who)s can sign in again and their mailings send again. API tokens revoked by the block stay revoked."),
      { who: user.email },
    ),
    ok: gettext("Unblock"),
  });
  if (!confirmed) return;
  users.rowError(user.id, "");
  try {
    const payload = (await request(operation("managerUnblockUser"), { id: user.id })).unblockUser;
    if (payload.errors.length) {
      users.rowError(user.id, payloadErrors(payload.errors));
      return;
    }
    userChanged(payload.user);
  } catch (error) {
    users.rowError(user.id, describe(error));
  }
}

/** A block, an unblock, a resume or a quota change went through: its row, the owner badges of their
 * mailings, the review list, the totals. */
function userChanged(user) {
  if (users) users.replace(user);
  review.load();
  if (mailings) {
    for (const mailing of [...mailings.nodes()]) {
      if (mailing.owner.id === user.id && mailing.owner.isBlocked !== user.isBlocked) {
        mailings.replace({ ...mailing, owner: { ...mailing.owner, isBlocked: user.isBlocked } });
      }
    }
  }
  stats.load();
}

function renderUser(user) {
  const blocker = user.blockedBy ? user.blockedBy.fullName || user.blockedBy.email : gettext("someone");
  const current = () => users.node(user.id) || user;
  // The dialog gets the button it was opened from, to give focus back to.
  const opens = (action) => (event) => action(current(), event.currentTarget);
  const button = (kind, style, onclick, label) =>
    h("button", { type: "button", class: `btn btn-sm ${style}`, "data-action": kind, onclick }, label);
  let action = null;
  let quotaAction = null;
  if (mayBlock(user)) {
    action = user.isBlocked
      ? button("unblock", "btn-outline-secondary", opens(unblock), gettext("Unblock"))
      : button("block", "btn-outline-danger", opens(askBlock), gettext("Block"));
    if (canReview) {
      quotaAction = h(
        "button",
        { type: "button", class: "btn btn-sm btn-outline-secondary ms-1", "data-testid": "quota-edit", onclick: opens(askQuota) },
        gettext("Quota"),
      );
    }
  }
  const blockDetails = (reasonTestId) => [
    h("span", { class: "badge text-bg-danger" }, gettext("blocked")),
    h("div", {}, format(gettext("by %(who)s, %(when)s"), { who: blocker, when: when(user.blockedAt) })),
    user.blockedReason
      ? h("div", { class: "text-break fst-italic", "data-testid": reasonTestId }, user.blockedReason)
      : null,
  ];
  const attributes = { "data-id": user.id, "data-testid": "user-row", "data-email": user.email };
  return h(
    "tr",
    { ...attributes, class: user.isBlocked ? "table-danger" : null },
    h(
      "td",
      {},
      h("div", { class: "fw-semibold" }, user.fullName || emailText(user.email)),
      user.fullName ? h("div", { class: "small text-body-secondary" }, emailText(user.email)) : null,
      h(
        "div",
        { class: "d-flex flex-wrap gap-1" },
        user.isSuperuser ? h("span", { class: "badge text-bg-dark" }, gettext("superuser")) : null,
        user.isManager && !user.isSuperuser ? h("span", { class: "badge text-bg-info" }, gettext("manager")) : null,
        user.isActive ? null : h("span", { class: "badge text-bg-warning" }, gettext("inactive")),
      ),
      // Phones have no Blocked column: a block's who, when and why go under the user.
      user.isBlocked ? h("div", { class: "small d-sm-none mt-1" }, blockDetails(null)) : null,
    ),
    h("td", { class: "d-none d-md-table-cell small" }, time(user.dateJoined)),
    h(
      "td",
      { class: "d-none d-sm-table-cell" },
      user.emailVerified
        ? h("span", { class: "badge text-bg-success" }, gettext("confirmed"))
        : h("span", { class: "badge text-bg-secondary" }, gettext("not confirmed")),
    ),
    h(
      "td",
      { class: "d-none d-sm-table-cell small", "data-testid": "blocked" },
      user.isBlocked ? blockDetails("blocked-reason") : h("span", { class: "text-body-secondary" }, gettext("no")),
    ),
    h("td", { class: "d-none d-md-table-cell text-end" }, String(user.mailingsCount)),
    canReview ? h("td", { class: "d-none d-lg-table-cell text-end small", "data-testid": "quota" }, quotaText(user)) : null,
    h("td", { class: "text-end" }, action, quotaAction, rowErrorSlot()),
  );
}

// --- the review of senders and quotas (R-DLV-5) -------------------------------------------------------------

const canReview = root.dataset.canReviewSenders === "true";

function percent(rate) {
  return `${(100 * rate).toFixed(rate && rate < 0.01 ? 2 : 1)}%`;
}

/** "12 / 200", "12 / no limit", with "(custom)" when a manager set the quota. */
function quotaText(user) {
  const quota = user.sendQuotaDaily === null ? gettext("no limit") : String(user.sendQuotaDaily);
  return [
    `${user.sentToday} / ${quota}`,
    user.sendQuotaOverride !== null && user.sendQuotaOverride !== undefined
      ? h("span", { class: "text-body-secondary" }, " ", gettext("(custom)"))
      : null,
    user.sendingPausedAt ? h("div", {}, h("span", { class: "badge text-bg-warning" }, gettext("paused"))) : null,
  ];
}

function createReview(section) {
  if (!section) return { load: () => {}, rowError: () => {} };
  const loading = section.querySelector("[data-loading]");
  const errorBox = section.querySelector("[data-error]");
  const body = section.querySelector("[data-body]");
  const rows = section.querySelector("[data-rows]");
  const empty = section.querySelector("[data-empty]");
  const counter = section.querySelector('[data-count="review"]');

  const renderRow = (item) => {
    const user = item.user;
    const mayAct = Boolean(me) && user.email !== me.email && (!user.isSuperuser || me.isSuperuser);
    const opener = (action) => (event) => action(user, event.currentTarget);
    return h(
      "tr",
      { "data-id": user.id, "data-testid": "review-row", "data-email": user.email },
      h(
        "td",
        {},
        h("div", { class: "fw-semibold" }, user.fullName || emailText(user.email)),
        user.fullName ? h("div", { class: "small text-body-secondary" }, emailText(user.email)) : null,
        h("div", { class: "small fst-italic text-break", "data-testid": "review-reason" }, item.reason),
      ),
      h("td", { class: "d-none d-md-table-cell small" }, time(item.pausedAt)),
      h("td", { class: "text-end", "data-testid": "review-sent" }, String(item.sent)),
      h(
        "td",
        { class: "text-end", "data-testid": "review-bounce-rate" },
        percent(item.bounceRate),
        h("div", { class: "small text-body-secondary" }, counted(ngettext("%(count)s bounced", "%(count)s bounced", item.bounced), item.bounced)),
      ),
      h(
        "td",
        { class: "text-end", "data-testid": "review-complaint-rate" },
        percent(item.complaintRate),
        h(
          "div",
          { class: "small text-body-secondary" },
          counted(ngettext("%(count)s complaint", "%(count)s complaints", item.complaints), item.complaints),
        ),
      ),
      h(
        "td",
        { class: "text-end text-nowrap" },
        mayAct
          ? [
              h("button", { type: "button", class: "btn btn-sm btn-outline-primary", "data-action": "resume", onclick: opener(resume) }, gettext("Resume")),
              h(
                "button",
                { type: "button", class: "btn btn-sm btn-outline-danger ms-1", "data-action": "block-sender", onclick: opener((u, o) => askBlock(u, o, "sender")) },
                gettext("Block"),
              ),
            ]
          : null,
        rowErrorSlot(),
      ),
    );
  };

  const load = async () => {
    try {
      const data = await request(operation("managerNeedsReview"));
      me = me || data.me;
      rows.replaceChildren(...data.needsReview.map(renderRow));
      empty.hidden = data.needsReview.length > 0;
      counter.textContent = data.needsReview.length ? String(data.needsReview.length) : "";
      errorBox.hidden = true;
      body.hidden = false;
      show(section, "ready");
    } catch (error) {
      errorBox.replaceChildren(retryBox(gettext("The review list could not be loaded."), error, load));
      errorBox.hidden = false;
      show(section, "error");
    } finally {
      loading.hidden = true;
    }
  };
  const rowError = (id, content) => {
    const row = rows.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    const slot = row && row.querySelector("[data-row-error]");
    if (slot) {
      slot.replaceChildren(content);
      slot.hidden = !content;
    }
  };
  return { load, rowError };
}

const review = createReview(canReview ? root.querySelector("[data-section=review]") : null);

async function resume(user, opener) {
  const confirmed = await confirmAction({
    opener,
    title: gettext("Resume sending?"),
    text: format(
      gettext("%(who)s's mailings send again; their next review counts only what they send from now on."),
      { who: user.email },
    ),
    ok: gettext("Resume"),
  });
  if (!confirmed) return;
  review.rowError(user.id, "");
  try {
    const payload = (await request(operation("managerResumeSending"), { id: user.id })).resumeSending;
    if (payload.errors.length) {
      review.rowError(user.id, payloadErrors(payload.errors));
      return;
    }
    review.load();
    if (users) users.load();
  } catch (error) {
    review.rowError(user.id, describe(error));
  }
}

// The quota dialog: a number (0: no limit) or empty for the default; the API's form checks it.
const quotaModal = document.getElementById("quota-modal");
const quotaForm = quotaModal.querySelector("form");
const quotaValue = quotaModal.querySelector("#quota-value");
const quotaReason = quotaModal.querySelector("#quota-reason");
const quotaError = quotaModal.querySelector("[data-quota-error]");
const quotaSubmit = quotaModal.querySelector("[data-quota-submit]");
let quotaFor = null;

function askQuota(user, opener) {
  quotaFor = user;
  quotaModal.querySelector("[data-quota-who]").textContent = format(
    gettext("%(who)s: %(sent)s sent today."),
    { who: user.email, sent: user.sentToday },
  );
  quotaValue.value = user.sendQuotaOverride === null || user.sendQuotaOverride === undefined ? "" : String(user.sendQuotaOverride);
  quotaReason.value = "";
  quotaValue.classList.remove("is-invalid");
  quotaError.textContent = "";
  quotaSubmit.disabled = false;
  const modal = window.bootstrap.Modal.getOrCreateInstance(quotaModal);
  quotaModal.addEventListener("shown.bs.modal", () => quotaValue.focus(), { once: true });
  quotaModal.addEventListener("hidden.bs.modal", () => focusBack(opener), { once: true });
  modal.show();
}

quotaForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = quotaFor;
  if (!user) return;
  const modal = window.bootstrap.Modal.getOrCreateInstance(quotaModal);
  const raw = quotaValue.value.trim();
  const quota = raw === "" ? null : Number(raw);
  if (quota !== null && (!Number.isInteger(quota) || quota < 0)) {
    quotaValue.classList.add("is-invalid");
    quotaError.textContent = gettext("Enter a whole number, 0 or more, or leave it empty.");
    return;
  }
  quotaSubmit.disabled = true;
  users.rowError(user.id, "");
  try {
    const variables = { id: user.id, quota, reason: quotaReason.value };
    const payload = (await request(operation("managerSetSendQuota"), variables)).setSendQuota;
    const atField = payload.errors.filter((error) => error.field === "quota");
    if (atField.length) {
      quotaValue.classList.add("is-invalid");
      quotaError.textContent = payloadErrors(atField);
      quotaSubmit.disabled = false;
      return;
    }
    modal.hide();
    const elsewhere = payload.errors.filter((error) => error.field !== "quota");
    if (elsewhere.length) {
      users.rowError(user.id, payloadErrors(elsewhere));
      return;
    }
    userChanged(payload.user);
  } catch (error) {
    modal.hide();
    users.rowError(user.id, describe(error));
  }
});

if (mailingsSection) {
  mailings = createList(mailingsSection, {
    operationName: "managerMailings",
    connection: "allMailings",
    variables: (form) => ({
      status: form.get("status") || null,
      active: booleanOf(form.get("active")),
      ownerSearch: (form.get("ownerSearch") || "").trim() || null,
    }),
    renderRow: renderMailing,
    summaryText: (shown, total) =>
      format(ngettext("Showing %(shown)s of %(total)s mailing", "Showing %(shown)s of %(total)s mailings", total), {
        shown,
        total,
      }),
  });
}
if (usersSection) {
  users = createList(usersSection, {
    operationName: "managerUsers",
    connection: "users",
    variables: (form) => ({
      search: (form.get("search") || "").trim() || null,
      blocked: booleanOf(form.get("blocked")),
      verified: booleanOf(form.get("verified")),
    }),
    renderRow: renderUser,
    summaryText: (shown, total) =>
      format(ngettext("Showing %(shown)s of %(total)s user", "Showing %(shown)s of %(total)s users", total), {
        shown,
        total,
      }),
    onData: (data) => {
      me = data.me;
    },
  });
}

stats.load();
review.load();
if (mailings) mailings.load();
if (users) users.load();
