"""Generic owner-scoped views (NetBox's `generic/object_views.py` pattern): a concrete page names its
selector, form, service and columns; these classes do the HTTP and nothing else.

- An object is looked up only through an owner-scoped selector: another owner's id raises the model's
  DoesNotExist exactly like a missing one, and both become a 404 (R-AUTH-4).
- Every write goes through a service with `actor=request.user`: `FormInvalid` re-renders the form with what
  was typed, a `ValidationError` with a code becomes an error message, `PermissionDenied` a 403.
- The pages are for owners of lists. Managers oversee mailings and keep no clients or messages of their own
  (R-AUTH-5: they see no client lists), content editors work on the blog only (R-AUTH-6): both get a 403
  page, not an empty list that would invite them to add clients. Anonymous visitors go to the login page; a
  blocked user has already been signed out by `LogoutBlockedUsersMiddleware`.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from backend.accounts import roles
from backend.filtering import ListFilterSet, ordered
from backend.mailings.services import FormInvalid


def error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


class OwnerPageMixin:
    """Login required; a 403 with the site's layout for accounts that have no owner pages."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles.has_owner_pages(request.user):
            raise PermissionDenied(
                _(
                    "These pages are for owners of client lists. Managers oversee mailings from their own "
                    "pages; content editors work on the blog."
                )
            )
        return super().dispatch(request, *args, **kwargs)


class OwnerObjectMixin(OwnerPageMixin):
    """Looks the object of an id-taking URL up through the owner-scoped selector only."""

    def lookup(self, pk: int) -> Model:
        """`selectors.<entity>_get(self.request.user, pk)`."""
        raise NotImplementedError

    def get_object(self, pk: int) -> Model:
        try:
            return self.lookup(pk)
        except ObjectDoesNotExist as exc:
            raise Http404 from exc


