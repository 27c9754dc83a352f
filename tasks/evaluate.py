"""Evaluation beyond models.training: the champion on a challenger's hold-out, the promotion rule, the training report."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import precision_recall_curve

from leadgraph.config import Settings, TrainConfig
from models.problem import Problem, Split
from models.training import FitResult, Predictions, evaluate, load_model, predict
from tasks.quality_gate import GateResult
from tasks.graph import load_snapshot, snapshot_dir

INFERENCE_KNOBS = ("full_batch_max_nodes", "inference_fanouts", "inference_batch_size", "layerwise_chunk_edges")


@dataclass(frozen=True)
class Promotion:
    """The champion/challenger decision on one shared hold-out, after the quality gate."""

    promote: bool
    reason: str
    challenger_ap: float
    champion_ap: float | None
    champion_version: str | None
    margin: float
    task: str
    gate_passed: bool = True

    def as_dict(self) -> dict:
        return {"promoted": self.promote, "reason": self.reason, "challenger_ap": self.challenger_ap,
                "champion_ap": self.champion_ap, "champion_version": self.champion_version, "margin": self.margin,
                "task": self.task, "gate_passed": self.gate_passed}


def inference_cfg(saved: TrainConfig, settings: Settings) -> TrainConfig:
    """A saved model's config with today's inference knobs (how to batch), keeping its architecture."""
    return saved.model_copy(update={k: getattr(settings.train, k) for k in INFERENCE_KNOBS})


def beats(challenger_ap: float, champion_ap: float, margin: float) -> bool:
    """The promotion rule: the challenger's AP exceeds the champion's by more than the margin (NaN never wins)."""
    return math.isfinite(challenger_ap) and (not math.isfinite(champion_ap) or challenger_ap > champion_ap + margin)


def split_metrics(probs: list[dict[str, np.ndarray]], split: Split) -> dict[str, dict[str, float]]:
    """Metrics per task of probabilities over a split's graphs (probs[g] for graph g), each task on its own rows."""
    out = {}
    for task, index in split.index.items():
        scored = [(probs[g][task][idx.numpy()], split.y[task][g].numpy()) for g, idx in enumerate(index) if idx.numel()]
        if not scored:
            continue
        out[task] = evaluate(np.concatenate([p for p, _ in scored]), np.concatenate([y for _, y in scored]), "binary")
    return out


def champion_on_holdout(settings: Settings, model_path: Path, normalizer_path: Path, problem: Problem) -> dict | None:
    """The champion's metrics on the challenger's test anchors, their raw snapshots normalised the champion's way.

    None when the champion cannot read those snapshots (its features differ) or predicts other tasks:
    it could not score today either.
    """
    from tasks.dataset import FeatureNormalizer

    model, _, cfg = load_model(model_path)
    if sorted(t.name for t in model.tasks) != sorted(t.name for t in problem.tasks):
        return None
    normalizer = FeatureNormalizer.load(normalizer_path)
    probs = []
    for anchor in problem.meta["anchors"].split("test"):
        try:
            graph = normalizer.transform(load_snapshot(snapshot_dir(settings, anchor)))
        except ValueError:
            return None
        probs.append(predict(model, graph, inference_cfg(cfg, settings)))
    return split_metrics(probs, problem.test)


def decide(settings: Settings, result: FitResult, task: str, gate: GateResult, champion_version: str | None,
           champion_metrics: dict | None) -> Promotion:
    """Promote only through the quality gate; then when there is no champion, when the champion cannot be
    evaluated, or when the challenger beats it on the final task's AP."""
    margin = settings.train.promotion_margin
    ap = float(result.metrics["test"][task]["ap"])
    if not gate.passed:
        stays = (f"champion {champion_version} stays" if champion_version else
                 "no champion: lists are published with this version, marked model_quality unproven")
        return Promotion(False, f"quality gate not passed: {gate.reason}; {stays}", ap, None, champion_version, margin,
                         task, gate_passed=False)
    if champion_version is None:
        return Promotion(True, f"first version through the quality gate ({gate.reason})", ap, None, None, margin, task)
    if champion_metrics is None:
        return Promotion(True, f"champion {champion_version} cannot read this graph's features: replaced", ap, None,
                         champion_version, margin, task)
    champ_ap = float(champion_metrics[task]["ap"])
    won = beats(ap, champ_ap, margin)
    verb = "beats" if won else "does not beat"
    return Promotion(won, f"{task} AP {ap:.4f} {verb} champion {champion_version} ({champ_ap:.4f}) + margin {margin} "
                          "on the same hold-out", ap, champ_ap, champion_version, margin, task)


