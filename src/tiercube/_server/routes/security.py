"""Managing users, passwords, roles, tokens and row-level restrictions (the "security management" group)."""

from __future__ import annotations

from tiercube._server.routing import Call, endpoint
from tiercube._wire import routes
from tiercube._wire.messages import CreateUser, Restriction, UpdateUser, User
from tiercube._wire.tokens import CreateToken, IssuedToken, TokenInfo
from tiercube.errors import InvalidRequestError


def list_users(call: Call[None]) -> list[User]:
    return call.state.authenticator.accounts.users()


def create_user(call: Call[CreateUser]) -> User:
    return call.state.authenticator.accounts.create(call.body)


def update_user(call: Call[UpdateUser]) -> User:
    return call.state.authenticator.accounts.update(call.params["user"], call.body)


def delete_user(call: Call[None]) -> None:
    call.state.authenticator.accounts.delete(call.params["user"])


def list_tokens(call: Call[None]) -> list[TokenInfo]:
    return call.state.authenticator.tokens.infos()


def create_token(call: Call[CreateToken]) -> IssuedToken:
    return call.state.authenticator.tokens.issue(call.body, call.grant.caller)


def revoke_token(call: Call[None]) -> None:
    call.state.authenticator.tokens.revoke(call.params["token"])


def list_restrictions(call: Call[None]) -> list[Restriction]:
    return call.state.restrictions.all()


def set_restriction(call: Call[Restriction]) -> Restriction:
    if call.body.role != call.params["role"]:
        raise InvalidRequestError(f"the body restricts role {call.body.role!r} but the path names {call.params['role']!r}")
    return call.state.restrictions.set(call.body)


def delete_restriction(call: Call[None]) -> None:
    call.state.restrictions.delete(call.params["role"])


served = [
    endpoint(routes.LIST_USERS, list_users),
    endpoint(routes.CREATE_USER, create_user),
    endpoint(routes.UPDATE_USER, update_user),
    endpoint(routes.DELETE_USER, delete_user),
    endpoint(routes.LIST_TOKENS, list_tokens),
    endpoint(routes.CREATE_TOKEN, create_token),
    endpoint(routes.REVOKE_TOKEN, revoke_token),
    endpoint(routes.LIST_RESTRICTIONS, list_restrictions),
    endpoint(routes.SET_RESTRICTION, set_restriction),
    endpoint(routes.DELETE_RESTRICTION, delete_restriction),
]
