"""Data loaders: what a field needs beyond its own row, loaded for all the rows of one level in one query.

Saleor's pattern (`core/dataloaders`), without promises: a resolver asks its operation's loader for a key
(`MailingByIdLoader.of(info).load(pk)`) and gets a `Deferred`; the loader only queues the key. When the
execution has gone as far as it can without the value, each loader with queued keys runs one batch query
for all of them, the waiting fields complete, and the keys their completion asks for are batched the same
way. So `recentFailures { occurrence { sent } attemptLog { outcome } }` costs one query per loader whatever
the number of rows, and a page of 100 costs what a page of 5 costs.

graphql-core 3 completes fields depth first and knows only `async` awaitables (which need an event loop,
and Django's ORM refuses to run inside one), so `LoaderExecutionContext` teaches its execution the one
kind of pending value it meets here, `Deferred`: a field, a list or an object whose value depends on one
completes once the value is there, with graphql-core's own rules for errors and null propagation.

A loader is built per operation (a batch's operations and a mutation's root fields each start empty, so no
value read before a write is served after it) and holds what the signed-in user may see: every batch starts
from an owner-scoped selector, like the rows themselves (R-AUTH-4).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from enum import Enum
from functools import partial
from typing import Any, Generic, Self, TypeVar

from graphql import ExecutionContext, located_error
from graphql.execution.execute import get_field_def
from graphql.execution.values import get_argument_values
from graphql.pyutils import Undefined

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_NO_ARGUMENTS: dict[str, Any] = {}
_SCALARS = (int, float, str, bool, type(None))


class Deferred:
    """A value a loader fills in later in the same operation: a minimal synchronous promise.

    An answer of 50 rows makes hundreds of these, so a waiter is a tuple `(function, a, b)` called as
    `function(self, a, b)` once the value is known, with module-level functions rather than closures."""

    __slots__ = ("_waiters", "done", "error", "value")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.error: Exception | None = None
        self._waiters: list[tuple] | None = None

    @classmethod
    def resolved(cls, value: Any) -> Deferred:
        deferred = cls()
        deferred.done, deferred.value = True, value
        return deferred

    def resolve(self, value: Any) -> None:
        if type(value) is Deferred:
            value._wait(_adopt, self, None)
        else:
            self._finish(value, None)

    def reject(self, error: Exception) -> None:
        self._finish(None, error)

    def _finish(self, value: Any, error: Exception | None) -> None:
        self.done, self.value, self.error = True, value, error
        waiters, self._waiters = self._waiters, None
        if waiters is not None:
            for function, a, b in waiters:
                function(self, a, b)

    def _wait(self, function: Callable[[Deferred, Any, Any], None], a: Any, b: Any) -> None:
        if self.done:
            function(self, a, b)
        elif self._waiters is None:
            self._waiters = [(function, a, b)]
        else:
            self._waiters.append((function, a, b))

    def then(
        self,
        on_value: Callable[[Any], Any] | None = None,
        on_error: Callable[[Exception], Any] | None = None,
    ) -> Deferred:
        """A Deferred of `on_value(value)` (or of `on_error(error)`); an exception either raises rejects
        it."""
        result = Deferred()
        self._wait(_run_then, (on_value, on_error), result)
        return result

    @staticmethod
    def all(items: list[Deferred], finish: Callable[[list[Any]], Any] | None = None) -> Deferred:
        """The list of the items' values (passed through `finish` when given) once all are known; rejected
        with the first error."""
        gather = _Gather(len(items), finish)
        if not items:
            gather.complete()
        for index, item in enumerate(items):
            item._wait(_collect, gather, index)
        return gather.result


def _adopt(source: Deferred, target: Deferred, _unused: None) -> None:
    target._finish(source.value, source.error)


def _run_then(source: Deferred, handlers: tuple, result: Deferred) -> None:
    on_value, on_error = handlers
    try:
        if source.error is None:
            value = on_value(source.value) if on_value is not None else source.value
        elif on_error is not None:
            value = on_error(source.error)
        else:
            result.reject(source.error)
            return
    except Exception as error:  # it becomes the field's error, as in graphql-core
        result.reject(error)
        return
    result.resolve(value)


class _Gather:
    __slots__ = ("finish", "remaining", "result", "values")

    def __init__(self, count: int, finish: Callable[[list[Any]], Any] | None) -> None:
        self.values: list[Any] = [None] * count
        self.remaining = count
        self.finish = finish
        self.result = Deferred()

    def complete(self) -> None:
        if self.finish is None:
            self.result.resolve(self.values)
            return
        try:
            value = self.finish(self.values)
        except Exception as error:  # as in `then`
            self.result.reject(error)
            return
        self.result.resolve(value)


def _collect(source: Deferred, gather: _Gather, index: int) -> None:
    if gather.result.done:
        return
    if source.error is not None:
        gather.result.reject(source.error)
        return
    gather.values[index] = source.value
    gather.remaining -= 1
    if not gather.remaining:
        gather.complete()


class Loaders:
    """The loaders of one operation, and the ones with keys waiting for their batch. Nothing here points
    back at the request or at this registry, so that what was loaded is freed with the request rather than
    left to the garbage collector."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self._by_class: dict[tuple[type, Hashable], DataLoader] = {}
        self.waiting: list[DataLoader] = []
        # What the operation's fields work out once however many rows they resolve (`selection.selected`).
        self.memo: dict[Hashable, Any] = {}

    def get(self, cls: type[DataLoader], variant: Hashable = None) -> DataLoader:
        loader = self._by_class.get((cls, variant))
        if loader is None:
            loader = self._by_class[cls, variant] = cls(self.user, self.waiting, variant)
        return loader

    def clear(self) -> None:
        """Forget what was loaded (after a write)."""
        self._by_class.clear()
        self.waiting.clear()

    def run_until(self, deferred: Deferred) -> None:
        while not deferred.done:
            if not self.waiting:
                raise RuntimeError("A field waits for a value that no loader is loading.")
            self.waiting.pop(0).dispatch()


