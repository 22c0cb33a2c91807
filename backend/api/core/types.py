"""The base of every model-backed GraphQL type."""

from typing import Any, TypeVar

from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from graphene_django import DjangoObjectType

M = TypeVar("M", bound=Model)


class ModelType(DjangoObjectType):
    """DjangoObjectType with a cheaper answer to "is this row one of mine?": graphql-core asks it for every
    object of an answer, and graphene-django's answer inspects the row's class each time."""

    class Meta:
        abstract = True

    @classmethod
    def is_type_of(cls, root, info) -> bool:
        return type(root) is cls._meta.model or super().is_type_of(root, info)


def partial_row(model: type[M], db: str | None, loaded: dict[str, Any]) -> M:
    """An instance of `model` holding only `loaded` (attribute names: `id`, `mailing_id`, annotations),
    as a query with every other column deferred makes one: reading another column loads the row. For a
    value worked out in another row's query; cheaper than `Model.from_db`, which walks every field, when
    nothing listens to the model's pre_init/post_init signals (which this would not send)."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        fields = [f.attname for f in model._meta.concrete_fields if f.attname in loaded]
        instance = model.from_db(db, fields, [loaded[name] for name in fields])
        instance.__dict__.update(loaded)
        return instance
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = db
    instance.__dict__.update(loaded)
    return instance
