"""lp next to its peers (plain Python, doit, Hamilton, pytask) on one shared DAG.

`dag` is the graph every tool gets, `projects` writes it as each tool's project, `tools` says
how each tool is run, reset and counted, `venvs` installs the peers at pinned versions.
`compare.py` (one folder up) runs them side by side.
"""
