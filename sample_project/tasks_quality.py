"""A data-quality check written with the library API (`lp.Task` and its processes).

Function tasks and `lp.Task` objects share one graph: `data_quality` reads the results of
`raw` and `boardings` by name, and `report` depends on it like on any function task.
"""

import little_pipelines as lp

data_quality = lp.Task(
    "data_quality", dependencies=["raw", "boardings"], expire_results=lp.expire.never()
)


@data_quality.process
def run(this):
    """How many boardings rows arrived, and how many validation dropped."""
    arrived = len(this.pipeline.get_result("raw")["boardings"])
    kept = len(this.pipeline.get_result("boardings"))
    counts = {"rows": arrived, "rejected": arrived - kept}
    this.judge(counts)
    return counts


@data_quality.process
def judge(this, counts):
    """Warn when more than one row in a hundred was dropped: the export may be broken."""
    if counts["rejected"] > counts["rows"] / 100:
        this.logger.warning("{rejected} of {rows} rows dropped", **counts)
