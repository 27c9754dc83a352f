"""Faithful StrucHIS against an independent, loop-by-loop computation of MODELS.md §1.4-§1.7 (eval mode)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import HeteroData

from leadgraph.config import TrainConfig
from models.problem import TaskSpec
from models.registry import ModelInputs, build

NUM = {"a": 6, "b": 5, "c": 4}
FEAT = {"a": 3, "b": 5, "c": 2}
TASKS = [TaskSpec("t_a", "a", "multiclass", 3), TaskSpec("t_b", "b", "binary")]


def random_graph(seed: int = 3) -> HeteroData:
    """A small heterogeneous graph with every relation kind: cross-type, same-type, and receivers without edges."""
    gen = torch.Generator().manual_seed(seed)
    g = HeteroData()
    for t, n in NUM.items():
        g[t].x = torch.randn(n, FEAT[t], generator=gen)
    for (src, rel, dst), m in {("a", "x", "b"): 9, ("b", "y", "a"): 8, ("b", "z", "c"): 6, ("c", "w", "b"): 5, ("a", "f", "a"): 7}.items():
        s = torch.randint(0, NUM[src], (m,), generator=gen)
        d = torch.randint(0, NUM[dst] - 1, (m,), generator=gen)  # the last node of each type has no in-edges here
        g[src, rel, dst].edge_index = torch.stack([s, d])
    return g


def leaky(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x > 0, x, 0.2 * x)


def softmax_list(values: list[torch.Tensor]) -> list[torch.Tensor]:
    top = max(float(v) for v in values)
    exps = [torch.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def reference(model, g: HeteroData, tasks: list[TaskSpec]) -> tuple[dict, dict]:
    """Plain-torch StrucHIS, dense loops over nodes and relations; returns (logits per task, beta per task)."""
    T = len(tasks)
    targets = sorted({t.node_type for t in tasks})
    # Receiver-convention relations (s, r, t), sorted like DGL's canonical etypes; self-loops for target types.
    rels = sorted([(d, r, s) for (s, r, d) in g.edge_types] + [(t, "self", t) for t in targets])
    rel_id = {rel: i for i, rel in enumerate(rels)}
    types = sorted(NUM)

    def neighbours(rel, v):
        s, r, t = rel
        if r == "self":
            return [v]
        ei = g[t, r, s].edge_index
        return [int(ei[0, j]) for j in range(ei.shape[1]) if int(ei[1, j]) == v]

    h0 = {t: g[t].x @ model.proj[t].weight.T + model.proj[t].bias for t in types}
    H = [dict(h0) for _ in range(T)]
    betas = [{} for _ in range(T)]
    for level, experts in enumerate(model.experts):
        msgs, qs = [], []
        for i in range(T):
            ex = experts[i]
            c = {rho: float(ex.a_e[0] @ (ex.W_e @ ex.edge_emb[rho])) for rho in range(len(rels))}
            M, Q = {}, {}
            for s in types:
                my_rels = [rel for rel in rels if rel[0] == s]
                W = ex.W[s]
                M[s] = torch.zeros(NUM[s], len(my_rels), W.shape[0])
                Q[s] = H[i][s] @ W.T
                for v in range(NUM[s]):
                    q = W @ H[i][s][v]
                    for p, rel in enumerate(my_rels):
                        us = neighbours(rel, v)
                        if not us:
                            continue
                        ks = [W @ H[i][rel[2]][u] for u in us]
                        logits = [leaky(ex.a_l[0] @ q + ex.a_r[0] @ k + c[rel_id[rel]]) for k in ks]
                        M[s][v, p] = sum(a * k for a, k in zip(softmax_list(logits), ks))
            msgs.append(M)
            qs.append(Q)
        newH = [dict() for _ in range(T)]
        for i in range(T):
            ex = experts[i]
            for s in types:
                R = msgs[i][s].shape[1]
                gate = model.gates[str(level)][i][s]
                rows = []
                for v in range(NUM[s]):
                    x = torch.cat([H[i][s][v], H[i][s][v]])
                    scores = gate.out.weight @ torch.relu(gate.hidden.weight @ x + gate.hidden.bias)
                    Z = []
                    for p in range(R):
                        w = softmax_list([scores[p * T + k] for k in range(T)])
                        Z.append(sum(w[k] * msgs[k][s][v, p] for k in range(T)))
                    att = [ex.rel_att.weight[0] @ torch.cat([qs[i][s][v], z]) + ex.rel_att.bias[0] for z in Z]
                    beta = softmax_list(att)
                    betas[i].setdefault(s, []).append(torch.stack(beta))
                    o = sum(b * z for b, z in zip(beta, Z))
                    if level > 0:
                        o = o + ex.res.weight @ H[i][s][v] + ex.res.bias
                    rows.append(F.elu(o))
                newH[i][s] = torch.stack(rows)
        H = newH
    logits = {}
    for i, task in enumerate(tasks):
        tw = model.towers[i]
        s = task.node_type
        W = tw.W[s]
        c = {rho: float(tw.a_e[0] @ (tw.W_e @ tw.edge_emb[rho])) for rho in range(len(rels))}
        rows = []
        for v in range(NUM[s]):
            q = W @ H[i][s][v]
            ks, lg = [], []
            for rel in [r for r in rels if r[0] == s]:
                for u in neighbours(rel, v):
                    k = W @ H[i][rel[2]][u]
                    ks.append(k)
                    lg.append(leaky(tw.a_l[0] @ q + tw.a_r[0] @ k + c[rel_id[rel]]))
            y = sum(a * k for a, k in zip(softmax_list(lg), ks)) + tw.res.weight @ H[i][s][v] + tw.res.bias
            y = y / max(float(torch.linalg.norm(y)), 1e-12)
            rows.append(y[1] - y[0] if task.kind == "binary" else y)
        logits[task.name] = torch.stack(rows)
    return logits, betas


def _per_node_betas(betas_i: dict, s: str, levels: int) -> torch.Tensor:
    """Reference betas were appended node by node per level: reshape to [levels, N, R] and average levels."""
    stacked = torch.stack(betas_i[s])
    return stacked.view(levels, NUM[s], -1).mean(0)


@pytest.fixture(scope="module")
def faithful_model():
    torch.manual_seed(0)
    g = random_graph()
    inputs = ModelInputs(
        in_dims=dict(FEAT), edge_types=list(g.edge_types), edge_attr_dims={}, tasks=TASKS
    )
    cfg = TrainConfig(struchis_mode="faithful", hidden=8, layers=2, dropout=0.5, attn_dropout=0.5)
    model = build("struchis", inputs, cfg)
    # Move the parameters away from their initialisation so no term hides behind a near-zero weight.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    model.eval()
    return model, g


def test_faithful_struchis_matches_loop_reference(faithful_model):
    model, g = faithful_model
    with torch.no_grad():
        got = model(g)
        want, _ = reference(model, g, TASKS)
    assert got["t_a"].shape == (NUM["a"], 3) and got["t_b"].shape == (NUM["b"],)
    for name in want:
        assert torch.allclose(got[name], want[name], atol=1e-5), (name, (got[name] - want[name]).abs().max())


def test_relation_weights_match_reference_betas(faithful_model):
    model, g = faithful_model
    with torch.no_grad():
        _, betas = reference(model, g, TASKS)
    weights = model.relation_weights(g)
    names, beta = weights["t_a"]
    assert names == ["f", "self", "y"]  # receiver a: relations sorted by name
    assert torch.allclose(beta, _per_node_betas(betas[0], "a", 2), atol=1e-5)
    names_b, beta_b = weights["t_b"]
    assert names_b == ["self", "w", "x"]
    assert torch.allclose(beta_b, _per_node_betas(betas[1], "b", 2), atol=1e-5)
    assert not model.training


def test_faithful_probabilities_are_bounded_by_l2_normalisation(faithful_model):
    """With unit-norm logits the top softmax probability of C classes is at most e^sqrt(C/(C-1)) / (e^sqrt(C/(C-1)) + C - 1)."""
    model, g = faithful_model
    with torch.no_grad():
        probs = torch.softmax(model(g)["t_a"], -1)
    c = 3
    bound = math.exp(math.sqrt(c / (c - 1))) / (math.exp(math.sqrt(c / (c - 1))) + c - 1)
    assert float(probs.max()) <= bound + 1e-6
