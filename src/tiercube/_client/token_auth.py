"""``TokenAuthentication``: connect with a token, typed by the most its tier can grant.

``connect()``'s overloads read the type argument: a
``TokenAuthentication[ReadOnlySession]`` can only give ``ReadOnlySession |
MinimalSession``, and ``require=`` a wider tier does not type-check. At
runtime the session is capped the same way (the server caps every request on
its own). It is deliberately not an ``Authenticate`` (it has no
``__call__``): the overloads for any other credentials, which may return any
tier, never match it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast, final, overload

from tiercube._client.core import SessionCore
from tiercube._client.sessions import LocalSession
from tiercube._client.tokens import Token, TokenTierT, check_token_tier
from tiercube._public import public
from tiercube._wire.tiers import TierName, narrower
from tiercube._wire.tokens import parse

# The constructor's own type variable: a class's own may not appear in its __init__'s self type.
IssuedT = TypeVar("IssuedT", bound=SessionCore)


@public
@final
@dataclass(frozen=True, init=False)
class TokenAuthentication(Generic[TokenTierT]):
    """A token issued by ``security.create_token``, as credentials for ``tiercube.connect``.

    ``TokenAuthentication(token)`` with the ``Token`` object keeps its tier in
    the type; with the token's text, say the tier you expect
    (``tier=tiercube.ReadOnlySession``) or get any tier a token can give.
    Either way the session is never wider than the token's own tier.
    """

    text: str = field(repr=False)
    tier: TierName

    @overload
    def __init__(self: TokenAuthentication[IssuedT], token: Token[IssuedT], /) -> None: ...
    @overload
    def __init__(self: TokenAuthentication[IssuedT], token: str, /, *, tier: type[IssuedT]) -> None: ...
    @overload
    def __init__(self: TokenAuthentication[LocalSession], token: str, /) -> None: ...
    def __init__(self, token: Token[Any] | str, /, *, tier: type[Any] | None = None) -> None:
        text = token.text if isinstance(token, Token) else token
        stated = parse(text)
        if stated is None:
            raise ValueError("not a tiercube token: a token reads tiercube.<tier>.<id>.<secret>, as security.create_token gave it")
        if tier is not None:
            check_token_tier(tier)
        # The narrower of the tier the text states and the one asked for: the server never grants more.
        ceiling: TierName = stated[0] if tier is None else narrower(stated[0], cast(TierName, tier.__name__))
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "tier", ceiling)

    def headers(self, url: str, /) -> Mapping[str, str]:
        """What authenticates a request to ``url``: the token as a bearer token."""
        return {"Authorization": f"Bearer {self.text}"}
