"""`/graphql/`: GraphiQL for a browser, the API for everyone else.

Authentication: `Authorization: JWT <token>` (then no CSRF check: a browser never adds that header by itself)
or the browser session (then Django's CSRF check applies to every POST). Every root field except the token
mutations needs a user who can act, checked once per document before anything runs.

Requests are bounded (document size, tokens, depth, aliases, page size, batch length) and parsed-and-validated
documents are cached by their text, so a page's repeated query is parsed once per process.
"""

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from graphene_django.views import GraphQLView
from graphql import (
    DocumentNode,
    ExecutionContext,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from backend.accounts import roles

from .auth import authenticate_request, authentication_error
from .dataloaders import LoaderExecutionContext
from .errors import BAD_REQUEST, FORBIDDEN, UNAUTHENTICATED, format_error, graphql_error
from .limits import (
    Cost,
    cost_error,
    cost_rules,
    expanded_size_error,
    max_batch,
    max_document_bytes,
    max_tokens,
    operation_cost,
    repeated_field_error,
)

logger = logging.getLogger("backend.api")

# Root fields an anonymous caller may use: getting, refreshing and checking a token, and introspection.
PUBLIC_ROOT_FIELDS = frozenset(
    {"tokenAuth", "refreshToken", "verifyToken", "__typename", "__schema", "__type"}
)
# tokenAuth (a password hash) and refreshToken run once per HTTP request: alone in their document (beside
# __typename), without a second alias, never in a batch; so one request costs one password check. They run
# outside the document's transaction: a refused sign-in is counted by the login throttling (in the database
# with axes's database handler), and a re-used refresh token revokes its account's tokens, and rolling the
# refusal back would undo either. Their own writes are each atomic.
SINGLE_USE_FIELDS = frozenset({"tokenAuth", "refreshToken"})
# A JSON request asking only for these needs no CSRF token (MailerGraphQLView._token_request).
TOKEN_FIELDS = frozenset({"tokenAuth", "refreshToken", "verifyToken", "__typename"})


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Job:
    """One checked operation of a request, ready to run."""

    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict | None
    operation_name: str | None
    cost: Cost
    single_use: bool


def _single_use_message() -> str:
    return _(
        "Send tokenAuth or refreshToken alone: one field in its own mutation, once per HTTP request, "
        "not in a batch."
    )


class _Csrf(CsrfViewMiddleware):
    # Django's CSRF check has no public API that tells why a request failed: the reason goes only to
    # CSRF_FAILURE_VIEW (one page for the whole site) and to the log. `_reject` is the one method every
    # failure passes through, so overriding it is how the API answers with the reason as a GraphQL error.
    def _reject(self, request, reason):
        return reason


def _csrf_failure(request: HttpRequest) -> str | None:
    """The reason a session request fails Django's CSRF check, or None when it passes."""
    return _Csrf(lambda req: None).process_view(request, None, (), {})


@dataclass(frozen=True)
class Prepared:
    """A parsed and validated document (`document` None when it could not be parsed), its errors, and the
    cost of each of its operations, kept together in the per-process cache."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    costs: tuple[tuple[OperationDefinitionNode, Cost], ...] = ()

    def cost_of(self, operation: OperationDefinitionNode) -> Cost:
        return next(cost for node, cost in self.costs if node is operation)


# Accepted documents up to this size are kept per process (the pages' operations, GraphiQL's introspection);
# a refusal is cheap to repeat, and keeping the parse trees of large or refused documents an attacker varies
# would fill the memory (a 20 KB document's tree is megabytes).
CACHED_DOCUMENT_BYTES = 8_192
_cache: OrderedDict[tuple[int, str], "Prepared"] = OrderedDict()
_CACHE_SIZE = 128
_cache_lock = threading.Lock()  # the development server and the tests' live server answer in threads


def _prepared(schema, query: str) -> "Prepared":
    """Parse and validate once per distinct document (validation depends only on the schema and the text)."""
    key = (id(schema), query)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    prepared = _prepare(schema, query)
    if not prepared.errors and len(query) <= CACHED_DOCUMENT_BYTES:
        with _cache_lock:
            _cache[key] = prepared
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return prepared


def _prepare(schema, query: str) -> "Prepared":
    """The expanded size is capped before any rule runs, so no document costs more than milliseconds here."""
    try:
        document = parse(query, max_tokens=max_tokens())
    except GraphQLError as exc:
        return Prepared(None, (exc,))
    try:
        error = expanded_size_error(document) or repeated_field_error(document)
        if error is not None:
            return Prepared(document, (error,))
        errors = validate(schema, document, max_errors=50)
        if not errors:
            errors = validate(schema, document, cost_rules())
        if errors:
            return Prepared(document, tuple(errors))
        costs = tuple(
            (definition, operation_cost(schema, document, definition))
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
        )
    except RecursionError:
        return Prepared(document, (graphql_error(_("The document is nested too deeply."), BAD_REQUEST),))
    errors = [error for _node, cost in costs if (error := cost_error(cost)) is not None]
    return Prepared(document, tuple(errors[:1]), costs)


def _root_fields(document: DocumentNode, operation) -> list[str]:
    """The names of an operation's root fields, once per occurrence: an aliased or a twice-spread field counts
    each time it runs."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    names: list[str] = []
    open_fragments: set[str] = set()

    def walk(selection_set) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in open_fragments:
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    open_fragments.add(selection.name.value)
                    walk(fragment.selection_set)
                    open_fragments.discard(selection.name.value)

    walk(operation.selection_set)
    return names


def _set_path(target: dict, path: str, value) -> None:
    """Put an uploaded file where the multipart request's `map` says (`variables.file`)."""
    keys = path.split(".")
    node = target
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


class AnswerBudget:
    """The text one HTTP request's answers may carry (GRAPHQL_MAX_RESPONSE_CHARS), shared by a batch's
    documents. The item budget bounds how many objects an answer holds, not how long their texts are (a
    page of 100 messages of a megabyte each); this bounds that, while the answer is being made."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0

    @property
    def exceeded(self) -> bool:
        return self.spent > self.limit

    def spend(self, amount: int) -> None:
        self.spent += amount


def _never_awaitable(value: object) -> bool:
    return False


class QueryExecutionContext(LoaderExecutionContext):
    """Runs the operation's data loaders (`dataloaders.LoaderExecutionContext`). Counts the answer's text
    against the request's AnswerBudget and, once it is spent, resolves nothing
    more: the answer is then refused as a whole (MailerGraphQLView._result)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.budget: AnswerBudget | None = getattr(self.context_value, "graphql_answer_budget", None)

    def execute_field(self, parent_type, source, field_nodes, path):
        if self.budget is not None and self.budget.exceeded:
            return None
        return super().execute_field(parent_type, source, field_nodes, path)

    def complete_leaf_value(self, return_type, result):
        value = ExecutionContext.complete_leaf_value(return_type, result)
        if self.budget is not None:
            self.budget.spend(len(value) if isinstance(value, str) else 1)
        return value


class MutationExecutionContext(QueryExecutionContext):
    """Runs each root field of a mutation in a savepoint of its own, undone when that field or anything in
    its payload fails: a failure never leaves half a write, and the fields before it, which the answer
    reports as done, stay done (undoing the whole document would answer with ids of rows that no longer
    exist)."""

    def execute_field(self, parent_type, source, field_nodes, path):
        if path.prev is not None:
            return super().execute_field(parent_type, source, field_nodes, path)
        errors_before = len(self.collected_errors.errors)
        # Loaded values are read again after the write, and the payload is complete (every loader run)
        # before the savepoint ends, so that a failure anywhere in it undoes the write.
        self.loaders.clear()
        with transaction.atomic():
            result = self.wait(super().execute_field(parent_type, source, field_nodes, path))
            if len(self.collected_errors.errors) > errors_before:
                transaction.set_rollback(True)
        return result


@method_decorator(csrf_exempt, name="dispatch")
class MailerGraphQLView(GraphQLView):
    graphiql_template = "graphene/graphiql.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "POST"):
            return self._error_response(_("Use GET or POST."), 405)
        has_token = authenticate_request(request)
        try:
            wants_page = request.method == "GET" and "raw" not in request.GET
            if wants_page and self.graphiql and self.request_wants_html(request):
                # GraphiQL posts with the session; it reads the CSRF token from this cookie.
                get_token(request)
                return self.render_graphiql(request)
            # CSRF guards the session cookie's authority; a request without one (curl, an app that forgot
            # its token) has none to abuse and gets the plain "sign in first" answer instead.
            has_session = settings.SESSION_COOKIE_NAME in request.COOKIES
            checked = request.method == "POST" and not has_token and has_session
            reason = _csrf_failure(request) if checked else None
            if reason is None:
                data = self._parse_body(request)
            elif not self._token_request(request):
                return self._error_response(
                    _(
                        "CSRF check failed (%(reason)s). Browser sessions send the X-CSRFToken header; "
                        "other clients use Authorization: JWT <token>."
                    )
                    % {"reason": reason},
                    403,
                    FORBIDDEN,
                )
            else:
                data = self._parse_body(request)
        except BadRequest as exc:
            return self._error_response(str(exc), exc.status)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
            return self._error_response(_("The request is too large."), 413)
        except MultiPartParserError:
            return self._error_response(_("The multipart request cannot be read."), 400)
        batch = isinstance(data, list)
        if batch and (not data or len(data) > max_batch()):
            return self._error_response(
                ngettext(
                    "A batch holds 1 to %(limit)d operation.",
                    "A batch holds 1 to %(limit)d operations.",
                    max_batch(),
                )
                % {"limit": max_batch()},
                400,
            )
        plans = [self._plan(request, entry) for entry in (data if batch else [data])]
        jobs = [plan for plan in plans if isinstance(plan, Job)]
        refusal = self._request_refusal(jobs, batch=batch)
        if refusal is not None:
            return self._error_response(str(refusal.message), 400)
        request.graphql_answer_budget = AnswerBudget(settings.GRAPHQL_MAX_RESPONSE_CHARS)
        results = [self._execute(request, plan) if isinstance(plan, Job) else plan for plan in plans]
        if batch:
            body = [result for result, _status in results]
            status = max(status for _result, status in results)
        else:
            body, status = results[0]
        return HttpResponse(
            json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            status=status,
            content_type="application/json",
        )

    # --- request parsing -------------------------------------------------------------

    def _token_request(self, request: HttpRequest) -> bool:
        """Whether a request that failed the CSRF check needs none: JSON whose every operation only gets,
        refreshes or verifies a token. Those mutations take their credential as an argument and use no
        cookie, so a forged request gains nothing, and a browser sends JSON to another site only after a
        CORS preflight, which this site never grants. So curl and apps sign in without a CSRF token, and a
        multipart form from another site does not."""
        if self.get_content_type(request) != "application/json":
            return False
        try:
            data = self._parse_body(request)
        except BadRequest:
            return False
        for entry in data if isinstance(data, list) else [data]:
            query = entry.get("query") if isinstance(entry, dict) else None
            if not isinstance(query, str) or len(query.encode("utf-8")) > max_document_bytes():
                return False
            prepared = _prepared(self.schema.graphql_schema, query)
            if prepared.document is None or prepared.errors:
                return False
            for definition in prepared.document.definitions:
                if isinstance(definition, OperationDefinitionNode) and not (
                    set(_root_fields(prepared.document, definition)) <= TOKEN_FIELDS
                ):
                    return False
        return True

    def _parse_body(self, request: HttpRequest):
        if request.method == "GET":
            return {
                "query": request.GET.get("query"),
                "variables": request.GET.get("variables"),
                "operationName": request.GET.get("operationName"),
            }
        content_type = self.get_content_type(request)
        try:
            if content_type == "application/graphql":
                return {"query": request.body.decode("utf-8")}
            if content_type == "application/json":
                return json.loads(request.body.decode("utf-8"))
            if content_type == "multipart/form-data":
                return self._parse_multipart(request)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(_("The request body is not valid JSON in UTF-8.")) from None
        except RecursionError:
            raise BadRequest(_("The request body is nested too deeply.")) from None
        raise BadRequest(
            _("Send application/json (or multipart/form-data for file uploads) with a query."), 415
        )

    def _parse_multipart(self, request: HttpRequest):
        """The GraphQL multipart request spec: `operations` (JSON), `map` (JSON: file field -> variable
        paths), then the files."""
        try:
            operations = json.loads(request.POST["operations"])
            mapping = json.loads(request.POST.get("map") or "{}")
            if not isinstance(mapping, dict):
                raise ValueError
            for field, paths in mapping.items():
                upload = request.FILES[field]
                for path in paths:
                    _set_path(operations, path, upload)
        except RecursionError:
            raise BadRequest(_("The request body is nested too deeply.")) from None
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise BadRequest(
                _("A multipart request needs `operations` (JSON), `map` (JSON) and every mapped file.")
            ) from None
        return operations

    # --- execution ---------------------------------------------------------------------

    def _plan(self, request: HttpRequest, data) -> "Job | tuple[dict, int]":
        """One operation of the request checked without running anything: a Job, or its refusal (an answer
        and its status)."""
        if not isinstance(data, dict):
            return self._errors([graphql_error(_("Each operation must be a JSON object."), BAD_REQUEST)]), 400
        query = data.get("query")
        variables = data.get("variables")
        operation_name = data.get("operationName") or None
        if not isinstance(query, str) or not query.strip():
            return self._errors([graphql_error(_("Send a query."), BAD_REQUEST)]), 400
        if len(query.encode("utf-8")) > max_document_bytes():
            message = ngettext(
                "The document is larger than %(limit)d byte.",
                "The document is larger than %(limit)d bytes.",
                max_document_bytes(),
            ) % {"limit": max_document_bytes()}
            return self._errors([graphql_error(message, BAD_REQUEST)]), 400
        if isinstance(variables, str):
            try:
                variables = json.loads(variables) if variables.strip() else None
            except (ValueError, RecursionError):
                return self._errors([graphql_error(_("variables are not valid JSON."), BAD_REQUEST)]), 400
        if variables is not None and not isinstance(variables, dict):
            return self._errors([graphql_error(_("variables must be a JSON object."), BAD_REQUEST)]), 400
        if operation_name is not None and not isinstance(operation_name, str):
            return self._errors([graphql_error(_("operationName must be a string."), BAD_REQUEST)]), 400

        prepared = _prepared(self.schema.graphql_schema, query)
        if prepared.errors:
            return self._errors(prepared.errors), 400
        operation = get_operation_ast(prepared.document, operation_name)
        if operation is None:
            message = _("Name the operation to run (operationName).")
            return self._errors([graphql_error(message, BAD_REQUEST)]), 400
        if request.method == "GET" and operation.operation != OperationType.QUERY:
            return self._errors([graphql_error(_("Mutations need a POST request."), BAD_REQUEST)]), 405
        root_fields = _root_fields(prepared.document, operation)
        if not roles.may_act(request.user) and not set(root_fields) <= PUBLIC_ROOT_FIELDS:
            return self._errors([authentication_error(request)]), 401
        single_use = [name for name in root_fields if name in SINGLE_USE_FIELDS]
        others = [name for name in root_fields if name not in SINGLE_USE_FIELDS and name != "__typename"]
        if single_use and (len(single_use) > 1 or others):
            return self._errors([graphql_error(_single_use_message(), BAD_REQUEST)]), 400
        return Job(
            document=prepared.document,
            operation=operation,
            variables=variables,
            operation_name=operation_name,
            cost=prepared.cost_of(operation),
            single_use=bool(single_use),
        )

    def _request_refusal(self, jobs: list["Job"], *, batch: bool) -> GraphQLError | None:
        """What the request's documents may not do together: a batch shares one cost budget, and a password
        check or a refresh runs alone in its request."""
        if not batch:
            return None
        if any(job.single_use for job in jobs):
            return graphql_error(_single_use_message(), BAD_REQUEST)
        total = sum((job.cost for job in jobs), Cost())
        return cost_error(total, batch=True)

    def _execute(self, request: HttpRequest, job: "Job") -> tuple[dict, int]:
        options = {
            "root_value": None,
            "context_value": request,
            "variable_values": job.variables,
            "operation_name": job.operation_name,
            "middleware": self.get_middleware(request),
            # Nothing here is asynchronous (the ORM refuses an event loop): graphql-core need not ask every
            # value of the answer whether it is awaitable.
            "is_awaitable": _never_awaitable,
        }
        schema = self.schema.graphql_schema
        mutation = job.operation.operation == OperationType.MUTATION
        if mutation and not job.single_use:
            with transaction.atomic():
                result = execute(
                    schema, job.document, execution_context_class=MutationExecutionContext, **options
                )
                # An answer refused for its size carries no data, so no write may stand behind it: the
                # client could not learn which rows exist.
                if result.data is None or request.graphql_answer_budget.exceeded:
                    transaction.set_rollback(True)
        else:
            result = execute(schema, job.document, execution_context_class=QueryExecutionContext, **options)
        budget = request.graphql_answer_budget
        if budget.exceeded:
            if mutation:
                message = ngettext(
                    "The answer holds more than %(limit)d character of text; nothing of the mutation was "
                    "carried out. Ask for fewer fields.",
                    "The answer holds more than %(limit)d characters of text; nothing of the mutation was "
                    "carried out. Ask for fewer fields.",
                    budget.limit,
                )
            else:
                message = ngettext(
                    "The answer holds more than %(limit)d character of text; ask for smaller pages or "
                    "fewer fields.",
                    "The answer holds more than %(limit)d characters of text; ask for smaller pages or "
                    "fewer fields.",
                    budget.limit,
                )
            return self._errors([graphql_error(message % {"limit": budget.limit}, BAD_REQUEST)]), 400
        return self._result(result)

    def _result(self, result: ExecutionResult) -> tuple[dict, int]:
        body: dict = {}
        if result.errors:
            body["errors"] = [format_error(error) for error in result.errors]
        body["data"] = result.data
        if result.errors and result.data is None:
            codes = {error["extensions"]["code"] for error in body["errors"]}
            return body, 401 if codes == {UNAUTHENTICATED} else 400
        return body, 200

    def _errors(self, errors) -> dict:
        return {"errors": [format_error(error) for error in errors]}

    def _error_response(self, message: str, status: int, code: str = BAD_REQUEST) -> HttpResponse:
        body = self._errors([graphql_error(message, code)])
        return HttpResponse(
            json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            status=status,
            content_type="application/json",
        )
