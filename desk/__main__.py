"""`python -m desk`: the desk of LEADGRAPH_HOME with its configured address (what `leadgraph serve` starts)."""

from desk.server import run_desk
from leadgraph.config import load_settings

run_desk(load_settings())
