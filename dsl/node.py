"""A light frozen-record base for the syntax tree.

``dataclasses`` costs about a millisecond per class at import time, and the
AST has sixty of them; ``iommu-rules check`` must start fast.  ``Node`` builds
``__init__``, ``__eq__`` and ``__hash__`` with one ``exec`` per class, and
``dataclass_transform`` tells type checkers that subclasses behave like frozen
dataclasses.

Frozen is the type checker's guarantee (``.ci/typecheck`` refuses an assignment
to a node's field), not a run-time guard: a ``__setattr__`` that raises makes
``__init__`` store each field through ``object.__setattr__``, 0.67 us a node
against 0.25 us for plain stores, and a 10k-device board makes some 300,000
nodes (syntax, model and the resolver's reasons).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar, dataclass_transform, overload

_MISSING: Any = object()


class _Field:
    __slots__ = ("compare", "default")

    def __init__(self, default: Any, compare: bool):
        self.default = default
        self.compare = compare


def node_field(*, default: Any = _MISSING, compare: bool = True) -> Any:
    """Declare a field with a default, or one left out of equality (spans)."""
    return _Field(default, compare)


@dataclass_transform(eq_default=True, frozen_default=True, field_specifiers=(node_field,))
class Node:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _compared: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        compared: list[str] = []
        defaults: dict[str, Any] = {}
        for name in inspect.get_annotations(cls):
            if name.startswith("_"):
                continue
            raw = cls.__dict__.get(name, _MISSING)
            spec = raw if isinstance(raw, _Field) else _Field(raw, True)
            names.append(name)
            if spec.compare:
                compared.append(name)
            if spec.default is not _MISSING:
                defaults[name] = spec.default
            if isinstance(raw, _Field):
                delattr(cls, name)
        params = ", ".join(f"{n}=_d_{n}" if n in defaults else n for n in names)
        sets = "".join(f"    self.{n} = {n}\n" for n in names) or "    pass\n"
        key = "".join(f"self.{n}, " for n in compared)
        okey = "".join(f"other.{n}, " for n in compared)
        src = (
            f"def __init__(self, {params}):\n{sets}"
            "def __eq__(self, other):\n"
            f"    return other.__class__ is self.__class__ and ({key}) == ({okey})\n"
            "def __hash__(self):\n"
            f"    return hash((self.__class__.__name__, {key}))\n"
        )
        env: dict[str, Any] = {}
        env.update({f"_d_{n}": v for n, v in defaults.items()})
        exec(src, env)
        cls.__init__ = env["__init__"]  # type: ignore[misc,method-assign]
        cls.__eq__ = env["__eq__"]  # type: ignore[method-assign]
        cls.__hash__ = env["__hash__"]  # type: ignore[method-assign]
        cls._fields = tuple(names)
        cls._compared = tuple(compared)

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (nodes are frozen)."""
        return type(self)(**{n: changes.get(n, getattr(self, n)) for n in self._fields})

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._compared)
        return f"{type(self).__name__}({args})"


_O = TypeVar("_O")
_V = TypeVar("_V")


class kept(Generic[_O, _V]):
    """``functools.cached_property`` without the lock Python 3.11 takes on each first read
    (3.12 dropped it; 0.4-1 us a read, and a 10k-device board's stages make 9,500): the
    value goes to the instance's ``__dict__``, so later reads never reach this
    descriptor."""

    def __init__(self, fn: Callable[[_O], _V]):
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: _O, owner: type | None = None) -> _V: ...
    def __get__(self, obj: _O | None, owner: type | None = None) -> _V | Self:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value