class DataLoader(Generic[K, V]):
    """Loads values by key, one batch query per level of the operation; `batch_load` returns one value per
    key, in the keys' order. `self.user` is the signed-in user: a batch loads only what they may see. A loader
    whose batch depends on what the query selects is asked for with a `variant` (e.g. the columns to read):
    each variant is a loader of its own, with its own cache."""

    def __init__(self, user: Any, waiting: list[DataLoader], variant: Hashable = None) -> None:
        self.user = user
        self.variant = variant
        self._waiting = waiting
        self._cache: dict[K, Deferred] = {}
        self._queue: list[K] = []

    @classmethod
    def of(cls, info, variant: Hashable = None) -> Self:
        return info.context.dataloaders.get(cls, variant)

    def load(self, key: K) -> Deferred:
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = Deferred()
            if not self._queue:
                self._waiting.append(self)
            self._queue.append(key)
        return found

    def load_many(self, keys: Iterable[K]) -> Deferred:
        return Deferred.all([self.load(key) for key in keys])

    def prime(self, key: K, value: V) -> None:
        """Tell the loader a value it would otherwise query (a row already at hand)."""
        self._cache.setdefault(key, Deferred.resolved(value))

    def dispatch(self) -> None:
        keys, self._queue = self._queue, []
        try:
            values = self.batch_load(keys)
        except Exception as error:  # each waiting field reports it as its own error
            for key in keys:
                self._cache.pop(key).reject(error)
            return
        for key, value in zip(keys, values, strict=True):
            self._cache[key].resolve(value)

    def batch_load(self, keys: list[K]) -> list[V]:
        raise NotImplementedError


