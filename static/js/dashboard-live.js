// The dashboard notices time passing: when the first of its "next sends" comes due (on the server's clock),
// it fetches itself again and swaps in the fresh sections, then keeps doing so for a minute while the send
// runs, and waits for the next one. A send still listed as due after that minute (the scheduler is down, or
// sending is paused) is not followed again: the page stops until it is reloaded. The server renders every
// word; this only replaces what it rendered.

const SETTLE_MS = 3000;
const FOLLOW_MS = 5000;
const FOLLOW_STEPS = 12;
const CHECK_MS = 60 * 60 * 1000;

function setUp(region) {
  let offset = Date.parse(region.dataset.serverNow) - Date.now();
  if (Number.isNaN(offset)) offset = 0;
  let timer = null;

  const earliest = () => {
    const times = [...region.querySelectorAll("[data-next-send] time[datetime]")].map((time) =>
      Date.parse(time.dateTime),
    );
    const valid = times.filter((value) => !Number.isNaN(value));
    return valid.length ? Math.min(...valid) : null;
  };

  const reload = async () => {
    const response = await fetch(window.location.href, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    });
    if (!response.ok || response.redirected) return false;
    const fresh = new DOMParser()
      .parseFromString(await response.text(), "text/html")
      .querySelector("[data-dashboard-live]");
    if (!fresh) return false;
    region.replaceChildren(...[...fresh.childNodes].map((node) => document.importNode(node, true)));
    const serverNow = Date.parse(fresh.dataset.serverNow);
    if (!Number.isNaN(serverNow)) offset = serverNow - Date.now();
    return true;
  };

  // The due time last followed: a minute of following that leaves it due does not start another.
  let followed = null;

  const follow = (steps) => {
    timer = window.setTimeout(async () => {
      let ok = false;
      try {
        ok = await reload();
      } catch {
        ok = false;
      }
      if (ok && steps > 1) follow(steps - 1);
      else if (ok) wait();
      else if (steps > 1) follow(steps - 1);
    }, FOLLOW_MS);
  };

  const wait = () => {
    window.clearTimeout(timer);
    const next = earliest();
    if (next === null || next === followed) return;
    const left = next + SETTLE_MS - (Date.now() + offset);
    if (left <= 0) {
      followed = next;
      follow(FOLLOW_STEPS);
      return;
    }
    timer = window.setTimeout(wait, Math.min(left, CHECK_MS));
  };
  wait();
}

document.querySelectorAll("[data-dashboard-live]").forEach(setUp);
