// The pages' GraphQL client: the live parts of server-rendered pages send the operations of
// graphql/operations/ to /graphql/ with the browser's session, so the product runs on the API it offers.
//
// A template puts an operation into the page with {% graphql_operation "name" %} (a JSON <script>
// element) and the CSRF token with <meta name="csrf-token" content="{{ csrf_token }}">; then
//
//   import { operation, request } from "./graphql.js";
//   const data = await request(operation("mailingProgress"), { id });
//
// `request` resolves to the response's `data` or throws a GraphQLRequestError whose `messages` are the
// server's (already in the user's language) and whose `codes` are the errors' extension codes; a network
// failure or a response that is not GraphQL throws one too, with no messages and `network` or `status` set,
// so a caller shows its own (template-given) words and never a blank.
//
// An error whose `sessionEnded` is true means the server no longer knows who is asking (signed out in another
// tab, session expired, account blocked): the server's words then speak to API clients and a retry cannot
// help, so a page shows its own "sign in again" words with a link to `signInUrl(...)` and no retry.

const DEFAULT_ENDPOINT = "/graphql/";
const DEFAULT_TIMEOUT_MS = 15000;
const DEFAULT_LOGIN_URL = "/accounts/login/";
const UNAUTHENTICATED = "UNAUTHENTICATED";

export class GraphQLRequestError extends Error {
  // `messages` are only the server's (already translated), so a page may show them; `detail` (the browser's
  // own wording of a network failure) goes to `message`, for the console.
  constructor(messages, { codes = [], status = 0, network = false, detail = "" } = {}) {
    super(detail || messages.join(" ") || `GraphQL request failed (HTTP ${status})`);
    this.name = "GraphQLRequestError";
    this.messages = messages;
    this.codes = codes;
    this.status = status;
    this.network = network;
  }

  get sessionEnded() {
    return this.codes.includes(UNAUTHENTICATED);
  }
}

/** The sign-in page (the template's `loginUrl`, else /accounts/login/) with `next` = this page, so signing in
 * again comes back here. */
export function signInUrl(loginUrl = DEFAULT_LOGIN_URL) {
  const url = new URL(loginUrl || DEFAULT_LOGIN_URL, window.location.href);
  url.searchParams.set("next", window.location.pathname + window.location.search);
  return url.pathname + url.search;
}

/** The text of an operation the template embedded with {% graphql_operation name %}. */
export function operation(name) {
  const element = document.getElementById(`graphql-operation-${name}`);
  if (!element) {
    throw new Error(`The page does not carry the GraphQL operation "${name}".`);
  }
  return JSON.parse(element.textContent);
}

function cookie(name) {
  const prefix = `${name}=`;
  for (const part of document.cookie.split(";")) {
    const item = part.trim();
    if (item.startsWith(prefix)) {
      return decodeURIComponent(item.slice(prefix.length));
    }
  }
  return "";
}

/** The token the page was rendered with, else Django's CSRF cookie. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return (meta && meta.content) || cookie("csrftoken");
}

/**
 * POST one operation; resolve to `data`, or throw a GraphQLRequestError.
 * Options: endpoint (default /graphql/), csrf (default csrfToken()), timeout in ms, signal.
 */
export async function request(query, variables = {}, options = {}) {
  const { endpoint = DEFAULT_ENDPOINT, csrf = csrfToken(), timeout = DEFAULT_TIMEOUT_MS, signal } = options;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  if (signal) {
    signal.addEventListener("abort", () => controller.abort(), { once: true });
  }
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrf,
      },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
  } catch (error) {
    throw new GraphQLRequestError([], { network: true, detail: String(error && error.message ? error.message : error) });
  } finally {
    clearTimeout(timer);
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (payload && Array.isArray(payload.errors) && payload.errors.length) {
    throw new GraphQLRequestError(
      payload.errors.map((error) => String(error.message)),
      {
        codes: payload.errors.map((error) => (error.extensions && error.extensions.code) || ""),
        status: response.status,
      },
    );
  }
  if (!response.ok || !payload || !payload.data) {
    throw new GraphQLRequestError([], { status: response.status });
  }
  return payload.data;
}

/**
 * Call `task` now and then every `intervalMs` until it returns false (done) or `stop()` is called. A
 * task that throws is retried after `retryMs` (longer when it keeps failing, up to 4x); `onError` sees
 * each error and `onRecover` the next success, so a page can show and clear a "retrying" message.
 * The next call is scheduled only after the previous one settled: requests never pile up.
 */
export function poll(task, { intervalMs = 3000, retryMs = 5000, onError = () => {}, onRecover = () => {} } = {}) {
  let stopped = false;
  let timer = null;
  let failures = 0;
  async function tick() {
    if (stopped) return;
    let again = true;
    let delay = intervalMs;
    try {
      again = (await task()) !== false;
      if (failures) onRecover();
      failures = 0;
    } catch (error) {
      failures += 1;
      delay = retryMs * Math.min(failures, 4);
      onError(error, delay);
    }
    if (again && !stopped) {
      timer = setTimeout(tick, delay);
    }
  }
  tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