class LoaderExecutionContext(ExecutionContext):
    """graphql-core's execution, plus `Deferred` values: a resolver may return one, and a field, list or
    object that waits for one completes when it is settled. The operation's loaders run once nothing else
    can proceed (`execute_operation`); errors are located and nulls propagated exactly as graphql-core does
    for values it has at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loaders = Loaders(getattr(self.context_value, "user", None))
        self.context_value.dataloaders = self.loaders
        # Pending values execute_field has handed out: a selection none of whose fields added one has no
        # value to wait for (`execute_fields`), and its dict is the answer as it is.
        self.pending = 0
        # Argument values by type and field node: the variables are the operation's, so a field's arguments
        # are the same for every row; kept when they are scalars only (a resolver may change a list or a
        # dict). By type too: a field of an interface may take other defaults in each type implementing it.
        self._arguments: dict[tuple[str, int], dict[str, Any]] = {}

    def execute_operation(self, operation, root_value):
        return self.wait(super().execute_operation(operation, root_value))

    def wait(self, result: Any) -> Any:
        """Run the loaders until `result` is settled; its value, or its error raised."""
        if not isinstance(result, Deferred):
            return result
        self.loaders.run_until(result)
        if result.error is not None:
            raise result.error
        return result.value

    def execute_fields(self, parent_type, source_value, path, fields):
        before = self.pending
        results = super().execute_fields(parent_type, source_value, path, fields)
        return results if self.pending == before else self._gather_fields(results)

    def execute_fields_serially(self, parent_type, source_value, path, fields):
        return self._gather_fields(super().execute_fields_serially(parent_type, source_value, path, fields))

    @staticmethod
    def _gather_fields(results: dict[str, Any]) -> dict[str, Any] | Deferred:
        # `type(...) is`: these checks run for every field and value of the answer.
        pending = [name for name, value in results.items() if type(value) is Deferred]
        if not pending:
            return results

        def fill(values: list[Any]) -> dict[str, Any]:
            results.update(zip(pending, values, strict=True))
            return results

        return Deferred.all([results[name] for name in pending], fill)

    def execute_field(self, parent_type, source, field_nodes, path):
        """graphql-core's `execute_field` (3.2), which offers no hook for these: a field's arguments are
        worked out once per operation (`_arguments`), and a resolver may return a `Deferred`, which the
        field completes when it is settled. Nothing here is awaitable (the view passes `is_awaitable`
        answering no), so graphql-core's awaiting is left out."""
        field_def = get_field_def(self.schema, parent_type, field_nodes[0])
        if not field_def:
            return Undefined
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        if self.middleware_manager:
            resolve_fn = self.middleware_manager.get_field_resolver(resolve_fn)
        info = self.build_resolve_info(field_def, field_nodes, parent_type, path)
        try:
            key = (parent_type.name, id(field_nodes[0]))
            args = self._arguments.get(key) if field_def.args else _NO_ARGUMENTS
            if args is None:
                args = get_argument_values(field_def, field_nodes[0], self.variable_values)
                if all(type(value) in _SCALARS or isinstance(value, Enum) for value in args.values()):
                    self._arguments[key] = args
            completed = self.complete_value(
                return_type, field_nodes, info, path, resolve_fn(source, info, **args)
            )
        except Exception as raw_error:
            self.handle_field_error(located_error(raw_error, field_nodes, path.as_list()), return_type, path)
            return None
        if type(completed) is not Deferred:
            return completed
        if completed.done and completed.error is None:
            return completed.value
        self.pending += 1
        return completed.then(None, partial(self._field_error, return_type, field_nodes, path))

    def _field_error(self, return_type, field_nodes, path, raw_error: Exception) -> None:
        """graphql-core's handling of a field's error: null for a nullable field, raised (to its parent)
        for a non-null one."""
        self.handle_field_error(located_error(raw_error, field_nodes, path.as_list()), return_type, path)

    def complete_value(self, return_type, field_nodes, info, path, result):
        if type(result) is Deferred:
            if not result.done or result.error is not None:
                return result.then(partial(self.complete_value, return_type, field_nodes, info, path))
            result = result.value
        return super().complete_value(return_type, field_nodes, info, path, result)

    def complete_list_value(self, return_type, field_nodes, info, path, result):
        completed = super().complete_list_value(return_type, field_nodes, info, path, result)
        pending = [index for index, item in enumerate(completed) if type(item) is Deferred]
        if not pending:
            return completed
        item_type = return_type.of_type

        def settled(index: int) -> Deferred:
            on_error = partial(self._field_error, item_type, field_nodes, path.add_key(index, None))
            return completed[index].then(None, on_error)

        def fill(values: list[Any]) -> list[Any]:
            for index, value in zip(pending, values, strict=True):
                completed[index] = value
            return completed

        return Deferred.all([settled(index) for index in pending], fill)
