"""Files to download: the scenario as YAML (a draft with errors too, keeping the source file's
comments), the summary as CSV, the path table as Parquet. (The workbook: :mod:`cib_sim.report`.)"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pandas as pd
import yaml

from cib_sim.app.dicts import jsonable
from cib_sim.scenario import Scenario, scenario_to_yaml


def scenario_yaml_bytes(s: Scenario) -> bytes:
    """The scenario as YAML (``scenario_to_yaml``), which loads back to an equal scenario."""
    return scenario_to_yaml(s).encode("utf-8")


def summary_csv_bytes(summary: pd.DataFrame) -> bytes:
    return summary.to_csv(index=False).encode("utf-8")


def results_parquet_bytes(results) -> bytes:
    """The path table (one row per path) as Parquet bytes, with the scenario and seed in its
    metadata, as ``Results.to_parquet`` writes to a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(results.path_table(), preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.update({b"cib_sim.scenario": scenario_to_yaml(results.scenario).encode(), b"cib_sim.seed": str(results.seed).encode()})
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    return buf.getvalue()


def file_stem(name: Any) -> str:
    """A file name from a scenario's name: ``West London Zone CIB (LCF)`` -> ``west_london_zone_cib_lcf``."""
    stem = re.sub(r"[^a-z0-9]+", "_", str(name or "").lower()).strip("_")
    return stem[:60] or "scenario"


def _merge_into(node: Any, new: Any, old: Any) -> Any:
    """``new`` written into ``node`` (a ruamel round-trip node of the source file), so that the
    file's comments and layout stay: values equal to the file's are left as written, keys the
    file did not have are added only when they differ from ``old`` (the scenario as loaded, with
    every default), keys no longer in ``new`` are removed. Returns the node to store."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap) and isinstance(new, dict):
        old = old if isinstance(old, dict) else {}
        for key in [k for k in node if k not in new]:
            del node[key]
        for key, value in new.items():
            if key in node:
                node[key] = _merge_into(node[key], value, old.get(key))
            elif value != old.get(key, object()):
                node[key] = value
        return node
    if isinstance(node, CommentedSeq) and isinstance(new, list):
        old = old if isinstance(old, list) else []
        del node[len(new):]
        for i, value in enumerate(new):
            if i < len(node):
                node[i] = _merge_into(node[i], value, old[i] if i < len(old) else None)
            else:
                node.append(value)
        return node
    if type(node) is not bool and type(new) is not bool and node == new:
        return node
    if isinstance(node, (dt.date, dt.datetime)) and isinstance(new, str) and node.isoformat()[:len(new)] == new:
        return node
    if isinstance(new, float) and new.is_integer() and type(node) is int:
        return int(new)  # 1500 stays 1500, not 1500.0
    return new


def draft_yaml(working: dict, source_text: str | None = None, loaded: dict | None = None) -> bytes:
    """The scenario being edited as YAML, errors and all (a cell that is not a number keeps its
    text), to be loaded again later. With ``source_text`` (the file it was loaded from) and
    ``loaded`` (that file as read), the file's comments and order are kept and only what
    changed is rewritten; otherwise every field is written."""
    if source_text:
        try:
            from ruamel.yaml import YAML

            ry = YAML()
            ry.preserve_quotes = True
            ry.width = 4096
            ry.indent(mapping=2, sequence=4, offset=2)
            doc = ry.load(source_text)
            doc = _merge_into(doc, jsonable(working), jsonable(loaded or {}))
            buf = io.StringIO()
            ry.dump(doc, buf)
            return buf.getvalue().encode("utf-8")
        except Exception:  # noqa: BLE001 - fall back to a plain dump: a draft must always be saved
            pass
    return yaml.safe_dump(jsonable(working), sort_keys=False, allow_unicode=True, width=100).encode("utf-8")
