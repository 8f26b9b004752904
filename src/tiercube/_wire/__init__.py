"""The wire protocol, defined once and imported by both client and server.

Control messages are msgspec Structs sent as JSON; table data travels as Arrow
IPC streams (see ``arrow_ipc``). Nothing in this package may import starlette,
uvicorn or httpx: it is the vocabulary both sides share, nothing more.
"""
