"""The crash test's workers: rows upserted, appended and dropped, star schemas, users and restrictions."""

from __future__ import annotations

from dataclasses import dataclass, replace

import tiercube
from tiercube._client.wire_form import wire_form
from tiercube._wire.filters import Filter

from tests.crash_model import Change, Send, Server, Worker

CONFIGURED_USERS = {"admin", "user"}
KEYS = range(30)
Rows = tuple[tuple[int, ...], ...]


class TableRows(Worker):
    """A table of this worker's own, its rows in arrival order (None: not created yet)."""

    def __init__(self, name: str, seed: int) -> None:
        super().__init__(name, seed, None)
        self.rows: Rows | None = None
        self.next_rows: Rows | None = None
        self.op = 0

    def applied(self, change: Change) -> None:
        super().applied(change)
        self.rows = self.next_rows

    def change(self, what: str, send: Send, after: Rows) -> Change:
        self.next_rows = after
        return Change(f"{what} of {self.name}", send, after)

    def read(self, server: Server, *columns: str) -> Rows | None:
        if self.name not in server.tables:
            return None
        found = server.session.tables[self.name].query().to_pydict()
        return tuple(zip(*(found[column] for column in columns), strict=True))


class KeyedRows(TableRows):
    """A table keyed by ``id``: upserts of a few rows, drops by key, now and then a drop of everything."""

    def next_change(self) -> Change:
        name, rows = self.name, self.rows
        if rows is None:
            types: dict[str, tiercube.DataType] = {"id": "int64", "v": "int64", "op": "int64"}
            return self.change("create", lambda s: s.create_table(name, data_types=types, keys=["id"]), ())
        self.op += 1
        roll = self.random.random()
        if roll < 0.75:
            batch = tuple((i, self.random.randrange(1000), self.op) for i in self.random.sample(KEYS, self.random.randint(1, 4)))
            ids = {row[0] for row in batch}
            after = tuple(row for row in rows if row[0] not in ids) + batch  # replaced rows go, new ones come last
            return self.change(f"append {batch}", lambda s: s.tables[name].append(*batch), after)
        if roll < 0.97:
            chosen = self.random.sample(KEYS, self.random.randint(1, 6))
            condition = tiercube.Column("id", name).isin(*chosen)
            return self.change(f"drop ids {chosen}", lambda s: s.tables[name].drop(condition), tuple(row for row in rows if row[0] not in chosen))
        return self.change("drop all", lambda s: s.tables[name].drop(), ())

    def observe(self, server: Server) -> object:
        return self.read(server, "id", "v", "op")


class PlainRows(TableRows):
    """A table without keys: appends pile up (one applied twice would show), drops by change number."""

    def next_change(self) -> Change:
        name, rows = self.name, self.rows
        if rows is None:
            return self.change("create", lambda s: s.create_table(name, data_types={"op": "int64", "i": "int64"}), ())
        self.op += 1
        if self.random.random() < 0.85:
            batch = tuple((self.op, i) for i in range(self.random.randint(1, 5)))
            return self.change(f"append {batch}", lambda s: s.tables[name].append(*batch), rows + batch)
        # One old change's rows, or everything before the last 100 changes (which keeps the table small).
        if self.random.random() < 0.5:
            gone = self.random.randint(1, self.op)
            condition, after = tiercube.Column("op", name) == gone, tuple(row for row in rows if row[0] != gone)
        else:
            oldest = self.op - 100
            condition, after = tiercube.Column("op", name) < oldest, tuple(row for row in rows if row[0] >= oldest)
        return self.change(f"drop {condition!r}", lambda s: s.tables[name].drop(condition), after)

    def observe(self, server: Server) -> object:
        return self.read(server, "op", "i")


@dataclass(frozen=True)
class Star:
    """Star ``n`` part way through its life: fact rows (id, k, q), dimension rows (k, name), the cube."""

    n: int = 0
    step: int = 0
    facts: tuple[tuple[int, str, float], ...] | None = None
    dimensions: tuple[tuple[str, str], ...] | None = None
    hierarchies: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    measures: tuple[str, ...] = ()

    @property
    def seen(self) -> tuple[object, ...]:
        """What a client sees of it: the tables' rows, the cube's structure, and its answer by name
        (which needs the join) while a level is called so."""
        answer = None
        if self.hierarchies is not None and any("name" in levels for _, levels in self.hierarchies):
            names = dict(self.dimensions or ())
            totals: dict[str | None, float] = {}
            for _, k, q in self.facts or ():
                totals[names.get(k)] = totals.get(names.get(k), 0.0) + q
            answer = tuple(sorted(totals.items(), key=str))
        return (self.facts, self.dimensions, self.hierarchies, tuple(sorted(self.measures)), answer)


