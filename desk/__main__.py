"""`python -m desk [--host H] [--port P]`: the desk of LEADGRAPH_HOME (what `leadgraph serve` starts beside Prefect)."""

import argparse

from desk.server import run_desk
from leadgraph.config import load_settings

parser = argparse.ArgumentParser(prog="python -m desk", description="Serve the lead desk of LEADGRAPH_HOME.")
parser.add_argument("--host")
parser.add_argument("--port", type=int)
args = parser.parse_args()
run_desk(load_settings(), args.host, args.port)
