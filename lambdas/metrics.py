"""CloudWatch Embedded Metric Format: one JSON line on stdout becomes metrics, with no API call.

On Lambda, a line whose ``_aws.CloudWatchMetrics`` names metrics and dimensions is turned into
those metrics by CloudWatch Logs (EMF specification:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
EMF lines are application logs: they need the application log level at INFO or lower.
"""

from __future__ import annotations

import json
import time

__all__ = ["NAMESPACE", "emf"]

NAMESPACE = "votectl"


def emf(dimensions: dict[str, str], counts: dict[str, float], unit: str = "Count") -> None:
    """One EMF line: each of ``counts`` a metric in NAMESPACE under ``dimensions``."""
    metric = {
        "Namespace": NAMESPACE,
        "Dimensions": [list(dimensions)],
        "Metrics": [{"Name": name, "Unit": unit} for name in counts],
    }
    aws = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [metric]}
    print(json.dumps({"_aws": aws, **dimensions, **counts}), flush=True)
