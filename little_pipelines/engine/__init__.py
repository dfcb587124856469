"""The engine: task specs, the graph, the run loop, executors and task logs."""
