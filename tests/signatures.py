"""Comparing a protocol's members with their implementations, for tests/test_surface.py.

A protocol of ``tiercube.capabilities`` types a member by hand; an
implementation matches it when a caller cannot tell them apart: the same
parameters passed the same ways, each taking at least what the protocol says,
and a result that is what the protocol says or narrower.
"""

from __future__ import annotations

import inspect
import typing
from types import FunctionType, UnionType
from typing import Any

from tiercube import capabilities


def protocol_members(protocol: Any) -> dict[str, FunctionType | property]:
    """What ``protocol`` declares, its bases' members included: methods and properties."""
    members: dict[str, FunctionType | property] = {}
    for base in reversed(typing.cast(type[object], protocol).__mro__):
        namespace: dict[str, object] = dict(vars(base))
        for name, value in namespace.items():
            # Dunders count only when the protocol's own body declares them (__enter__, __exit__), not typing's.
            declared = not name.startswith("_") or getattr(value, "__qualname__", "").startswith(f"{base.__name__}.")
            if isinstance(value, property | FunctionType) and declared and base.__module__ == capabilities.__name__:
                members[name] = value
    return members


def bindings(cls: type[object]) -> dict[Any, Any]:
    """What each type variable of ``cls``'s generic bases stands for in ``cls`` (``TableT`` -> ``LocalTable``)."""
    bound: dict[Any, Any] = {}
    for base in reversed(cls.__mro__):
        for generic in vars(base).get("__orig_bases__", ()):
            origin = typing.get_origin(generic)
            parameters = getattr(origin, "__parameters__", ())
            for parameter, argument in zip(parameters, typing.get_args(generic)):
                bound[parameter] = bound.get(argument, argument)
    return bound


def evaluated(function: FunctionType, bound: dict[Any, Any]) -> dict[str, Any]:
    """Each annotation of ``function`` evaluated where it was written (what ``typing.get_type_hints``
    does), one at a time: a name imported for the type checkers only (``pa.Table``) stays as written."""
    found: dict[str, Any] = {}
    for name, written in function.__annotations__.items():
        try:
            value = eval(written, function.__globals__) if isinstance(written, str) else written  # noqa: S307 (our own source)
        except NameError:
            value = written
        found[name] = bound.get(value, value)
    return found


def narrower(sub: Any, sup: Any) -> bool:
    """Whether every value of type ``sub`` is a ``sup``; generic arguments are compared covariantly,
    as our handed-out mappings declare theirs (``Tables[LocalTable]`` is a ``Tables[ReadOnlyTable]``)."""
    if sub == sup:
        return True
    if isinstance(sub, str) or isinstance(sup, str):
        return False  # unresolved: only the same text is the same type
    if typing.get_origin(sub) in (typing.Union, UnionType):
        return all(narrower(member, sup) for member in typing.get_args(sub))
    if typing.get_origin(sup) in (typing.Union, UnionType):
        return any(narrower(sub, member) for member in typing.get_args(sup))
    sub_class, sup_class = typing.get_origin(sub) or sub, typing.get_origin(sup) or sup
    if not (isinstance(sub_class, type) and isinstance(sup_class, type) and issubclass(sub_class, sup_class)):
        return False
    sub_arguments, sup_arguments = typing.get_args(sub), typing.get_args(sup)
    return not sup_arguments or (
        len(sub_arguments) == len(sup_arguments) and all(map(narrower, sub_arguments, sup_arguments))
    )


def drift(declared: FunctionType | property, implemented: object, bound: dict[Any, Any]) -> list[str]:
    """How ``implemented`` differs from what a protocol ``declared`` for it, in what a caller can tell apart.

    Parameters: the same kinds in the same order, the same defaults, the same names (but for
    positional-only ones, which no caller can name), and each accepting at least the protocol's
    type. The return type: the protocol's, or narrower.
    """
    declared_function: object = declared
    if isinstance(declared, property):
        if not isinstance(implemented, property):
            return [f"is {type(implemented).__name__}, not a property"]
        declared_function, implemented = declared.fget, implemented.fget
    if not isinstance(declared_function, FunctionType) or not isinstance(implemented, FunctionType):
        return [f"is {type(implemented).__name__}, not a method"]
    wanted, found = evaluated(declared_function, {}), evaluated(implemented, bound)
    promised = list(inspect.signature(declared_function).parameters.values())[1:]
    given = list(inspect.signature(implemented).parameters.values())[1:]
    problems: list[str] = []
    if not narrower(found.get("return"), wanted.get("return")):
        problems.append(f"returns {found.get('return')}, not a {wanted.get('return')}")
    if [_callable_as(p) for p in promised] != [_callable_as(p) for p in given]:
        return [*problems, f"takes {_bare(given)} where the protocol has {_bare(promised)}"]
    for ours, theirs in zip(promised, given):
        if ours.default != theirs.default:
            problems.append(f"{theirs.name}={theirs.default!r} where the protocol has {ours.default!r}")
        if not narrower(wanted.get(ours.name), found.get(theirs.name)):
            problems.append(f"{theirs.name}: {found.get(theirs.name)} does not take every {wanted.get(ours.name)}")
    return problems


def _callable_as(parameter: inspect.Parameter) -> tuple[str, str]:
    """How a caller passes the parameter: its kind, and its name unless no caller can use it."""
    return parameter.kind.name, "" if parameter.kind is parameter.POSITIONAL_ONLY else parameter.name


def _bare(parameters: list[inspect.Parameter]) -> str:
    return str(inspect.Signature([p.replace(annotation=p.empty) for p in parameters]))