class Stars(Worker):
    """Star schemas made and taken apart step by step: tables, rows, a join, a cube, its measures and
    hierarchies, then deletes. A join under way at a kill cannot be seen before the cube, so it is made
    again: a join that is already there is refused as a second path, which says it was applied."""

    def __init__(self, name: str, seed: int) -> None:
        super().__init__(name, seed, Star().seen)
        self.star = self.next_star = Star()

    def applied(self, change: Change) -> None:
        super().applied(change)
        self.star = self.next_star

    def next_change(self) -> Change:
        star = self.star
        what, send, after = self._step(star, f"f{star.n}", f"d{star.n}", f"c{star.n}")
        self.next_star = replace(after, step=star.step + 1) if after.n == star.n else after
        return Change(f"{what} (star {star.n}, step {star.step})", send, self.next_star.seen)

    @staticmethod
    def _step(star: Star, f: str, d: str, c: str) -> tuple[str, Send, Star]:
        def set_measure(s: tiercube.LocalSession) -> None:
            measures = s.cubes[c].measures
            measures["double"] = measures["q.SUM"] * 2

        def set_hierarchy(s: tiercube.LocalSession) -> None:
            s.cubes[c].hierarchies["by name"] = ["name", "k"]

        def delete_hierarchy(s: tiercube.LocalSession) -> None:
            del s.cubes[c].hierarchies["k" if star.step == 7 else "name"]

        def delete_measure(s: tiercube.LocalSession) -> None:
            del s.cubes[c].measures["q.MEAN"]

        def delete_cube(s: tiercube.LocalSession) -> None:
            del s.cubes[c]

        def delete_table(name: str) -> Send:
            def delete(s: tiercube.LocalSession) -> None:
                del s.tables[name]

            return delete

        match star.step:
            case 0:
                types: dict[str, tiercube.DataType] = {"id": "int64", "k": "string", "q": "float64"}
                return "create facts", lambda s: s.create_table(f, data_types=types, keys=["id"]), replace(star, facts=())
            case 1:
                return "create dimensions", lambda s: s.create_table(d, data_types={"k": "string", "name": "string"}, keys=["k"]), replace(star, dimensions=())
            case 2:
                facts = ((1, "a", 1.5), (2, "b", 2.5), (3, "a", 4.0))
                return "append facts", lambda s: s.tables[f].append(*facts), replace(star, facts=facts)
            case 3:
                dimensions = (("a", "north"), ("b", "south"))
                return "append dimensions", lambda s: s.tables[d].append(*dimensions), replace(star, dimensions=dimensions)
            case 4:
                return "join", lambda s: _join_once(s, f, d), star
            case 5:
                created = replace(star, hierarchies=(("id", ("id",)), ("k", ("k",)), ("name", ("name",))), measures=("contributors.COUNT", "q.MEAN", "q.SUM"))
                return "create cube", lambda s: s.create_cube(s.tables[f], name=c), created
            case 6:
                return "set measure", set_measure, replace(star, measures=(*star.measures, "double"))
            case 7 | 8:
                gone = "k" if star.step == 7 else "name"
                fewer = tuple(h for h in star.hierarchies or () if h[0] != gone)
                return f"delete hierarchy {gone}", delete_hierarchy, replace(star, hierarchies=fewer)
            case 9:
                more = (*(star.hierarchies or ()), ("by name", ("name", "k")))
                return "set hierarchy", set_hierarchy, replace(star, hierarchies=more)
            case 10:
                return "delete measure", delete_measure, replace(star, measures=tuple(m for m in star.measures if m != "q.MEAN"))
            case 11:
                return "append a fact", lambda s: s.tables[f].append((4, "b", 8.0)), replace(star, facts=(*(star.facts or ()), (4, "b", 8.0)))
            case 12:
                return "delete cube", delete_cube, replace(star, hierarchies=None, measures=())
            case 13:
                return "delete facts", delete_table(f), replace(star, facts=None)
            case _:
                return "delete dimensions", delete_table(d), Star(star.n + 1)

    def observe(self, server: Server) -> object:
        f, d, c = f"f{self.star.n}", f"d{self.star.n}", f"c{self.star.n}"
        facts = dimensions = hierarchies = answer = None
        measures: tuple[str, ...] = ()
        if f in server.tables:
            found = server.session.tables[f].query().to_pydict()
            facts = tuple(zip(found["id"], found["k"], found["q"], strict=True))
        if d in server.tables:
            found = server.session.tables[d].query().to_pydict()
            dimensions = tuple(zip(found["k"], found["name"], strict=True))
        if c in server.cubes:
            cube = server.session.cubes[c]
            hierarchies = tuple((name, tuple(level.name for level in h.levels)) for name, h in cube.hierarchies.items())
            measures = tuple(sorted(cube.measures))
            if "name" in cube.levels:
                result = cube.query("q.SUM", levels=["name"]).to_pydict()
                answer = tuple(sorted(zip(result["name"], result["q.SUM"], strict=True), key=str))
        return (facts, dimensions, hierarchies, measures, answer)


