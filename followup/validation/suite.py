"""The Great Expectations side: context and suite built once per process, a run over a checks
frame, and the batch's Data Docs."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from followup.validation.rules import RULES, SUITE_NAME, SUITE_VERSION, Rule

# Before Great Expectations is imported anywhere in this process (a worker server preloads this
# module first for that reason): its analytics would call the internet.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

_gx_lock = threading.Lock()  # one context per process; Prefect may run tasks in threads
_gx_cache: dict[str, object] = {}


def _expectation(rule: Rule):
    import great_expectations.expectations as gxe

    common = {"column": rule.column or rule.key, "meta": {"rule": rule.key}, "description": rule.description}
    if rule.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(**common)
    if rule.kind == "unique":
        return gxe.ExpectColumnValuesToBeUnique(**common)
    if rule.kind == "regex":
        return gxe.ExpectColumnValuesToMatchRegex(regex=rule.values[0], **common)
    if rule.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(value_set=list(rule.values), **common)
    return gxe.ExpectColumnValuesToBeNull(**common)


def _gx():
    """The ephemeral context and the suite's validation definition, built once per process."""
    if "definition" not in _gx_cache:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        pandas_execution_engine.HASH_THRESHOLD = 0  # no batch fingerprint (see followup.validation's docstring)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        datasource = context.data_sources.add_pandas("followup")
        batch = datasource.add_dataframe_asset("candidate_batch_checks").add_batch_definition_whole_dataframe(
            "whole_batch"
        )
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=SUITE_NAME,
                meta={"suite_version": SUITE_VERSION},
                expectations=[_expectation(rule) for rule in RULES],
            )
        )
        definition = gx.ValidationDefinition(name=f"{SUITE_NAME}-v{SUITE_VERSION}", data=batch, suite=suite)
        _gx_cache["context"] = context
        _gx_cache["batches"] = datasource.get_execution_engine().batch_manager
        _gx_cache["definition"] = context.validation_definitions.add(definition)
    return _gx_cache["context"], _gx_cache["definition"]


def prepare_in_background() -> threading.Thread:
    """Import Great Expectations and build the suite in a thread (about three seconds of one
    core here) while the caller waits on something else, such as Prefect's server starting; the
    first validation finds them built, or waits for them under the same lock."""

    def prepare() -> None:
        with _gx_lock:
            _gx()

    thread = threading.Thread(target=prepare, name="followup-gx-prepare", daemon=True)
    thread.start()
    return thread


def check_batch_id(batch_id: str) -> None:
    """The batch id names the batch's Data Docs folder: one plain folder name."""
    if not batch_id or Path(batch_id).name != batch_id or batch_id in (".", ".."):
        raise ValueError(f"batch id {batch_id!r} cannot name a folder")


def run_suite(
    checks: pd.DataFrame, batch_id: str, docs_dir: Path | None = None
) -> tuple[dict[str, np.ndarray], Path | None]:
    """Failing positions per rule over a checks frame from prepare(), and the Data Docs index
    for this batch (under `docs_dir / batch_id`) when `docs_dir` is set."""
    from great_expectations.core.run_identifier import RunIdentifier

    check_batch_id(batch_id)

    result_format = {
        "result_format": "COMPLETE",
        "include_unexpected_rows": False,
        "partial_unexpected_count": 20,
        "return_unexpected_index_query": False,
    }
    with _gx_lock:
        context, definition = _gx()
        run_id = RunIdentifier(run_name=batch_id, run_time=datetime.now(timezone.utc))
        try:
            result = definition.run(batch_parameters={"dataframe": checks}, result_format=result_format, run_id=run_id)
        finally:
            # The engine would hold this batch's frame, and the file's text it shares, until the next run.
            _gx_cache["batches"].batch_data_cache.clear()
            _gx_cache["batches"].reset_batch_cache()
        failing: dict[str, np.ndarray] = {}
        for outcome in result.results:
            rule = outcome.expectation_config.meta["rule"]
            if outcome.exception_info.get("raised_exception"):
                message = outcome.exception_info["exception_message"]
                raise RuntimeError(f"validation rule {rule} failed to run: {message}")
            failing[rule] = np.asarray(outcome.result.pop("unexpected_index_list", None) or [], dtype=np.int64)
            outcome.result.pop("unexpected_list", None)  # the docs keep the partial lists only
        store = context.validation_results_store
        keys = [key for key in store.list_keys() if key.run_id.run_name == batch_id]
        try:
            docs = _build_docs(context, keys, result, Path(docs_dir) / batch_id) if docs_dir else None
        finally:
            for key in keys:  # the in-memory store would otherwise keep every batch's result
                store.remove_key(key)
    return failing, docs


def _build_docs(context, keys, trimmed, target: Path) -> Path:
    # The docs show rows of the batch (the failing values): only their owner may go in.
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key in keys:
        context.validation_results_store.set(key, trimmed)
    site = f"batch_{target.name}"
    context.add_data_docs_site(
        site,
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(target)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    try:
        context.build_data_docs(site_names=[site], resource_identifiers=keys)
    finally:
        context.delete_data_docs_site(site)
    return target / "index.html"
