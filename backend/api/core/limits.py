"""What one request may cost (issue 10 §7). Each refusal is a GraphQL error that says which limit it hit.

Parsing is bounded by the document's size and token count; validation adds a depth limit and a cap on
aliases, run only on documents that already passed the standard rules (graphene's depth crawler follows
fragment spreads and would recurse forever on a fragment cycle that those rules reject).
"""

from django.conf import settings
from django.utils.translation import ngettext
from graphene.validation import depth_limit_validator
from graphql import FieldNode, GraphQLError, ValidationRule


def max_document_bytes() -> int:
    return settings.GRAPHQL_MAX_DOCUMENT_BYTES


def max_tokens() -> int:
    return settings.GRAPHQL_MAX_TOKENS


def max_batch() -> int:
    return settings.GRAPHQL_MAX_BATCH


def max_page_size() -> int:
    return settings.GRAPHENE["RELAY_CONNECTION_MAX_LIMIT"]


class AliasLimit(ValidationRule):
    """Aliases let one small document ask for the same expensive field thousands of times."""

    def __init__(self, context) -> None:
        super().__init__(context)
        self.count = 0
        self.reported = False

    def enter_field(self, node: FieldNode, *_args) -> None:
        if node.alias is None or self.reported:
            return
        self.count += 1
        if self.count > settings.GRAPHQL_MAX_ALIASES:
            self.reported = True
            self.report_error(
                GraphQLError(
                    ngettext(
                        "The document uses more than %(limit)d alias.",
                        "The document uses more than %(limit)d aliases.",
                        settings.GRAPHQL_MAX_ALIASES,
                    )
                    % {"limit": settings.GRAPHQL_MAX_ALIASES},
                    node,
                    extensions={"code": "BAD_REQUEST"},
                )
            )


def cost_rules() -> list[type[ValidationRule]]:
    return [depth_limit_validator(max_depth=settings.GRAPHQL_MAX_DEPTH), AliasLimit]
