"""The library front door of the original Little Pipelines: Task and Pipeline."""
