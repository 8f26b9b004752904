"""Managing users, passwords and roles (the "security management" group)."""

from __future__ import annotations

from typing import Any

from tiercube._server.access import Account, Group
from tiercube._server.engine.tables import check_name
from tiercube._server.passwords import hash_password
from tiercube._server.routing import Call, endpoint
from tiercube._wire import paths
from tiercube._wire.messages import CreateUser, Restriction, UpdateUser, User
from tiercube.errors import ConflictError, InvalidRequestError, NotFoundError


def list_users(call: Call[None]) -> list[User]:
    return [User(a.name, list(a.roles)) for a in call.state.gatekeeper.accounts.values()]


def create_user(call: Call[CreateUser]) -> User:
    accounts = call.state.gatekeeper.accounts
    request = call.body
    check_name("user", request.name)
    if ":" in request.name:
        raise InvalidRequestError("a user name cannot contain ':' (HTTP Basic could not carry it)")
    if request.name in accounts:
        raise ConflictError(f"a user named {request.name!r} already exists")
    accounts[request.name] = Account(request.name, list(request.roles), hash_password(request.password))
    return User(request.name, list(request.roles))


def update_user(call: Call[UpdateUser]) -> User:
    account = _account(call)
    if call.body.password is not None:
        account.password_hash = hash_password(call.body.password)
    if call.body.roles is not None:
        account.roles = list(call.body.roles)
    call.state.gatekeeper.forget(account.name)
    return User(account.name, list(account.roles))


def delete_user(call: Call[None]) -> None:
    account = _account(call)
    del call.state.gatekeeper.accounts[account.name]
    call.state.gatekeeper.forget(account.name)


def list_restrictions(call: Call[None]) -> list[Restriction]:
    return [Restriction(role, f) for role, f in call.state.gatekeeper.restrictions.items()]


def set_restriction(call: Call[Restriction]) -> Restriction:
    if call.body.role != call.params["role"]:
        raise InvalidRequestError(f"the body restricts role {call.body.role!r} but the path names {call.params['role']!r}")
    call.state.gatekeeper.restrictions[call.body.role] = call.body.filter
    return call.body


def delete_restriction(call: Call[None]) -> None:
    if call.state.gatekeeper.restrictions.pop(call.params["role"], None) is None:
        raise NotFoundError(f"role {call.params['role']!r} has no restriction")


def _account(call: Call[Any]) -> Account:
    name = call.params["user"]
    try:
        return call.state.gatekeeper.accounts[name]
    except KeyError:
        raise NotFoundError(f"no user named {name!r}") from None


routes = [
    endpoint("GET", paths.USERS, Group.SECURITY, list_users),
    endpoint("POST", paths.USERS, Group.SECURITY, create_user, CreateUser),
    endpoint("PATCH", paths.USER, Group.SECURITY, update_user, UpdateUser),
    endpoint("DELETE", paths.USER, Group.SECURITY, delete_user),
    endpoint("GET", paths.RESTRICTIONS, Group.SECURITY, list_restrictions),
    endpoint("PUT", paths.RESTRICTION, Group.SECURITY, set_restriction, Restriction),
    endpoint("DELETE", paths.RESTRICTION, Group.SECURITY, delete_restriction),
]
