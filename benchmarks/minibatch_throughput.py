"""Mini-batch throughput at paper scale: the sampler alone, StrucHIS vs STL-HGT training steps, batched scoring.

Each phase runs in its own process (so each reports its own peak resident memory) on one graph:
a stored snapshot (`--snapshot DIR`, default the newest under LEADGRAPH_HOME's graphs folder) or
a synthetic logistics-shaped graph (`--synthetic CUSTOMERS`, for development). Training uses
random labels at the product's rates (task 1 ~2 %, task 2 ~0.1 %): throughput does not depend on
their values. Batch size and fanouts come from TrainConfig.

Usage: python -m benchmarks.minibatch_throughput [--snapshot DIR | --synthetic N] [--steps 10]
       [--sampler-batches 20] [--predict-fraction 1.0] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import HeteroData

from benchmarks import machine
from leadgraph.config import TrainConfig, load_settings
from models.problem import TaskSpec
from models.registry import ModelInputs, build
from models.sampler import hop_fanouts, sample_batches, sampler_for

TASKS = [TaskSpec("high_interest", "customer", "binary"), TaskSpec("contract", "customer", "binary")]
POSITIVE_RATE = {"high_interest": 0.02, "contract": 0.001}
RESULTS = Path(__file__).resolve().parent / "results" / "minibatch.md"


def _skewed(n: int, size: int, alpha: float, gen: torch.Generator) -> torch.Tensor:
    """`size` node ids in [0, n) with a heavy tail: id ~ n * u**alpha, so low ids are hubs."""
    return (torch.rand(size, generator=gen, dtype=torch.float64).pow(alpha) * n).long().clamp(max=n - 1)


def synthetic_graph(customers: int, seed: int = 0) -> HeteroData:
    """A random logistics-shaped snapshot (the interface's node and edge types) with `customers` customers."""
    gen = torch.Generator().manual_seed(seed)
    num = {
        "customer": customers,
        "company": max(customers // 6, 1),
        "account": max(customers // 5, 1),
        "station": max(customers // 2500, 2),
    }
    widths = {"customer": 24, "company": 8, "account": 6, "station": 6}
    data = HeteroData()
    for t, n in num.items():
        data[t].x = torch.randn(n, widths[t], generator=gen)
        data[t].node_id = torch.arange(n)
    c = num["customer"]
    ship_src, ship_dst = _skewed(c, int(0.7 * c), 3.0, gen), _skewed(c, int(0.7 * c), 3.0, gen)
    ships = torch.unique(torch.stack([ship_src, ship_dst]), dim=1)
    attr = torch.rand(ships.size(1), 3, generator=gen)
    arange = torch.arange(c)
    holders = torch.randperm(c, generator=gen)[: int(0.8 * c)]
    holds = torch.stack([holders, _skewed(num["account"], holders.numel(), 1.5, gen)])
    located = torch.stack([arange, _skewed(num["station"], c, 1.5, gen)])
    members = torch.randperm(c, generator=gen)[: int(0.5 * c)]
    belongs = torch.stack([members, _skewed(num["company"], members.numel(), 2.0, gen)])
    based = torch.stack([torch.arange(num["company"]), _skewed(num["station"], num["company"], 1.5, gen)])
    pairs = {
        ("ships_to", "receives_from", "customer", "customer"): ships,
        ("holds", "held_by", "customer", "account"): holds,
        ("located_at", "serves", "customer", "station"): located,
        ("belongs_to", "has_member", "customer", "company"): belongs,
        ("based_at", "hosts", "company", "station"): based,
    }
    for (fwd, rev, src, dst), ei in pairs.items():
        data[src, fwd, dst].edge_index = ei
        data[dst, rev, src].edge_index = ei.flip(0)
    data["customer", "ships_to", "customer"].edge_attr = attr
    data["customer", "receives_from", "customer"].edge_attr = attr
    return data


def _standardised(graph: HeteroData) -> HeteroData:
    """Z-score every feature column (the scoring graph is normalised too); NaNs become 0."""
    for store in list(graph.node_stores) + [graph[et] for et in graph.edge_types if "edge_attr" in graph[et]]:
        key = "x" if "x" in store else "edge_attr"
        v = torch.nan_to_num(store[key].float())
        store[key] = (v - v.mean(0)) / v.std(0).clamp(min=1e-6)
    return graph


def load_graph(args: argparse.Namespace) -> tuple[HeteroData, str]:
    """The benchmark graph and a one-line description of where it came from."""
    if args.synthetic:
        return synthetic_graph(args.synthetic, seed=0), f"synthetic, {args.synthetic:,} customers"
    from tasks.graph import load_snapshot

    path = Path(args.snapshot) if args.snapshot else max(load_settings().paths.graphs.iterdir())
    return _standardised(load_snapshot(path)), f"snapshot {path.name}"


def _inputs(graph: HeteroData) -> ModelInputs:
    """Model inputs read off the graph."""
    return ModelInputs(
        in_dims={t: int(graph[t].x.shape[1]) for t in graph.node_types},
        edge_types=list(graph.edge_types),
        edge_attr_dims={et: int(graph[et].edge_attr.shape[1]) for et in graph.edge_types if "edge_attr" in graph[et]},
        tasks=TASKS,
    )


def phase_sampler(graph: HeteroData, cfg: TrainConfig, args: argparse.Namespace) -> dict:
    """CSC build time, then sampled batches per second and the mean subgraph size."""
    started = time.perf_counter()
    sampler_for(graph)
    csc = time.perf_counter() - started
    gen = torch.Generator().manual_seed(0)
    n = graph["customer"].num_nodes
    seeds = torch.randperm(n, generator=gen)[: cfg.batch_size * args.sampler_batches]
    fanouts = hop_fanouts(cfg.fanouts, cfg.layers + 1)
    nodes, edges = [], []
    started, cpu = time.perf_counter(), time.process_time()
    for batch in sample_batches(graph, "customer", seeds, fanouts, cfg.batch_size, True, gen):
        nodes.append(sum(batch.graph[t].num_nodes for t in batch.graph.node_types))
        edges.append(sum(batch.graph[et].num_edges for et in batch.graph.edge_types))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "csc_build_s": csc,
        "cpu_s_per_batch": cpu / len(nodes),
        "batches": len(nodes),
        "batches_per_s": len(nodes) / wall,
        "seeds_per_s": seeds.numel() / wall,
        "mean_subgraph_nodes": float(np.mean(nodes)),
        "mean_subgraph_edges": float(np.mean(edges)),
        "fanouts": list(fanouts),
    }


def phase_train(graph: HeteroData, cfg: TrainConfig, args: argparse.Namespace) -> dict:
    """Seconds per mini-batch step (sample + forward + backward + AdamW) and seed nodes per second."""
    torch.manual_seed(0)
    model = build(args.model, _inputs(graph), cfg)
    model.tasks = list(TASKS)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(0)
    n = graph["customer"].num_nodes
    labels = {t: (torch.rand(n, generator=gen) < rate).float() for t, rate in POSITIVE_RATE.items()}
    seeds = torch.randperm(n, generator=gen)[: cfg.batch_size * (args.steps + 1)]
    sampler_for(graph)
    fanouts = hop_fanouts(cfg.fanouts, cfg.layers + 1)
    model.train()
    times, sample_times, cpu_times = [], [], []
    clock, cpu = time.perf_counter(), time.process_time()
    for step, batch in enumerate(sample_batches(graph, "customer", seeds, fanouts, cfg.batch_size, True, gen)):
        sampled = time.perf_counter()
        out = model(batch.graph)
        rows = batch.graph["customer"].n_id[batch.seed_local]
        loss = sum(
            task.loss_weight * model.task_loss(task, out[task.name][batch.seed_local], labels[task.name][rows], None)
            for task in TASKS
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        done = time.perf_counter()
        if step:  # the first step pays one-off allocations
            times.append(done - clock)
            sample_times.append(sampled - clock)
            cpu_times.append(time.process_time() - cpu)
        clock, cpu = time.perf_counter(), time.process_time()
    return {
        "model": args.model,
        "steps_timed": len(times),
        "s_per_step": float(np.mean(times)),
        "sample_s_per_step": float(np.mean(sample_times)),
        "seeds_per_s": cfg.batch_size / float(np.mean(times)),
        "cpu_s_per_step": float(np.mean(cpu_times)),
        "params": sum(p.numel() for p in model.parameters()),
    }


def phase_predict(graph: HeteroData, cfg: TrainConfig, args: argparse.Namespace) -> dict:
    """predict_batched over all customers; for sampled-route models --predict-fraction < 1 scores a prefix, extrapolated.

    Phase "predict-sampled" times the sampled route even for a model that scores layer-wise, for comparison."""
    from models.inference import _sampled, is_layerwise, predict_batched

    torch.manual_seed(0)
    model = build(args.model, _inputs(graph), cfg)
    model.tasks = list(TASKS)
    sampler_for(graph)
    n = graph["customer"].num_nodes
    # layer-wise: every step covers the whole graph, no prefix to time
    layerwise = is_layerwise(model) and args.phase == "predict"
    scored = n if layerwise or args.predict_fraction >= 1.0 else max(int(n * args.predict_fraction), 1)
    started, cpu = time.perf_counter(), time.process_time()
    if layerwise:
        probs = predict_batched(model, graph, "customer", cfg)
    else:
        # the sampled route scores seed batches independently, so a prefix times it fairly
        model.eval()
        with torch.no_grad():
            probs = _sampled(model, graph, "customer", TASKS, cfg, torch.arange(scored))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "model": args.model,
        "cpu_s": cpu,
        "route": "layer-wise" if layerwise else "sampled",
        "inference_fanouts": list(hop_fanouts(cfg.inference_fanouts, cfg.layers + 1)),
        "inference_batch_size": cfg.inference_batch_size,
        "customers": n,
        "scored": scored,
        "wall_s": wall,
        "customers_per_s": scored / wall,
        "all_customers_s": wall * n / scored,
        "finite": bool(all(torch.isfinite(torch.as_tensor(p[:scored])).all() for p in probs.values())),
    }


PHASES = {"sampler": phase_sampler, "train": phase_train, "predict": phase_predict, "predict-sampled": phase_predict}


def _child(args: argparse.Namespace) -> None:
    """Run one phase in this process and print its figures as one JSON line."""
    torch.set_num_threads(args.threads)
    overrides: dict = {}
    if args.batch_size:
        overrides["batch_size"] = args.batch_size
    if args.fanouts:
        overrides["fanouts"] = tuple(int(f) for f in args.fanouts.split(","))
    cfg = TrainConfig(**overrides)
    started = time.perf_counter()
    graph, source = load_graph(args)
    loaded = time.perf_counter() - started
    result = PHASES[args.phase](graph, cfg, args)
    result.update(
        batch_size=cfg.batch_size,
        train_fanouts=list(cfg.fanouts),
        phase=args.phase,
        source=source,
        load_s=loaded,
        nodes=int(sum(graph[t].num_nodes for t in graph.node_types)),
        edges=int(sum(graph[et].num_edges for et in graph.edge_types)),
        peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    )
    print(json.dumps(result))


def main() -> None:
    """Run the phases, each in a child process, and write their figures to --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", help="snapshot folder (default: newest under LEADGRAPH_HOME)")
    parser.add_argument("--synthetic", type=int, default=0, help="customers of a synthetic graph instead")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    parser.add_argument("--sampler-batches", type=int, default=20)
    parser.add_argument("--predict-fraction", type=float, default=1.0, help="share of customers scored by sampled routes")
    parser.add_argument("--runs", default="sampler,train:struchis,train:stl-hgt,predict:struchis,predict:stl-hgt")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, help="override TrainConfig.batch_size")
    parser.add_argument("--fanouts", help="override TrainConfig.fanouts, e.g. 10,5,5,3")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--model", default="struchis", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        _child(args)
        return
    results = []
    passthrough = ["--steps", str(args.steps), "--sampler-batches", str(args.sampler_batches)]
    passthrough += ["--predict-fraction", str(args.predict_fraction), "--threads", str(args.threads)]
    for flag, value in (("--snapshot", args.snapshot), ("--synthetic", args.synthetic), ("--batch-size", args.batch_size), ("--fanouts", args.fanouts)):
        if value:
            passthrough += [flag, str(value)]
    for run in args.runs.split(","):
        phase, _, model = run.partition(":")
        cmd = [sys.executable, "-m", "benchmarks.minibatch_throughput", *passthrough, "--phase", phase]
        if model:
            cmd += ["--model", model]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            results.append({"phase": phase, "model": model, "error": proc.stderr[-2000:]})
        else:
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    speed = {r["model"]: r["seeds_per_s"] for r in results if r.get("phase") == "train" and "seeds_per_s" in r}
    if {"struchis", "stl-hgt"} <= set(speed):
        results.append({"struchis_over_stl_hgt_seeds_per_s": speed["struchis"] / speed["stl-hgt"]})
        print(json.dumps(results[-1]))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    command = "python -m benchmarks.minibatch_throughput " + " ".join(_shown_arguments(sys.argv[1:], args.snapshot))
    RESULTS.write_text(render(results, command), encoding="utf-8")
    print(RESULTS.read_text(encoding="utf-8"))


def _shown_arguments(argv: list[str], snapshot: str | None) -> list[str]:
    """The command line as the page shows it: no folder or file of the measuring machine."""
    shown = []
    for i, arg in enumerate(argv):
        if i and argv[i - 1] == "--out":
            arg = "<file>"
        elif arg == snapshot:
            arg = f"<paper home>/artifacts/graphs/{Path(arg).name}"
        shown.append(arg)
    return shown


def render(results: list[dict], command: str) -> str:
    """The results page: one table per phase kind."""
    source = next((r["source"] for r in results if "source" in r), "?")
    size = next((f"{r['nodes']:,} nodes, {r['edges']:,} edges" for r in results if "nodes" in r), "")
    lines = ["# Mini-batch sampling, training and scoring at paper scale", "",
             f"- Command: `{command}`", f"- Graph: {source} ({size})", f"- Machine: {machine.describe()}",
             f"- Date: {machine.now()}", "- Each phase ran in its own process; peak memory is that process's own "
             "(the graph itself, loaded, is about 4.5 GiB of it).", ""]
    for r in results:
        if "error" in r:
            lines.append(f"- {r['phase']} {r.get('model', '')}: failed: `{r['error'][-300:]}`")
    sampler = [r for r in results if r.get("phase") == "sampler" and "error" not in r]
    if sampler:
        lines += ["## Sampler", "", "| batch | fanouts per hop | CSC index build | batches / s | CPU s / batch | nodes / batch | edges / batch | peak |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in sampler:
            lines.append(f"| {r['batch_size']} | {r['fanouts']} | {r['csc_build_s']:.1f} s | {r['batches_per_s']:.2f} | "
                         f"{r['cpu_s_per_batch']:.2f} | {r['mean_subgraph_nodes']:,.0f} | {r['mean_subgraph_edges']:,.0f} | {r['peak_rss_gib']:.2f} GiB |")
        lines.append("")
    train = [r for r in results if r.get("phase") == "train" and "error" not in r]
    if train:
        lines += ["## Training steps (sample + forward + backward + AdamW)", "",
                  "| model | batch | fanouts | s / step | of which sampling | seed nodes / s | CPU s / step | parameters | peak |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in train:
            lines.append(f"| {r['model']} | {r['batch_size']} | {r['train_fanouts']} | {r['s_per_step']:.2f} | {r['sample_s_per_step']:.2f} | "
                         f"{r['seeds_per_s']:.0f} | {r['cpu_s_per_step']:.2f} | {r['params']:,} | {r['peak_rss_gib']:.2f} GiB |")
        ratio = next((r["struchis_over_stl_hgt_seeds_per_s"] for r in results if "struchis_over_stl_hgt_seeds_per_s" in r), None)
        if ratio is not None:
            lines.append(f"\nStrucHIS / STL-HGT seed nodes per second in this run: {ratio:.2f}.")
        lines.append("")
    predict = [r for r in results if r.get("phase") in ("predict", "predict-sampled") and "error" not in r]
    if predict:
        lines += ["## Scoring every customer", "", "| model | route | customers | wall | customers / s | CPU s | all finite | peak |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in predict:
            wall = f"{r['wall_s']:.0f} s" if r["scored"] == r["customers"] else f"{r['all_customers_s']:.0f} s (extrapolated from {r['scored']:,})"
            lines.append(f"| {r['model']} | {r['route']} | {r['customers']:,} | {wall} | {r['customers_per_s']:,.0f} | {r['cpu_s']:.0f} | "
                         f"{r['finite']} | {r['peak_rss_gib']:.2f} GiB |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
