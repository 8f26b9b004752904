"""Row-level restrictions: what each role may see, and what a caller sees of every table.

A role's restriction is given as one condition on columns of tables
(``tables["regions"]["region"] == "Europe"``) and kept as one condition per
table. For a request, ``visibility(caller)`` turns the caller's roles into a
``Visibility`` that the engine asks for each table it reads: the plan follows
joins (a fact row is visible only if the dimension row its join finds is),
is made once per table and request, and travels to a cluster's workers as
data. The rules themselves are in ``engine.visibility``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pyarrow as pa

from tiercube._server.engine.arrays import last_positions
from tiercube._server.engine.cubes.joins import Edge, JoinGraph
from tiercube._server.engine.filters import bind
from tiercube._server.engine.journal import RestrictionDeleted, RoleRestricted
from tiercube._server.engine.tables import TableStore
from tiercube._server.engine.visibility import EVERYTHING, RolePlan, RowPlan, RowRestriction, TableConditions, Visibility
from tiercube._wire.filters import And, Filter, flattened, leaves
from tiercube._wire.messages import ADMIN_ROLE, Caller, Restriction
from tiercube.errors import InvalidRequestError, NotFoundError


@dataclass(frozen=True)
class RoleRestriction:
    """A role's restriction as it was given, and as it applies: one condition per table."""

    condition: Filter
    tables: TableConditions


class Restrictions:
    """Each role's restriction, over the tables and joins of one session."""

    def __init__(self, tables: TableStore, joins: JoinGraph) -> None:
        self._tables = tables
        self._joins = joins
        self._roles: dict[str, RoleRestriction] = {}
        self._lock = threading.Lock()

    def all(self) -> list[Restriction]:
        return [Restriction(role, r.condition) for role, r in self._roles.items()]

    def set(self, restriction: Restriction) -> Restriction:
        """Restrict ``restriction.role`` (replacing what it had); the condition is checked first."""
        tables = split_by_table(restriction.filter, self._tables)
        with self._lock, self._tables.journal.committing(RoleRestricted(restriction.role, restriction.filter, tables)):
            self._roles[restriction.role] = RoleRestriction(restriction.filter, tables)
        return restriction

    def delete(self, role: str) -> None:
        with self._lock:
            if role not in self._roles:
                raise NotFoundError(f"role {role!r} has no restriction")
            with self._tables.journal.committing(RestrictionDeleted(role)):
                del self._roles[role]

    def recorded(self) -> list[RoleRestricted]:
        """Every role's restriction as the record that makes it again (a snapshot's restrictions)."""
        return [RoleRestricted(role, r.condition, dict(r.tables)) for role, r in self._roles.items()]

    def replay(self, record: RoleRestricted | RestrictionDeleted) -> None:
        """Apply ``record`` again as it was applied live (a restart): the tables' conditions as recorded."""
        match record:
            case RoleRestricted(role, condition, tables):
                self._roles[role] = RoleRestriction(condition, tables)
            case RestrictionDeleted(role):
                del self._roles[role]

    def visibility(self, caller: Caller | None) -> Visibility:
        """What ``caller`` may see: everything for admins, the owner, and a role without restriction."""
        if caller is None or caller.owner or ADMIN_ROLE in caller.roles or not caller.roles:
            return EVERYTHING
        found = [self._roles.get(role) for role in caller.roles]
        if any(restriction is None for restriction in found):
            return EVERYTHING  # one unrestricted role is enough to see everything
        return _Restricted(RowRestriction(tuple(r.tables for r in found if r is not None)), self._tables, self._joins)


def split_by_table(condition: Filter, tables: TableStore) -> dict[str, Filter]:
    """A restriction's condition as one condition per table, each checked against its table.

    Every column must name its table, and parts joined by ``|`` or ``~`` must
    stay within one table (``&`` may combine tables).
    """
    flat = flattened(condition)
    conjuncts = flat.operands if isinstance(flat, And) else [flat]
    by_table: dict[str, list[Filter]] = {}
    for conjunct in conjuncts:
        names = {leaf.table for leaf in leaves(conjunct)}
        if not names:
            raise InvalidRequestError("every part of a restriction must compare a column of a table; an empty & or | does not")
        if None in names:
            column = next(leaf.column for leaf in leaves(conjunct) if leaf.table is None)
            raise InvalidRequestError(
                f"a restriction is bound to table columns, but {column!r} names no table: "
                f"write session.tables['<table>'][{column!r}] == ..."
            )
        if len(names) > 1:
            raise InvalidRequestError(
                f"a restriction may combine tables only with &; this part mixes {', '.join(sorted(map(str, names)))}"
            )
        (table,) = names
        assert table is not None
        by_table.setdefault(table, []).append(conjunct)
    if not by_table:
        raise InvalidRequestError("a restriction must compare at least one column of a table; to lift one, delete it")
    result = {table: parts[0] if len(parts) == 1 else And(parts) for table, parts in by_table.items()}
    for table, part in result.items():
        bind(part, tables.get(table).columns, table=table)  # NotFoundError / InvalidRequestError
    return result


class _Restricted:
    """A restricted caller's visibility for one request: plans made on demand, once per table,
    with the visible keys of each (join, role) computed once where joins meet again."""

    restricted = True

    def __init__(self, restriction: RowRestriction, tables: TableStore, joins: JoinGraph) -> None:
        self._restriction = restriction
        self._tables = tables
        self._joins = joins
        self._plans: dict[str, RowPlan | None] = {}
        self._keys: dict[tuple[Edge, int], pa.Table] = {}

    def rows(self, table: str) -> RowPlan | None:
        if table not in self._plans:
            self._plans[table] = self._plan_rows(table)
        return self._plans[table]

    def _plan_rows(self, table: str) -> RowPlan | None:
        roles: list[RolePlan] = []
        for role in self._restriction.roles:
            plan = self._plan(table, role)
            if plan is None:
                return None  # one role that does not restrict this table is enough
            roles.append(plan)
        return RowPlan(tuple(roles))

    def _plan(self, table: str, role: TableConditions) -> RolePlan | None:
        members = tuple(
            (tuple(source for source, _ in edge.pairs), self._visible_keys(edge, role))
            for edge in self._joins.edges_from(table)
            if any(reached.table in role for reached in self._joins.reachable(edge.target))
        )
        if table not in role and not members:
            return None
        return RolePlan.of(table, self._tables.get(table).columns, role.get(table), members)

    def _visible_keys(self, edge: Edge, role: TableConditions) -> pa.Table:
        """The join keys of the target rows a join finds (the last per key) that are visible."""
        cache_key = (edge, id(role))
        if cache_key not in self._keys:
            data = self._tables.get(edge.target).rows.gathered()
            columns = [target for _, target in edge.pairs]
            keys = data.select(columns)
            plan = self._plan(edge.target, role)
            mask = plan.mask(data) if plan is not None else None
            latest = last_positions(keys, columns)
            if latest is not None:
                keys = keys.take(latest)
                mask = mask.take(latest) if mask is not None else None
            if mask is not None:
                keys = keys.filter(mask)
            self._keys[cache_key] = keys
        return self._keys[cache_key]