def stage_curves(history: list[dict]) -> dict[str, list[dict]]:
    """The epoch rows of a training history grouped by stage, in training order (one group for a single-stage model)."""
    curves: dict[str, list[dict]] = {}
    for h in history:
        if "epoch" in h:
            curves.setdefault(h.get("stage", "train"), []).append(h)
    return curves


def validation_curves(history: list[dict]) -> dict[str, list[list[float]]]:
    """Per training stage, [epoch, validation selection score] at each evaluated epoch."""
    return {stage: [[h["epoch"], h["val_score"]] for h in rows if "val_score" in h]
            for stage, rows in stage_curves(history).items()}


def _plot_learning_curve(result: FitResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = stage_curves(result.history)
    fig, ax = plt.subplots(figsize=(6 + 2 * (len(curves) > 1), 4))
    if curves:
        twin = ax.twinx()
        offset = 0
        for k, (stage, rows) in enumerate(curves.items()):
            # Stages follow each other on one axis: each starts where the previous one stopped.
            epochs = [offset + h["epoch"] for h in rows]
            suffix = f" ({stage})" if len(curves) > 1 else ""
            ax.plot(epochs, [h["loss"] for h in rows], label=f"train loss{suffix}", color=f"C{2 * k}")
            twin.plot(epochs, [h["val_score"] for h in rows], label=f"validation score{suffix}", color=f"C{2 * k + 1}",
                      linestyle="--" if len(curves) > 1 else "-")
            offset = epochs[-1] + 1
        ax.set_xlabel("epoch" if len(curves) == 1 else "epoch (stages in training order)")
        ax.set_ylabel("train loss")
        twin.set_ylabel("validation score (weighted AP)")
        if result.best_epoch >= 0:
            ax.axvline(offset - 1 - curves[list(curves)[-1]][-1]["epoch"] + result.best_epoch, color="grey",
                       linestyle=":", label="kept epoch")
        fig.legend(loc="upper right", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no epoch history (tabular model: see metrics.json)", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title(f"{result.model_name}: learning curve")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _stage_lines(result: FitResult) -> list[str]:
    """A table of the training stages (epochs, best validation score) when the model trained in several."""
    curves = stage_curves(result.history)
    if len(curves) < 2:
        return []
    lines = ["", "| stage | evaluations | last epoch | best validation score | its epoch |", "|---|---|---|---|---|"]
    for stage, rows in curves.items():
        best = max(rows, key=lambda h: h["val_score"] if math.isfinite(h["val_score"]) else -math.inf)
        lines.append(f"| {stage} | {len(rows)} | {rows[-1]['epoch']} | {best['val_score']:.4f} | {best['epoch']} |")
    return lines


def _plot_pr_curves(predictions: dict[str, Predictions], model_name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(predictions)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4))
    for ax, task in zip(np.atleast_1d(axes), tasks):
        pred = predictions[task]
        keep = pred.y >= 0
        y, p, w = pred.y[keep], pred.probs[keep], pred.weight[keep]
        if y.size and y.min() != y.max():
            precision, recall, _ = precision_recall_curve(y, p, sample_weight=w)
            ax.step(recall, precision, where="post")
            prevalence = float(np.average(y, weights=w))
            ax.axhline(prevalence, color="grey", linestyle="--", label=f"prevalence {prevalence:.4f}")
            ax.legend(loc="upper right")
        else:
            ax.text(0.5, 0.5, "one class only in the hold-out", ha="center", va="center")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{task} (hold-out, {int(y.sum())} positives)")
    fig.suptitle(f"{model_name}: precision-recall on the temporal hold-out")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_reliability(figures: dict[str, dict], model_name: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(figures)
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(5 * max(len(tasks), 1), 4))
    for ax, task in zip(np.atleast_1d(axes), tasks):
        curve = figures[task].get("curve", [])
        x = [c["mean_predicted"] for c in curve]
        y = [c["observed_rate"] for c in curve]
        top = max(x + y + [1e-6])
        ax.plot([0, top], [0, top], color="grey", linestyle="--", label="perfect calibration")
        ax.plot(x, y, marker="o", label="calibrated model")
        ax.set_xlabel("mean predicted probability (bin)")
        ax.set_ylabel("observed rate (bin)")
        ax.set_title(f"{task} (hold-out, Brier {figures[task].get('brier', float('nan')):.5f}, "
                     f"ECE {figures[task].get('ece', float('nan')):.5f})", fontsize=9)
        ax.legend(loc="upper left")
    fig.suptitle(f"{model_name}: reliability on the temporal hold-out")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _refitted(selection: dict) -> bool:
    """Whether the stored weights come from a refit (not one skipped for want of training budget)."""
    refit = selection.get("refit")
    return bool(refit) and "skipped" not in refit


def _refit_line(refit: dict | None) -> str:
    """The training report's line on the refit."""
    if not refit:
        return "- refit: none"
    if "skipped" in refit:
        return f"- refit: skipped ({refit['skipped']}); the stored weights are the selected model's"
    return (f"- refit: {refit['epochs']} epoch(s) on the most recent anchors, {refit['seconds']:.1f}s; the stored "
            "weights are the refit's, the figures below the selected model's")


def _anchor_lines(selection: dict) -> list[str]:
    lines = []
    for task, a in selection["anchors"].items():
        lines.append(f"- {task}: trained on {', '.join(a['train'])}, selected on validation {a['val']}, "
                     f"tested on {a['test']}" + (f", refit on {', '.join(a['refit'])}" if _refitted(selection) else ""))
    return lines


def write_report(folder: Path, result: FitResult, problem: Problem, promotion: Promotion, gate: GateResult,
                 calibration: dict[str, dict], selection: dict, phases: list[dict] | None = None) -> Path:
    """Learning curve, precision-recall and reliability PNGs plus report.md into `folder`; returns the markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    _plot_learning_curve(result, folder / "learning_curve.png")
    _plot_pr_curves(result.test_predictions, result.model_name, folder / "pr_curves.png")
    _plot_reliability(calibration, result.model_name, folder / "reliability.png")
    lines = [f"# Training report: {result.model_name} on {problem.name}", "", *_anchor_lines(selection),
             f"- kept epoch: {result.best_epoch}", f"- training time: {result.seconds:.1f}s",
             _refit_line(selection.get("refit")),
             f"- quality gate: {'passed' if gate.passed else 'not passed'}: {gate.reason}",
             f"- promotion: {promotion.reason}", *_stage_lines(result), "", "| split | task | AP | AUC | n | positives |", "|---|---|---|---|---|---|"]
    for split, tasks in result.metrics.items():
        for task, m in tasks.items():
            lines.append(f"| {split} | {task} | {m.get('ap', float('nan')):.4f} | {m.get('auc', float('nan')):.4f} | "
                         f"{m.get('n', '')} | {m.get('positives', '')} |")
    anchors = result.cfg.train_metrics_anchors if result.cfg else None
    lines += ["", "The train rows score " + ("every training anchor" if anchors is None else
              f"each task's {anchors} most recent training anchor(s)") + " (`train.train_metrics_anchors`)."]
    if phases:
        lines += ["", "## Where the training time went", "", "| phase | seconds | resident GiB at its end | peak GiB by then |",
                  "|---|---|---|---|"]
        for p in phases:
            rows = [(p["phase"], p)] + [(f"{p['phase']}: {w['phase']}", w) for w in p.get("within", [])]
            lines += [f"| {name} | {q['seconds']:.1f} | {q['rss_gib']:.2f} | {q['peak_gib']:.2f} |" for name, q in rows]
        split = next((w for p in phases for w in p.get("within", []) if "epochs_s" in w), None)
        if split:
            lines += ["", f"Of the training, {split['epochs_s']:.1f}s went to optimiser epochs and "
                          f"{split['validation_s']:.1f}s to validation passes."]
    lines += ["", "## Calibration (fitted on validation, judged on the hold-out)", "",
              "| task | method | Brier | ECE | mean predicted | observed rate | positives |", "|---|---|---|---|---|---|---|"]
    for task, f in calibration.items():
        lines.append(f"| {task} | {f.get('method', '')} | {f.get('brier', float('nan')):.6f} | {f.get('ece', float('nan')):.6f} | "
                     f"{f.get('mean_predicted', float('nan')):.6f} | {f.get('observed_rate', float('nan')):.6f} | "
                     f"{f.get('positives', '')} |")
    lines += ["", "## Validation curves (selection score per evaluated epoch)", ""]
    lines += [f"- {stage}: " + ", ".join(f"{epoch}: {score:.4f}" for epoch, score in points)
              for stage, points in validation_curves(result.history).items()]
    lines += ["", "![learning curve](learning_curve.png)", "", "![precision-recall](pr_curves.png)", "",
              "![reliability](reliability.png)", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
