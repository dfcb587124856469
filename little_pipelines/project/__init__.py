"""The file-convention front door: configuration, discovery, loading, the project, watch."""
