// The mailing form's audience (R-AUD-1, R-AUD-3). Shows only the chosen audience's part, and turns the chosen
// clients' part into a picker that never holds the owner's whole list: what is typed is searched through
// /graphql/ (graphql/operations/clientPicker.graphql), one page at a time; picked clients become chips and
// hidden `clients_added` inputs, a chip of the mailing's own is removed by ticking its `clients_removed` box,
// and "add every client matching this search" sends the search as `clients_matching`. Only these changes are
// posted, so a mailing to 100,000 clients is edited like any other.
//
// Without JavaScript the form works as rendered (every part shown; a search box whose every match is added).
// Words come from Django's JavaScript catalog (/jsi18n/, loaded before this module).

import { operation, request } from "./graphql.js";

const { gettext, ngettext, interpolate } = window;
const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 250;

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** The database id inside a Relay global id ("Client:42", base64). */
function databaseId(globalId) {
  try {
    return atob(globalId).split(":").pop();
  } catch {
    return "";
  }
}

function setUpAudience(form) {
  const radios = Array.from(form.querySelectorAll("input[name=audience]"));
  const parts = Array.from(form.querySelectorAll("[data-audience-part]"));
  const show = () => {
    const chosen = radios.find((radio) => radio.checked);
    for (const part of parts) part.hidden = !chosen || part.dataset.audiencePart !== chosen.value;
  };
  radios.forEach((radio) => radio.addEventListener("change", show));
  show();
}

