"""Helpers for the disclosure attack suite (spec/disclosure.md): fetch published cells over HTTP,
fetch the true values, and score exact recovery of withheld cells against the rate of guessing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

K = 5


@dataclass
class Score:
    """Exact-recovery rate of withheld values, next to the best constant guess's rate."""

    name: str
    hits: int = 0
    tries: int = 0
    truths: list[int] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)  # truths of targets the API gave nothing on

    def add(self, estimate: float, truth: int, *, clip: bool = True) -> None:
        guess = round(estimate)
        if clip:  # the attacker knows a withheld count lies in 0..k-1 (0 is withheld too, P1)
            guess = min(max(guess, 0), K - 1)
        self.tries += 1
        self.hits += int(guess == truth)
        self.truths.append(truth)

    def withheld(self, truth: int) -> None:
        """The route answered "withheld": the attacker learns nothing and falls back on the best
        constant guess (scored with hindsight, the attacker's most favourable prior)."""
        self.tries += 1
        self.truths.append(truth)
        self.fallbacks.append(truth)

    @property
    def rate(self) -> float:
        if not self.tries:
            return 0.0
        mode = Counter(self.truths).most_common(1)[0][0]
        return (self.hits + sum(t == mode for t in self.fallbacks)) / self.tries

    @property
    def guess_rate(self) -> float:
        """Rate of always guessing the most common withheld value (an attacker's prior)."""
        if not self.truths:
            return 0.0
        return Counter(self.truths).most_common(1)[0][1] / len(self.truths)

    def line(self) -> str:
        return (f"{self.name}: recovered {self.hits}/{self.tries} = {self.rate:.3f} "
                f"({len(self.fallbacks)} withheld, scored as the best guess) "
                f"(best constant guess {self.guess_rate:.3f})")


def fetch(api: Any, dataset: str, dims: list[str], filters: dict[str, list[str]] | None = None,
          measures: list[str] | None = None) -> dict[tuple[str, ...], dict[str, Any]]:
    """Published rows keyed by the dims' codes (as strings, in the given dims order)."""
    params: dict[str, Any] = {"dimensions": ",".join(dims), "limit": api.settings.max_page_size}
    if measures:
        params["measures"] = ",".join(measures)
    for d, codes in (filters or {}).items():
        params[d] = ",".join(codes)
    status, body = api.get_json(f"/api/v1/{dataset}", params)
    assert status == 200, body
    assert body["meta"]["total_row_count"] == len(body["data"]), "attack fetch must see every row"
    return {tuple(str(row[d]) for d in dims): row for row in body["data"]}


class Cells(dict):
    """True cells keyed by codes; a combination with no people is a cell of zeros (P1: the API
    withholds it exactly as it withholds 1–4 people)."""

    def __init__(self, rows: Any, measures: list[str]):
        super().__init__(rows)
        self.measures = measures

    def __missing__(self, key: tuple) -> dict[str, Any]:
        return dict.fromkeys(self.measures, 0)


def truth(api: Any, dataset: str, dims: list[str], measures: list[str],
          filters: dict[str, list[str]] | None = None) -> dict[tuple[str, ...], dict[str, Any]]:
    return Cells({tuple(str(r[d]) for d in dims): r for r in api.truth(dataset, dims, measures, filters)}, measures)


def codes(api: Any, dataset: str, dim: str) -> list[str]:
    meta = api.get(f"/api/v1/{dataset}/metadata").json()
    return [c["code"] for c in next(d for d in meta["dimensions"] if d["name"] == dim)["codes"]]
