// One way to show a moment on the owner pages (backend/web/moments.py writes the same on the server): the
// long date, a comma, the short time, in the page's language and the user's time zone (passed by the
// template as data-time-zone): "November 27, 2026, 9:00 AM"; in Russian "27 ноября 2026 г., 09:00".

/** A function turning an ISO 8601 string into [date, time] texts. */
export function momentParts(timeZone, { seconds = false } = {}) {
  const language = document.documentElement.lang || undefined;
  const zone = timeZone || undefined;
  const date = new Intl.DateTimeFormat(language, { dateStyle: "long", timeZone: zone });
  const time = new Intl.DateTimeFormat(language, { timeStyle: seconds ? "medium" : "short", timeZone: zone });
  return (value) => {
    const moment = new Date(value);
    // ICU puts a narrow no-break space before AM/PM; the server's text has a plain one.
    return [date.format(moment), time.format(moment).replace(/\u202f/g, " ")];
  };
}

/** A function turning an ISO 8601 string into one text, as the server renders it. */
export function momentFormat(timeZone, options = {}) {
  const parts = momentParts(timeZone, options);
  return (value) => parts(value).join(", ");
}
