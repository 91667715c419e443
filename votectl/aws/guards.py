"""Deploy guards: settings a deployed stack must not change, refused before anything is written.

Step ``refuse_shard_change``: the writer spreads each title's votes over ``table_shards`` keys
(suffix = hash mod N), so changing N on a table that holds votes would file a re-vote under a
new key while the old one stays, counting it twice.
"""

from __future__ import annotations

from votectl.aws.pipeline import Deploy
from votectl.aws.retained import find_table, holds_items
from votectl.aws.stack import read_stack
from votectl.errors import ConfigError, StackNotFound

__all__ = ["refuse_shard_change"]


def refuse_shard_change(run: Deploy) -> None:
    try:
        stack = read_stack(run.aws)
    except StackNotFound:
        return
    deployed = stack.parameters.get("TableShards")
    if deployed is None or deployed == str(run.stage.table_shards):
        return
    table = find_table(run.aws, stack)
    if table and holds_items(run.aws, table):
        raise ConfigError(
            f"stage {run.stage.name!r}: table_shards {deployed} -> {run.stage.table_shards}"
            f" on table {table}, which holds votes (re-votes would count twice)",
            hint=f"keep table_shards = {deployed}, or deploy a new stage for the new key layout",
        )
