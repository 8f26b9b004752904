"""The connected tiers: one ``@final`` class per tier, assembled from capability mixins.

The owner's class, ``Session``, is in ``owner``.

A tier lacks a capability by not having the mixin that provides it, so the
member is absent from the type and from the object alike. Which mixins make
which tier is the contract's table, read across:

=======================  =====  ==========  =======  =====  =============  ========  ======
class                    query  read model  editing  cloud  shared files   security  owner
=======================  =====  ==========  =======  =====  =============  ========  ======
Session (owner)          yes    yes         yes      yes    yes            yes       yes
LocalSession             yes    yes         yes      yes    yes            yes
RemoteSession            yes    yes         yes      yes                   yes
NoSecurityLocalSession   yes    yes         yes      yes    yes
NoSecuritySession        yes    yes         yes      yes
ReadOnlySession          yes    yes
MinimalSession           yes
=======================  =====  ==========  =======  =====  =============  ========  ======
"""

from __future__ import annotations

from typing import TypeAlias, final

from tiercube._client.cloud_loading import CloudLoading
from tiercube._client.core import register_tiers
from tiercube._client.file_loading import FileLoading
from tiercube._client.query import MinimalCubes, Querying
from tiercube._client.read_model import ReadOnlyModel
from tiercube._client.security import SecurityManagement
from tiercube._public import public
from tiercube._wire.tiers import TierName


@public
@final
class LocalSession(Querying, FileLoading, SecurityManagement):
    """Admin on a secured server of the same tiercube version, on the same host: all but the lifecycle."""


@public
@final
class RemoteSession(Querying, CloudLoading, SecurityManagement):
    """Like ``LocalSession`` on another host: no loading of local files, Arrow tables or frames."""


@public
@final
class NoSecurityLocalSession(Querying, FileLoading):
    """Admin, another tiercube version with the same protocol, same host: no security management."""


@public
@final
class NoSecuritySession(Querying, CloudLoading):
    """Admin, another tiercube version with the same protocol, another host."""


@public
@final
class ReadOnlySession(Querying, ReadOnlyModel):
    """Same protocol, without admin rights: read the model and data, query; change nothing."""


@public
@final
class MinimalSession(Querying, MinimalCubes):
    """Query only: what any server answering ``/versions/rest`` allows."""


AnySession: TypeAlias = (
    LocalSession | RemoteSession | NoSecurityLocalSession | NoSecuritySession | ReadOnlySession | MinimalSession
)
"""What ``connect()`` may return: any tier but the owner's."""

TIERS: dict[TierName, type[AnySession]] = {
    "LocalSession": LocalSession,
    "RemoteSession": RemoteSession,
    "NoSecurityLocalSession": NoSecurityLocalSession,
    "NoSecuritySession": NoSecuritySession,
    "ReadOnlySession": ReadOnlySession,
    "MinimalSession": MinimalSession,
}
"""The connected tiers by the names ``choose_tier`` gives."""

register_tiers(*TIERS.values())
