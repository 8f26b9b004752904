"""Versions that take part in the capability negotiation.

``__version__`` is condition c of the contract (the tiercube release that
started a server); ``PROTOCOL_VERSION`` is condition e (the wire protocol).
Bump the protocol only when a message in ``_wire`` changes incompatibly.
"""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
