"""Plan step: each representative query plans to the reviewed plan in tests/golden/plans/<name>.txt
(the plan's pretty repr, which evaluates back to an equal plan), and the planner alone refuses bad
queries — the renderer never sees one."""

from __future__ import annotations

import pprint

import pytest
from crosstrack.cube import plan as plan_types
from crosstrack.cube.errors import QueryError
from crosstrack.cube.plan import And, Condition, MemberRef, Or, QueryPlan
from crosstrack.cube.planner import Planner
from cube_golden_cases import CASES, DATABASE, GOLDEN, check_golden, model_of

PLAN_NAMES = {n: getattr(plan_types, n) for n in dir(plan_types) if isinstance(getattr(plan_types, n), type)}


def _plan(name: str) -> QueryPlan:
    which, query, _ = CASES[name]
    return Planner(model_of(which)).plan(query, database=DATABASE, internal=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_plan_is_golden(name):
    plan = _plan(name)
    text = pprint.pformat(plan, width=110) + "\n"
    check_golden(GOLDEN / "plans" / f"{name}.txt", text)
    assert eval(text, {"__builtins__": {}}, PLAN_NAMES) == plan  # the text is the whole plan


def test_filters_are_typed_dataclasses_with_typed_values():
    """Filters are Condition/And/Or values (no positional tuples); values are typed by member type."""
    plan = _plan("logical_filters")
    status = MemberRef("orders.status", "orders", "orders", "status", "dimension", "string", ("orders",))
    amount = MemberRef("orders.amount", "orders", "orders", "amount", "dimension", "number", ("orders",))
    gift = MemberRef("orders.is_gift", "orders", "orders", "is_gift", "dimension", "boolean", ("orders",))
    assert plan.filters == (Or((Condition(status, "equals", ("paid",)),
                                And((Condition(amount, "gte", (20,)), Condition(gift, "equals", (False,)))))),
                            And(()))
    numbers = _plan("number_boolean_operators").filters
    assert [f.values for f in numbers] == [(5,), (5,), (300.5,), (300,), (120, 15), (40,), (True,), (False,)]


def test_rollups_are_chosen_after_planning():
    """The planner knows nothing of rollup tables: its plan reads the facts until a rollup is matched."""
    assert _plan("rollup_hit_final_values").rollup is None


@pytest.mark.parametrize("query, code, member", [
    ({"measures": ["orders.nope"]}, "query.unknown_member", "orders.nope"),
    ({"measures": ["orders.status"]}, "query.wrong_member_kind", "orders.status"),
    ({"measures": ["orders.count"], "filters": [{"member": "orders.count", "operator": "contains",
                                                  "values": ["1"]}]}, "query.invalid_operator", "orders.count"),
    ({"measures": ["orders.count"], "filters": [{"or": [{"member": "orders.count", "operator": "gt", "values": [1]},
                                                        {"member": "orders.status", "operator": "set"}]}]},
     "query.invalid", "orders.count"),
    ({"measures": ["big_orders.count", "orders.count"]}, "query.invalid", "orders.count"),
    ({"measures": ["orders.count"], "order": {"orders.status": "asc"}}, "query.invalid_value", "orders.status"),
])
def test_planner_refuses_with_the_member(query, code, member):
    with pytest.raises(QueryError) as err:
        Planner(model_of("shop")).plan(query, database=DATABASE)
    assert (err.value.code, err.value.member) == (code, member)
