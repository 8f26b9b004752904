"""Tokens as a client holds them: ``security.create_token`` returns a ``Token`` typed by its tier.

The tier class a token was issued for travels in its type (``Token[ReadOnlySession]``),
so that ``TokenAuthentication(token)`` and ``connect()`` can say statically
that it never yields a wider session.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Generic, TypeVar, final

from tiercube._client.core import SessionCore, is_tier
from tiercube._public import public
from tiercube._wire.tokens import TOKEN_TIERS, TokenInfo

TokenTierT = TypeVar("TokenTierT", bound=SessionCore)


def check_token_tier(tier: object) -> None:
    """Refuse anything but a connected tier class (checked before anything is sent)."""
    # Checked at run time too: a caller without a type checker may pass anything.
    if not (isinstance(tier, type) and tier.__name__ in TOKEN_TIERS and is_tier(tier)):
        raise TypeError(f"a token's tier is a tier class ({', '.join(TOKEN_TIERS)}), not {tier!r}")


@public
@final
@dataclass(frozen=True)
class Token(Generic[TokenTierT]):
    """A token issued by ``session.security.create_token``: hand ``str(token)`` to whoever should use it.

    Its text is shown only here (the server keeps a digest). The holder
    connects with ``tiercube.TokenAuthentication(text)`` and is granted no
    more than ``tier``, and no more than the server would grant ``user``.
    """

    text: str = field(repr=False)
    tier: type[TokenTierT]
    info: TokenInfo

    @property
    def id(self) -> str:
        """What ``security.tokens`` and ``security.revoke_token`` know the token by."""
        return self.info.id

    @property
    def user(self) -> str:
        return self.info.user

    @property
    def expires_at(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.info.expires_at, datetime.timezone.utc)

    def __str__(self) -> str:
        return self.text
