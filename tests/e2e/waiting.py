"""Waiting for the page under the site's Content-Security-Policy."""

import time


def wait_until(page, expression: str, arg=None, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression, or a function of `arg`, from here until it is truthy. Playwright's own
    wait_for_function re-evaluates its predicate with eval inside the page, which `script-src 'self'`
    refuses (EvalError) as soon as the first check is false; page.evaluate is not subject to the policy."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        page.wait_for_timeout(50)
