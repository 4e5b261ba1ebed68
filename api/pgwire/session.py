"""What a statement means on the SQL surface: catalogue, settings, or a dataset question.

A dataset question is translated into the URL API's parameters and answered by
``Service.answer`` — the one path from a question to published rows — so the SQL surface
returns exactly the URL API's rows and suppression (K2). Everything else is catalogue
(``api.pgwire.pgcatalog``), harmless session settings, or refused.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from crosstrack.api.errors import ApiError
from crosstrack.api.pgwire.bi_shapes import flatten_from_subquery
from crosstrack.api.pgwire.copyout import copy_out
from crosstrack.api.pgwire.errors import PgError, from_api_error, known_error
from crosstrack.api.pgwire.messages import Column, Result
from crosstrack.api.pgwire.catalog_schema import PG_VERSION
from crosstrack.api.pgwire.catalog_sql import is_catalog_query, known_catalog_table, syntax_error, without_reg_array_casts
from crosstrack.api.pgwire.pgcatalog import CatalogDB
from crosstrack.api.pgwire.pgtypes import BOOL, INT8, TEXT
from crosstrack.api.pgwire.tables import SUPPRESSED, Table, measure_types, tables_from_catalog
from crosstrack.api.pgwire.question import Question, bind_parameters, parameter_count, refuse
from crosstrack.api.pgwire.translate import Translator


# Client settings a driver or BI tool may SET; none affects what is published.
HARMLESS_SETTINGS = {
    "client_encoding", "datestyle", "timezone", "time zone", "extra_float_digits", "application_name",
    "search_path", "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
    "client_min_messages", "intervalstyle", "standard_conforming_strings", "bytea_output", "lc_messages",
    "lc_monetary", "lc_numeric", "lc_time", "default_transaction_read_only", "default_transaction_isolation",
    "transaction_isolation", "jit", "geqo", "plan_cache_mode", "names", "session characteristics",
    "transaction", "enable_seqscan", "work_mem", "max_parallel_workers_per_gather", "row_security",
}


DATA_VERSION = "crosstrack.data_version"


def default_settings(settings: Any, user: str, application: str) -> dict[str, str]:
    return {
        "server_version": PG_VERSION, "server_version_num": PG_VERSION.replace(".", "0").ljust(6, "0"),
        "server_encoding": "UTF8", "client_encoding": "UTF8", "datestyle": "ISO, MDY", "timezone": "UTC",
        "integer_datetimes": "on", "standard_conforming_strings": "on", "intervalstyle": "postgres",
        "application_name": application, "search_path": '"$user", public', "is_superuser": "off",
        "session_authorization": user or "crosstrack", "default_transaction_read_only": "on",
        "transaction_read_only": "on", "transaction_isolation": "read committed",
        "default_transaction_isolation": "read committed", "max_identifier_length": "63",
        "lc_collate": "C.UTF-8", "lc_ctype": "C.UTF-8", "lc_messages": "C", "lc_monetary": "C", "lc_numeric": "C",
        "lc_time": "C", "extra_float_digits": "1", "statement_timeout": "0", "lock_timeout": "0",
        "client_min_messages": "notice", "bytea_output": "hex", "in_hot_standby": "off",
        "crosstrack.k": str(settings.k), "crosstrack.disclosure": "k-threshold suppression and cell-key perturbation",
    }


STARTUP_PARAMETERS = ("server_version", "server_encoding", "client_encoding", "DateStyle", "TimeZone",
                      "integer_datetimes", "standard_conforming_strings", "IntervalStyle", "application_name",
                      "is_superuser", "session_authorization", "default_transaction_read_only", "in_hot_standby")


class SqlSurface:
    """Shared by every connection of one server: the service, the tables and the catalogue."""

    def __init__(self, settings: Any, service: Any):
        self.settings = settings
        self.service = service
        self.agg_types = measure_types(service.meta or {})
        self.tables = tables_from_catalog(service.catalog, None, self.agg_types)
        self.catalog = CatalogDB(self.tables, default_settings(settings, "crosstrack", ""))
        self._lock = threading.Lock()
        self._versioned: dict[tuple[str, str], Table] = {}

    def table_at(self, name: str, version: Any) -> Table:
        """The table with the allowed values of code-less dimensions (snapshot years) of a version."""
        key = (str(version.version_id), name)
        with self._lock:
            hit = self._versioned.get(key)
        if hit is not None:
            return hit
        ds = self.service.dataset(name)
        extra = self.service.extra_codes(ds, version)
        table = tables_from_catalog({name: ds}, {name: extra}, self.agg_types)[name]
        with self._lock:
            if len(self._versioned) > 256:
                self._versioned.clear()
            self._versioned[key] = table
        return table


@dataclass
class Prepared:
    sql: str
    trees: list[exp.Expression | None]
    oids: list[int]


class SqlSession:
    def __init__(self, surface: SqlSurface, startup: dict[str, str]):
        self.surface = surface
        self.user = startup.get("user", "")
        self.settings_view = default_settings(surface.settings, self.user, startup.get("application_name", ""))
        for k, v in startup.items():
            if k.lower() in HARMLESS_SETTINGS and k.lower() != "default_transaction_read_only":
                self.settings_view[k.lower()] = v
        # SET crosstrack.data_version = 'vN': this session reads that kept version (citable answers).
        self.data_version: str | None = None
        names = {n.lower(): n for n in STARTUP_PARAMETERS}
        self.parameters = {names[k]: self.settings_view[k] for k in names if k in self.settings_view}

    # --- protocol entry points ----------------------------------------------------------------
    def run_simple(self, sql: str) -> list[Result]:
        trees = self.parse(sql)
        if not trees:
            return [Result("", empty=True)]
        return [self.run(tree, []) for tree in trees]

    def prepare(self, sql: str, oids: list[int]) -> Prepared:
        trees = self.parse(sql)
        if len(trees) > 1:
            raise PgError("sql.syntax_error", "cannot insert multiple commands into a prepared statement")
        n = max((parameter_count(t) for t in trees if t is not None), default=0)
        return Prepared(sql, trees, list(oids) + [0] * max(0, n - len(oids)))

    def param_oids(self, p: Prepared) -> list[int]:
        return p.oids

    def describe(self, p: Prepared) -> list[Column] | None:
        if not p.trees or p.trees[0] is None:
            return None
        return self.run(p.trees[0], [None] * len(p.oids), describe_only=True).columns

    def execute(self, p: Prepared, params: list[Any]) -> Result:
        if not p.trees or p.trees[0] is None:
            return Result("", empty=True)
        return self.run(p.trees[0], params)

    # --- statements ------------------------------------------------------------------------------
    @staticmethod
    def parse(sql: str) -> list[exp.Expression]:
        if not sql.strip().strip(";").strip():
            return []
        try:
            trees = sqlglot.parse(sql, read="postgres")
        except (ParseError, TokenError) as err:
            fixed = without_reg_array_casts(sql)
            try:
                if fixed == sql:
                    raise
                trees = sqlglot.parse(fixed, read="postgres")
            except (ParseError, TokenError):
                raise PgError("sql.syntax_error", syntax_error(err)) from None
        return [t for t in trees if t is not None]

    def run(self, tree: exp.Expression, params: list[Any], *, describe_only: bool = False) -> Result:
        if isinstance(tree, exp.Transaction):
            return Result("BEGIN")
        if isinstance(tree, exp.Commit):
            return Result("COMMIT")
        if isinstance(tree, exp.Rollback):
            return Result("ROLLBACK")
        if isinstance(tree, exp.Set):
            return self.set(tree)
        if isinstance(tree, exp.Command):
            return self.command(tree)
        if isinstance(tree, exp.Copy):  # psql's \copy (SELECT ...) TO file
            return copy_out(tree, lambda select: self.run(select, params))
        if isinstance(tree, (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
                             exp.TruncateTable, exp.Copy, exp.Grant, exp.Revoke)):
            raise PgError("sql.read_only", f"cannot execute {tree.key.upper()} in a read-only transaction: "
                                   "the crosstrack SQL surface only reads published cells",
                          hint="allowed: SELECT from a dataset table, catalogue queries, SHOW, SET of client settings")
        if isinstance(tree, exp.Describe):
            raise refuse("EXPLAIN/DESCRIBE is not available; use \\d <dataset> or information_schema.columns",
                         code="sql.unsupported_statement", hint=None)
        if not isinstance(tree, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)):
            raise PgError("sql.unsupported_statement", f"{tree.key.upper()} statements are not supported",
                          hint="allowed: SELECT from a dataset table, catalogue queries, SHOW, SET of client settings")
        tree = bind_parameters(tree, params)
        names = set(self.surface.tables)
        if is_catalog_query(tree, names):
            for t in tree.find_all(exp.Table):
                if not known_catalog_table(t) and not isinstance(t.this, exp.Func):  # unnest(...) AS x is no relation
                    raise PgError("sql.unknown_relation", f"relation \"{t.name[:63]}\" does not exist",
                                  hint="datasets: " + ", ".join(sorted(names)))
            return self.surface.catalog.run(tree, self.settings_view)
        return self.dataset_query(tree, describe_only=describe_only)

    # --- dataset questions -------------------------------------------------------------------------
    def dataset_query(self, tree: exp.Expression, *, describe_only: bool = False) -> Result:
        service = self.surface.service
        tree = flatten_from_subquery(tree)  # Superset's FROM (SELECT * FROM dataset) AS virtual_table
        base = Translator(self.surface.tables)
        if not isinstance(tree, exp.Select):
            base.translate(tree)  # raises the right refusal
        name = base.table_for(tree).name
        if describe_only:
            q = base.translate(tree)
            return Result("SELECT 0", self.columns(q, self.surface.tables[name]), [])
        try:
            version = service.version_for(self.data_version)
            table = self.surface.table_at(name, version)
            q = Translator({name: table}).translate(tree)
            cols = self.columns(q, table)
            if q.values_only:
                rows = self.values(q, table)
                return Result(f"SELECT {len(rows)}", cols, rows)
            if q.empty:
                return Result("SELECT 0", cols, [])
            rows, url = self.fetch(q, version)
        except Exception as err:  # noqa: BLE001 - known failures become the same problem the URL API shows
            mapped = known_error(err)
            if mapped is None:
                raise
            raise mapped from None
        out = [self.row(q, table, r) for r in rows]
        return Result(f"SELECT {len(out)}", cols, out, notices=[f"same question as the URL API: {url}"])

    @staticmethod
    def values(q: Question, table: Table) -> list[tuple]:
        dim = table.dimensions[q.dimensions[0]]
        codes = list(q.filters.get(dim.name, dim.codes)) if not q.empty else []
        if q.order and q.order[0][1]:
            codes.reverse()
        codes = codes[q.offset:]
        if q.limit is not None:
            codes = codes[:q.limit]
        return [(int(c) if dim.oid == INT8 else c,) for c in codes]

    def columns(self, q: Question, table: Table) -> list[Column]:
        cols = []
        for o in q.output:
            if o.role == "dimension":
                cols.append(Column(o.name, table.dimensions[o.member].oid))
            elif o.role == "measure":
                cols.append(Column(o.name, table.measures[o.member].oid))
            else:
                cols.append(Column(o.name, BOOL))
        return cols

    def fetch(self, q: Question, version: Any) -> tuple[list[dict[str, Any]], str]:
        """Every published row of the question, through the service, page by page."""
        service = self.surface.service
        settings = self.surface.settings
        post_filter = q.suppressed_filter is not None
        start = 0 if post_filter else q.offset
        want = None if post_filter else q.limit
        params = q.params(with_paging=False)
        if self.data_version:
            params = {**params, "data_version": self.data_version}
        rows: list[dict[str, Any]] = []
        url = ""
        while True:
            page = settings.max_page_size if want is None else min(settings.max_page_size, want - len(rows))
            if page <= 0:
                break
            res = service.answer(q.dataset, {**params, "limit": str(page), "offset": str(start + len(rows))},
                                 version=version)
            url = url or res.canonical_url
            rows.extend(res.rows)
            if not res.rows or start + len(rows) >= res.total_rows:
                break
        if post_filter:
            rows = [r for r in rows if bool(r.get(SUPPRESSED)) == q.suppressed_filter]
            rows = rows[q.offset:]
            if q.limit is not None:
                rows = rows[:q.limit]
        return rows, url

    @staticmethod
    def row(q: Question, table: Table, r: dict[str, Any]) -> tuple:
        out: list[Any] = []
        for o in q.output:
            v = r.get(o.member)
            if o.role == "suppressed":
                out.append(bool(v))
                continue
            if v is None:
                out.append(None)
                continue
            oid = table.dimensions[o.member].oid if o.role == "dimension" else table.measures[o.member].oid
            if oid == INT8:
                v = int(round(float(v)))
            elif oid == TEXT:
                v = str(v)
            else:
                v = float(v)
            out.append(v)
        return tuple(out)

    # --- SET / SHOW / other commands -------------------------------------------------------------
    def set(self, tree: exp.Set) -> Result:
        for item in tree.expressions:
            self.apply_setting(*_set_item(item))
        return Result("SET")

    def set_command(self, rest: str) -> Result:
        """SET forms sqlglot reads only as a command: ``SET TIME ZONE "Etc/UTC"`` (pgcli at start-up),
        ``SET [SESSION|LOCAL] name TO|= value``."""
        m = re.fullmatch(r"(?is)(?:session\s+|local\s+)?time\s+zone\s+(.+)", rest)
        if m:
            value = m.group(1).strip()
            self.apply_setting("timezone", None if value.upper() == "DEFAULT" else value.strip("'\""))
            return Result("SET")
        m = re.fullmatch(r"(?is)(?:session\s+|local\s+)?([\w.]+)\s*(?:=|\s+to\s+)\s*(.+)", rest)
        if not m:
            raise PgError("sql.syntax_error", "syntax error in SET", hint="SET name TO value, SET TIME ZONE 'zone'")
        self.apply_setting(m.group(1), m.group(2).strip().strip("'\""))
        return Result("SET")

    def apply_setting(self, name: str, value: str | None) -> None:
        key = name.lower()
        if key == "local" or key.startswith("session "):
            key = key.split(" ", 1)[-1]
        if key == DATA_VERSION:
            self.pin_version(value)
            return
        if key.startswith("crosstrack.") or key in ("k", "disclosure") or key not in HARMLESS_SETTINGS:
            if key.startswith("crosstrack.") or key in ("k", "disclosure", "transaction_read_only",
                                                         "default_transaction_read_only"):
                raise PgError("sql.protected_setting", f"parameter \"{name[:63]}\" cannot be changed: disclosure control and "
                                       "read-only access are fixed by the server",
                              hint="SET is allowed for client settings: " + ", ".join(sorted(HARMLESS_SETTINGS)))
            raise PgError("sql.unknown_setting", f"unrecognized or protected configuration parameter \"{name[:63]}\"",
                          hint="SET is allowed for client settings: " + ", ".join(sorted(HARMLESS_SETTINGS)))
        if value is not None and key not in ("transaction", "session characteristics", "names"):
            self.settings_view["timezone" if key == "time zone" else key] = value

    def pin_version(self, value: str | None) -> None:
        """Pin (or, with DEFAULT/'' , unpin) the data version; a removed one is refused naming the current."""
        value = (value or "").strip()
        if value.lower() in ("", "default", "current"):
            self.data_version = None
            self.settings_view.pop(DATA_VERSION, None)
            return
        try:
            version = self.surface.service.version_for(value)
        except ApiError as err:
            raise from_api_error(err) from None
        self.data_version = version.version_id
        self.settings_view[DATA_VERSION] = version.version_id

    def command(self, tree: exp.Command) -> Result:
        word = str(tree.this).upper()
        rest = tree.expression.name if isinstance(tree.expression, exp.Expression) else str(tree.expression or "")
        rest = rest.strip().rstrip(";").strip()
        if word == "SET":
            return self.set_command(rest)
        if word == "SHOW":
            key = rest.lower().strip('"')
            if key == "all":
                rows = sorted((k, v, "") for k, v in self.settings_view.items())
                return Result("SHOW", [Column("name"), Column("setting"), Column("description")], rows)
            if key == "transaction isolation level":
                key = "transaction_isolation"
            if key == "time zone":
                key = "timezone"
            if key == DATA_VERSION:  # the pinned version, else the published one
                current = self.data_version or self.surface.service.version().version_id
                return Result("SHOW", [Column(key)], [(current,)])
            if key not in self.settings_view:
                raise PgError("sql.unknown_setting", f"unrecognized configuration parameter \"{rest[:63]}\"",
                              hint="SHOW ALL lists the settings")
            return Result("SHOW", [Column(key)], [(self.settings_view[key],)])
        if word in ("DISCARD", "DEALLOCATE", "RESET", "UNLISTEN", "LISTEN", "CLOSE"):
            if word == "RESET" and rest.lower().strip('"') == DATA_VERSION:
                self.pin_version(None)
                return Result("RESET")
            if word == "RESET" and rest.lower().startswith("crosstrack."):
                raise PgError("sql.protected_setting", "crosstrack settings cannot be changed")
            return Result(f"{word} ALL" if word == "DISCARD" else word)
        if word in ("START", "BEGIN", "END", "ABORT", "SAVEPOINT", "RELEASE"):
            return Result({"START": "START TRANSACTION", "END": "COMMIT", "ABORT": "ROLLBACK"}.get(word, word))
        if word in ("COPY", "VACUUM", "ANALYZE", "GRANT", "REVOKE", "CREATE", "DROP", "ALTER", "INSERT", "UPDATE",
                    "DELETE", "TRUNCATE", "REFRESH", "CLUSTER", "REINDEX", "LOCK", "CALL", "DO", "IMPORT", "COMMENT",
                    "SECURITY", "LOAD", "REASSIGN"):
            raise PgError("sql.read_only", f"cannot execute {word} in a read-only transaction: the crosstrack SQL surface "
                                   "only reads published cells",
                          hint="allowed: SELECT from a dataset table, catalogue queries, SHOW, SET of client settings")
        if word == "EXPLAIN":
            raise PgError("sql.unsupported_statement", "EXPLAIN is not available on the crosstrack SQL surface")
        raise PgError("sql.unsupported_statement", f"{word} is not supported by the crosstrack SQL surface",
                      hint="allowed: SELECT from a dataset table, catalogue queries, SHOW, SET of client settings")


def _set_item(item: exp.Expression) -> tuple[str, str | None]:
    node = item.this if isinstance(item, exp.SetItem) else item
    if isinstance(node, exp.EQ):
        left, right = node.left, node.right
        name = left.sql(dialect="postgres") if not isinstance(left, exp.Column) else ".".join(
            p.name for p in left.parts)
        if isinstance(right, exp.Literal):
            value = str(right.this)
        elif isinstance(right, (exp.Column, exp.Identifier)):
            value = right.name
        else:
            value = right.sql(dialect="postgres")
        return name, value
    kind = (item.args.get("kind") or "") if isinstance(item, exp.SetItem) else ""
    text = node.sql(dialect="postgres") if isinstance(node, exp.Expression) else str(node)
    if str(kind).upper() == "TRANSACTION" or text.upper().startswith(("TRANSACTION", "SESSION CHARACTERISTICS")):
        return "transaction", None
    if text.upper().startswith("TIME ZONE"):
        return "timezone", text[9:].strip().strip("'")
    if text.upper().startswith("NAMES"):
        return "names", None
    return text.split(" ", 1)[0] if text else "?", None
