"""Put a GraphQL operation from `graphql/operations/` into a page, for the page's ES modules to send.

The operation's text travels inside the page as a JSON `<script>` element (`json_script`, so no text can
close the element early) rather than through a URL of its own: the template names the file, nothing a
visitor sends chooses what is read, and the page needs no second request before its first query.
`static/js/graphql.js` reads it back with `operation(name)`.
"""

import re

from django import template
from django.conf import settings
from django.utils.html import json_script

register = template.Library()

OPERATIONS_DIR = settings.BASE_DIR / "graphql" / "operations"
# The operation's name, which is also its file's: no separators, no dots, so no other file can be named.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def operation_text(name: str) -> str:
    if not NAME.fullmatch(name):
        raise template.TemplateSyntaxError(f"Not an operation name: {name!r}")
    return (OPERATIONS_DIR / f"{name}.graphql").read_text(encoding="utf-8")


@register.simple_tag
def graphql_operation(name: str) -> str:
    """`{% graphql_operation "mailingProgress" %}` → `<script id="graphql-operation-mailingProgress"
    type="application/json">"query …"</script>`."""
    return json_script(operation_text(name), f"graphql-operation-{name}")