# --- the list: filters, whitelisted sorting, pagination ---------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a list. Sortable when `order_by` names fields; `classes` hides minor columns at phone
    width (e.g. "d-none d-md-table-cell")."""

    key: str
    label: str
    cell: Callable[[Any], Any]
    order_by: tuple[str, ...] = ()
    link: bool = False
    classes: str = ""


@dataclass(frozen=True)
class Action:
    label: str
    url: str
    icon: str
    style: str = "outline-secondary"


def query_url(params: QueryDict, **changes: Any) -> str:
    """This page's address with `params` (its query string) changed: a value replaces the parameter, None
    drops it. Every link of a list (sorting, pages, another table's pages) keeps the others this way."""
    query = params.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def paginated(params: QueryDict, queryset: QuerySet, per_page: int, name: str = "page") -> dict:
    """One page of `queryset` (the number from the parameter `name`) and the links around it, every other
    parameter kept (filters, sorting, another table's page): `page`, `pages` (the numbers, elided, with
    None for a gap), `previous_url` and `next_url`."""
    page = Paginator(queryset, per_page).get_page(params.get(name))
    pages = []
    if page.paginator.num_pages > 1:
        for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
            gap = number == page.paginator.ELLIPSIS
            url = None if gap else query_url(params, **{name: number})
            pages.append({"label": number, "url": url, "current": number == page.number})
    return {
        "page": page,
        "pages": pages,
        "previous_url": query_url(params, **{name: page.previous_page_number()})
        if page.has_previous()
        else None,
        "next_url": query_url(params, **{name: page.next_page_number()}) if page.has_next() else None,
    }


class OwnerListView(OwnerPageMixin, View):
    """A page of the owner's objects, narrowed by the list's FilterSet (the one the API uses): the URL's `q`
    is its `search`, its other fields keep their names. A value the FilterSet refuses is left out and the
    search's error shown. Two queries whatever the number of rows (the count and the page): columns read only
    the row itself or what `annotate` added or joined."""

    template_name = "web/generic/object_list.html"
    paginate_by = 25
    columns: list[Column] = []
    default_sort = ""
    title = ""
    add_url = ""
    add_label = gettext_lazy("Add")
    empty_text = ""
    no_match_text = gettext_lazy("Nothing matches your search.")

    def get_filterset(self, data: dict) -> ListFilterSet:
        """`selectors.<entity>_list(self.request.user, data)`."""
        raise NotImplementedError

    def annotate(self, queryset: QuerySet) -> QuerySet:
        """What the columns read besides the row (counts, joins)."""
        return queryset

    def prepare(self, objects: list) -> None:
        """What the columns read that is computed for the page's rows at once (a query per page, not per
        row), written onto the objects."""

    def row_url(self, obj: Model) -> str:
        raise NotImplementedError

    def row_actions(self, obj: Model) -> list[Action]:
        return []

    def _sorting(self, requested: str) -> tuple[str, list[str]]:
        sortable = {column.key: column.order_by for column in self.columns if column.order_by}
        key = requested.removeprefix("-")
        if key not in sortable:
            requested, key = self.default_sort, self.default_sort.removeprefix("-")
        descending = requested.startswith("-")
        return requested, [f"-{name}" if descending else name for name in sortable[key]]

    def _header(self, params: QueryDict, sort: str) -> list[dict]:
        header = []
        for column in self.columns:
            entry = {"label": column.label, "classes": column.classes, "url": None, "direction": None}
            if column.order_by:
                if sort.removeprefix("-") == column.key:
                    entry["direction"] = "descending" if sort.startswith("-") else "ascending"
                next_sort = column.key if sort != column.key else f"-{column.key}"
                entry["url"] = query_url(params, sort=next_sort, page=None)
            header.append(entry)
        return header

    def get(self, request: HttpRequest) -> HttpResponse:
        data = request.GET.dict()
        data["search"] = data.pop("q", "")
        self.filters = self.get_filterset(data)
        queryset = self.annotate(self.filters.qs)
        query = self.filters.value("search") or ""
        sort, fields = self._sorting(request.GET.get("sort", ""))
        table = paginated(request.GET, ordered(queryset, *fields), self.paginate_by)
        objects = list(table["page"].object_list)
        self.prepare(objects)
        table["rows"] = [
            {
                "url": self.row_url(obj),
                "cells": [(column, column.cell(obj)) for column in self.columns],
                "actions": self.row_actions(obj),
            }
            for obj in objects
        ]
        table["header"] = self._header(request.GET, sort)
        context = {
            "table": table,
            "query": query,
            "search_errors": self.filters.errors.get("search", []),
            "sort": sort,
        }
        return render(request, self.template_name, self.get_context(context))

    def get_context(self, context: dict) -> dict:
        return {
            "title": self.title,
            "add_url": self.add_url,
            "add_label": self.add_label,
            "search_label": search.label if (search := self.filters.filters.get("search")) else "",
            "searchable": search is not None,
            "empty_text": self.empty_text,
            "no_match_text": self.no_match_text,
            **context,
        }


# --- create and edit -----------------------------------------------------------------------------------


class OwnerFormMixin:
    template_name = "web/generic/object_edit.html"
    form_class: type = None
    list_url = ""

    def render_form(self, form, *, title: str) -> HttpResponse:
        context = {"form": form, "title": title, "cancel_url": self.list_url, **self.extra_context(form)}
        return render(self.request, self.template_name, context)

    def extra_context(self, form) -> dict:
        """More for the template (e.g. a picker's rows); computed from the form, so also when invalid."""
        return {}

    def success_url(self, obj: Model) -> str:
        return self.list_url

    def saved(
        self, perform: Callable[[], Model], *, invalid_form, title: str, message: Callable
    ) -> HttpResponse:
        """Run the service: a redirect on success, the form again (with what was typed) on a refusal."""
        try:
            obj = perform()
        except FormInvalid as exc:
            return self.render_form(exc.form, title=title)
        except ValidationError as exc:
            messages.error(self.request, error_text(exc))
            return self.render_form(invalid_form(), title=title)
        messages.success(self.request, message(obj))
        return redirect(self.success_url(obj))


class OwnerCreateView(OwnerFormMixin, OwnerPageMixin, View):
    title = ""

    def perform_create(self, data: QueryDict) -> Model:
        """`services.<entity>_create(actor=self.request.user, data=data)`."""
        raise NotImplementedError

    def created_message(self, obj: Model) -> str:
        raise NotImplementedError

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_form(self.form_class(owner=request.user), title=self.title)

    def post(self, request: HttpRequest) -> HttpResponse:
        return self.saved(
            lambda: self.perform_create(request.POST),
            invalid_form=lambda: self.form_class(data=request.POST, owner=request.user),
            title=self.title,
            message=self.created_message,
        )


class OwnerEditView(OwnerFormMixin, OwnerObjectMixin, View):
    def perform_update(self, obj: Model, data: QueryDict) -> Model:
        """`services.<entity>_update(actor=self.request.user, <entity>=obj, data=data)`."""
        raise NotImplementedError

    def edit_title(self, obj: Model) -> str:
        raise NotImplementedError

    def updated_message(self, obj: Model) -> str:
        raise NotImplementedError

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        return self.render_form(self.form_class(instance=obj, owner=obj.owner), title=self.edit_title(obj))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        # The title is taken before the form writes what was typed into the instance.
        title = self.edit_title(obj)
        return self.saved(
            lambda: self.perform_update(obj, request.POST),
            invalid_form=lambda: self.form_class(data=request.POST, instance=obj, owner=obj.owner),
            title=title,
            message=self.updated_message,
        )


# --- delete with confirmation ------------------------------------------------------------------------


class OwnerDeleteView(OwnerObjectMixin, View):
    """GET shows what the deletion takes with it; POST deletes through the service. What the domain says
    stands in the way (`blockers`, e.g. the mailings that still send a message) is listed with links in
    place of the Delete button; a refusal of the POST shows the service's message on the same page."""

    template_name = "web/generic/object_delete.html"
    list_url = ""

    def perform_delete(self, obj: Model) -> None:
        """`services.<entity>_delete(actor=self.request.user, <entity>=obj)`."""
        raise NotImplementedError

    def delete_title(self, obj: Model) -> str:
        raise NotImplementedError

    def deleted_message(self, label: str) -> str:
        raise NotImplementedError

    def consequences(self, obj: Model) -> Iterable[str]:
        return []

    def blockers(self, obj: Model) -> list[Action]:
        """What must be changed or deleted first, as links, from a selector; empty when nothing is."""
        return []

    def blocked_text(self, obj: Model, count: int) -> str:
        """Why the object cannot be deleted yet and what to do, when `blockers` is not empty."""
        return ""

    def confirmation(self, obj: Model, *, status: int = 200) -> HttpResponse:
        blockers = self.blockers(obj)
        context = {
            "object": obj,
            "title": self.delete_title(obj),
            "blockers": blockers,
            "blocked_text": self.blocked_text(obj, len(blockers)) if blockers else "",
            "consequences": [] if blockers else list(self.consequences(obj)),
            "cancel_url": self.list_url,
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.confirmation(self.get_object(pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        label = str(obj)
        try:
            self.perform_delete(obj)
        except ValidationError as exc:
            messages.error(request, error_text(exc))
            return self.confirmation(obj, status=409)
        messages.success(request, self.deleted_message(label))
        return redirect(self.list_url)