def _join_once(session: tiercube.LocalSession, facts: str, dimensions: str) -> None:
    try:
        session.tables[facts].join(dimensions)
    except tiercube.ConflictError as error:
        if "along two paths" not in str(error):
            raise


@dataclass(frozen=True)
class Account:
    """User ``n`` part way through its life, with its restriction on table ``guarded``."""

    n: int = 0
    step: int = -1
    guarded: bool = False
    roles: tuple[str, ...] | None = None
    password: str = ""
    restricted: bool = False

    @property
    def seen(self) -> tuple[object, ...]:
        restriction: Filter | None = wire_form(tiercube.Column("x", "guarded") >= self.n) if self.restricted else None
        return (self.guarded, self.roles, restriction)


class Security(Worker):
    """Users and restrictions made, changed and deleted; after each restart, the user signs in with its
    password (its hash came back) as the model says it is now."""

    def __init__(self, name: str, seed: int) -> None:
        super().__init__(name, seed, Account().seen)
        self.account = self.next_account = Account()
        self.verified = 0

    def applied(self, change: Change) -> None:
        super().applied(change)
        self.account = self.next_account

    def next_change(self) -> Change:
        a = self.account
        user, role = f"u{a.n}", f"R{a.n}"
        send: Send
        match a.step:
            case -1:
                what, after = "create table guarded", replace(a, guarded=True)
                send = lambda s: s.create_table("guarded", data_types={"x": "int64"})
            case 0:
                what, after = "create user", replace(a, roles=(role,), password=f"pw{a.n}-a")
                send = lambda s: s.security.create_user(user, password=f"pw{a.n}-a", roles=[role])
            case 1:
                condition = tiercube.Column("x", "guarded") >= a.n
                what, after = "restrict", replace(a, restricted=True)
                send = lambda s: s.security.restrict(role, condition)
            case 2:
                roles = (role, "ROLE_USER")
                what, after = "set roles", replace(a, roles=roles)
                send = lambda s: s.security.set_roles(user, list(roles))
            case 3:
                what, after = "set password", replace(a, password=f"pw{a.n}-b")
                send = lambda s: s.security.set_password(user, f"pw{a.n}-b")
            case 4:
                what, after = "unrestrict", replace(a, restricted=False)
                send = lambda s: s.security.unrestrict(role)
            case _:
                what, after = "delete user", Account(a.n + 1, 0, guarded=True)
                send = lambda s: s.security.delete_user(user)
        self.next_account = replace(after, step=a.step + 1) if after.n == a.n else after
        return Change(f"{what} (user {a.n}, step {a.step})", send, self.next_account.seen)

    def observe(self, server: Server) -> object:
        security = server.session.security
        users = {name: u for name, u in security.users.items() if name not in CONFIGURED_USERS}
        restrictions = security.restrictions
        if len(users) > 1 or len(restrictions) > 1:
            return (sorted(users), sorted(restrictions))  # never equal to the model: one user at most
        user = next(iter(users.values()), None)
        restriction = next(iter(restrictions.values()), None)
        return ("guarded" in server.tables, tuple(user.roles) if user is not None else None, wire_form(restriction) if restriction is not None else None)

    def verify(self, server: Server) -> tuple[str, str | None]:
        pending = self.pending
        url = server.session.url
        if pending is not None and pending.what.startswith("set password") and self._signs_in(url, self.next_account):
            self.applied(pending)  # the one change that roles and restrictions do not show
            self.pending = None
        outcome, problem = super().verify(server)
        self.verified += 1
        # A sign-in costs an scrypt on either side: every fourth restart checks the hash came back.
        checked = self.verified % 4 == 0 and self.account.roles is not None
        if problem is None and checked and not self._signs_in(url, self.account):
            problem = f"user u{self.account.n} cannot sign in with its password {self.account.password!r}"
        return outcome, problem

    @staticmethod
    def _signs_in(url: str, account: Account) -> bool:
        try:
            with tiercube.connect(url, authentication=tiercube.BasicAuthentication(f"u{account.n}", account.password)):
                return True
        except tiercube.AuthenticationError:
            return False


def workers(seed: int) -> list[Worker]:
    return [KeyedRows("keyed0", seed), KeyedRows("keyed1", seed), PlainRows("plain", seed), Stars("stars", seed), Security("security", seed)]
