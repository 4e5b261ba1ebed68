"""What a model file may say: the keys of each kind of entry, their types, and the Cube keys
crosstrack does not support (reported as such, not as unknown)."""

from __future__ import annotations

import difflib
import re

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FORMATS = ("number", "percent", "currency", "imageUrl", "link", "id")
DISCLOSURE_KINDS = ("people", "count", "mean", "median", "cohort", "event", "rate")
COUNT_TYPES = ("count", "count_distinct")
# the median forms the disclosure control knows (R7: quantileExactInclusive matches the FAQ's median)
MEDIAN_FORM = re.compile(r"^\s*(quantileExact(Inclusive)?\(\s*0?\.5\s*\)|median(Exact)?)\s*\(", re.IGNORECASE)

# key -> expected python type(s); a tuple of types means any of them.
TOP_KEYS = {"cubes": list, "views": list}
CUBE_KEYS = {"name": str, "sql_table": str, "sql": str, "title": str, "description": str, "public": bool,
             "shown": bool, "meta": dict, "measures": list, "dimensions": list, "segments": list, "joins": list,
             "pre_aggregations": list}
MEASURE_KEYS = {"name": str, "type": str, "sql": (str, int), "title": str, "description": str, "public": bool,
                "shown": bool, "format": str, "meta": dict, "filters": list, "drill_members": list}
DIMENSION_KEYS = {"name": str, "type": str, "sql": (str, int), "case": dict, "primary_key": bool, "title": str,
                  "description": str, "public": bool, "shown": bool, "format": str, "meta": dict}
SEGMENT_KEYS = {"name": str, "sql": str, "title": str, "description": str, "public": bool, "shown": bool,
                "meta": dict}
JOIN_KEYS = {"name": str, "relationship": str, "sql": str}
PREAGG_KEYS = {"name": str, "type": str, "measures": list, "dimensions": list, "segments": list,
               "time_dimension": str, "granularity": str, "refresh_key": dict, "scheduled_refresh": bool}
VIEW_KEYS = {"name": str, "title": str, "description": str, "public": bool, "shown": bool, "meta": dict,
             "cubes": list}
VIEW_CUBE_KEYS = {"join_path": str, "includes": (str, list), "excludes": list, "prefix": bool, "alias": str}
INCLUDE_KEYS = {"name": str, "alias": str, "title": str, "description": str, "format": str, "meta": dict}
UNSUPPORTED = {
    "cube": {"extends", "hierarchies", "access_policy", "data_source", "sql_alias", "rewrite_queries", "calendar",
             "refresh_key"},
    "measure": {"rolling_window", "multi_stage", "time_shift", "cumulative", "reduce_by", "group_by",
                "add_group_by", "order_by", "case"},
    "dimension": {"sub_query", "propagate_filters_to_sub_query", "granularities", "multi_stage", "latitude",
                  "longitude", "add_group_by", "time_shift"},
    "view": {"folders", "access_policy", "extends"},
    "pre_aggregation": {"partition_granularity", "indexes", "build_range_start", "build_range_end",
                        "rollups", "external", "allow_non_strict_date_range_match", "use_original_sql_pre_aggregations",
                        "union_with_source_data", "lambda"},
}
TYPE_NAMES = {str: "a string", bool: "true or false", dict: "a mapping", list: "a list", int: "a number"}


def did_you_mean(name: str, options) -> str:
    near = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""