function setUpPicker(picker) {
  const tools = picker.querySelector("[data-picker-tools]");
  if (!tools) return;
  const chips = picker.querySelector("[data-picker-chips]");
  const count = picker.querySelector("[data-picker-count]");
  const search = tools.querySelector("[data-picker-search]");
  const results = tools.querySelector("[data-picker-results]");
  const total = tools.querySelector("[data-picker-total]");
  const more = tools.querySelector("[data-picker-more]");
  const error = tools.querySelector("[data-picker-error]");
  const addMatching = tools.querySelector("[data-picker-add-matching]");
  const matching = tools.querySelector("[data-picker-matching]");
  const matchingNote = tools.querySelector("[data-picker-matching-note]");
  const matchingText = tools.querySelector("[data-picker-matching-text]");
  const chosenCount = Number(picker.dataset.chosenCount || 0);

  // What the no-JavaScript search box held (a form shown again after an error) becomes the picker's.
  const noScript = picker.querySelector("[data-picker-nojs]");
  const typed = noScript ? noScript.querySelector("input").value.trim() : "";
  if (noScript) noScript.remove();

  const chipOf = (id) => chips.querySelector(`[data-chip][data-client-id="${CSS.escape(id)}"]`);

  const updateCount = () => {
    const removed = chips.querySelectorAll("[data-chip-remove]:checked").length;
    const added = chips.querySelectorAll("[data-chip][data-added]").length;
    count.textContent = String(chosenCount - removed + added);
    for (const row of results.querySelectorAll("[data-result]")) {
      const chip = chipOf(row.dataset.result);
      const button = row.querySelector("button");
      const picked = chip !== null && !chip.hidden;
      button.disabled = picked;
      button.textContent = picked ? gettext("Chosen") : gettext("Add");
    }
  };

  const removeButton = (label, onClick) => {
    const button = h("button", { type: "button", class: "btn-close btn-close-sm ms-1", "aria-label": label });
    button.addEventListener("click", onClick);
    return button;
  };

  // The mailing's own chips: the "remove" box stays the state; a button ticks it and hides the chip.
  const wireOwn = (chip) => {
    const box = chip.querySelector("[data-chip-remove]");
    const label = chip.querySelector("[data-chip-remove-label]");
    if (!box) return;
    if (label) label.hidden = true;
    chip.hidden = box.checked;
    chip.append(
      removeButton(gettext("Remove"), () => {
        box.checked = true;
        chip.hidden = true;
        updateCount();
      }),
    );
  };
  chips.querySelectorAll("[data-chip]:not([data-added])").forEach(wireOwn);

  // "Show more" of the mailing's own clients, a page at a time from /graphql/; chips already shown are
  // skipped (the page rendered the first ones).
  const chosenMore = picker.querySelector("[data-picker-chosen-more]");
  if (chosenMore) {
    let after = null;
    chosenMore.addEventListener("click", async () => {
      chosenMore.disabled = true;
      try {
        let added = 0;
        let more = true;
        while (more && added === 0) {
          const data = await request(operation("mailingClients"), { id: chosenMore.dataset.mailingId, after });
          const connection = data.mailing.clients;
          for (const edge of connection.edges) {
            const id = databaseId(edge.node.id);
            if (chipOf(id)) continue;
            const chip = h(
              "span",
              { class: "badge rounded-pill text-bg-light border client-chip", "data-chip": true, "data-client-id": id },
              `${edge.node.fullName || edge.node.email} <${edge.node.email}>`,
              h("input", { type: "checkbox", name: "clients_removed", value: id, "data-chip-remove": true, hidden: true }),
            );
            wireOwn(chip);
            chips.append(chip);
            added += 1;
          }
          after = connection.pageInfo.endCursor;
          more = connection.pageInfo.hasNextPage;
        }
        chosenMore.hidden = !more;
      } catch (failure) {
        error.textContent = gettext("The search failed; try again.");
        error.hidden = false;
      } finally {
        chosenMore.disabled = false;
      }
    });
    chosenMore.hidden = false;
  }
  const wireAdded = (chip) => {
    chip.append(
      removeButton(gettext("Remove"), () => {
        chip.remove();
        updateCount();
      }),
    );
  };
  chips.querySelectorAll("[data-chip][data-added]").forEach(wireAdded);

  const pick = (client) => {
    const existing = chipOf(client.id);
    if (existing) {
      // A chip of the mailing's own that was removed comes back; an added one is already there.
      const box = existing.querySelector("[data-chip-remove]");
      if (box) box.checked = false;
      existing.hidden = false;
    } else {
      const chip = h(
        "span",
        { class: "badge rounded-pill text-bg-primary client-chip", "data-chip": true, "data-client-id": client.id, "data-added": true },
        `${client.fullName || client.email} <${client.email}>`,
        h("input", { type: "hidden", name: "clients_added", value: client.id }),
      );
      wireAdded(chip);
      chips.append(chip);
    }
    updateCount();
  };

  const showMatching = (text) => {
    matching.value = text;
    matching.disabled = !text;
    matchingNote.hidden = !text;
    matchingText.textContent = text
      ? interpolate(gettext("Every client matching “%(search)s” is added on saving."), { search: text }, true)
      : "";
  };
  tools.querySelector("[data-picker-matching-clear]").addEventListener("click", () => showMatching(""));
  addMatching.addEventListener("click", () => showMatching(search.value.trim()));

  let cursor = null;
  let generation = 0;
  const load = async (append) => {
    const text = search.value.trim();
    const mine = ++generation;
    error.hidden = true;
    let data;
    try {
      data = await request(operation("clientPicker"), {
        search: text || null,
        first: PAGE_SIZE,
        after: append ? cursor : null,
      });
    } catch (failure) {
      if (mine !== generation) return;
      error.textContent = (failure.messages && failure.messages.length ? failure.messages.join(" ") : "") ||
        gettext("The search failed; try again.");
      error.hidden = false;
      return;
    }
    if (mine !== generation) return; // an older answer arriving after a newer search
    const connection = data.clients;
    if (!append) results.replaceChildren();
    for (const edge of connection.edges) {
      const node = edge.node;
      const client = { id: databaseId(node.id), email: node.email, fullName: node.fullName };
      const button = h("button", { type: "button", class: "btn btn-sm btn-outline-primary" }, gettext("Add"));
      button.addEventListener("click", () => pick(client));
      results.append(
        h(
          "li",
          { class: "list-group-item d-flex align-items-center gap-2 px-1", "data-result": client.id },
          h("span", { class: "flex-grow-1" }, node.fullName, " ", h("span", { class: "text-body-secondary" }, `<${node.email}>`)),
          node.isSubscribed ? null : h("span", { class: "badge text-bg-secondary" }, gettext("unsubscribed")),
          button,
        ),
      );
    }
    cursor = connection.pageInfo.endCursor;
    more.hidden = !connection.pageInfo.hasNextPage;
    total.textContent = interpolate(
      ngettext("%(count)s client matches.", "%(count)s clients match.", connection.totalCount),
      { count: connection.totalCount },
      true,
    );
    addMatching.disabled = !text || connection.totalCount === 0;
    updateCount();
  };

  let timer = null;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(false), SEARCH_DELAY_MS);
  });
  // Enter in the search must not submit the mailing form.
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      load(false);
    }
  });
  more.addEventListener("click", () => load(true));

  showMatching(typed);
  tools.hidden = false;
  updateCount();
  load(false);
}

const form = document.querySelector("[data-testid=mailing-form]");
if (form) setUpAudience(form);
document.querySelectorAll("[data-client-picker]").forEach(setUpPicker);
