"""Managing users, passwords, roles and row-level restrictions (the "security management" group)."""

from __future__ import annotations

from typing import Any

from tiercube._server.authentication import Account
from tiercube._server.engine.tables import check_name
from tiercube._server.engine.visibility import split_by_table
from tiercube._server.passwords import hash_password
from tiercube._server.routing import Call, endpoint
from tiercube._server.state import RoleRestriction
from tiercube._wire import routes
from tiercube._wire.messages import CreateUser, Restriction, UpdateUser, User
from tiercube.errors import ConflictError, InvalidRequestError, NotFoundError


def list_users(call: Call[None]) -> list[User]:
    return [User(a.name, list(a.roles)) for a in call.state.authenticator.accounts.values()]


def create_user(call: Call[CreateUser]) -> User:
    accounts = call.state.authenticator.accounts
    request = call.body
    check_name("user", request.name)
    if ":" in request.name:
        raise InvalidRequestError("a user name cannot contain ':' (HTTP Basic could not carry it)")
    if request.name in accounts:
        raise ConflictError(f"a user named {request.name!r} already exists")
    accounts[request.name] = Account(request.name, list(request.roles), hash_password(request.password))
    return User(request.name, list(request.roles))


def update_user(call: Call[UpdateUser]) -> User:
    # A password checked against the old hash is never accepted again: see authentication.
    account = _account(call)
    if call.body.password is not None:
        account.password_hash = hash_password(call.body.password)
    if call.body.roles is not None:
        account.roles = list(call.body.roles)
    return User(account.name, list(account.roles))


def delete_user(call: Call[None]) -> None:
    account = _account(call)
    del call.state.authenticator.accounts[account.name]


def list_restrictions(call: Call[None]) -> list[Restriction]:
    return [Restriction(role, r.condition) for role, r in call.state.restrictions.items()]


def set_restriction(call: Call[Restriction]) -> Restriction:
    if call.body.role != call.params["role"]:
        raise InvalidRequestError(f"the body restricts role {call.body.role!r} but the path names {call.params['role']!r}")
    tables = split_by_table(call.body.filter, call.state.tables)
    call.state.restrictions[call.body.role] = RoleRestriction(call.body.filter, tables)
    return call.body


def delete_restriction(call: Call[None]) -> None:
    if call.state.restrictions.pop(call.params["role"], None) is None:
        raise NotFoundError(f"role {call.params['role']!r} has no restriction")


def _account(call: Call[Any]) -> Account:
    name = call.params["user"]
    try:
        return call.state.authenticator.accounts[name]
    except KeyError:
        raise NotFoundError.of("user", name, call.state.authenticator.accounts) from None


served = [
    endpoint(routes.LIST_USERS, list_users),
    endpoint(routes.CREATE_USER, create_user),
    endpoint(routes.UPDATE_USER, update_user),
    endpoint(routes.DELETE_USER, delete_user),
    endpoint(routes.LIST_RESTRICTIONS, list_restrictions),
    endpoint(routes.SET_RESTRICTION, set_restriction),
    endpoint(routes.DELETE_RESTRICTION, delete_restriction),
]
