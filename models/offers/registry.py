"""Offer models by name: `build_offer_model(name, data, cfg, seed)`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from leadgraph.config import OfferConfig
from models.offers.baselines import FunnelStage, LightGCN, Popularity
from models.offers.cigf import CIGF
from models.offers.data import Interactions
from models.offers.funnel_first import FunnelFirst

OfferBuilder = Callable[[Interactions, OfferConfig], nn.Module]

OFFER_MODELS: dict[str, OfferBuilder] = {
    "cigf": lambda d, c: CIGF(d, c, "mesi"),
    "cigf-no-cigcn": lambda d, c: CIGF(d, c, "mesi", compress=False),
    "cigf-no-mesi": lambda d, c: CIGF(d, c, "bilinear"),
    "cigcn-sb": lambda d, c: CIGF(d, c, "sb"),
    "cigcn-mmoe": lambda d, c: CIGF(d, c, "mmoe"),
    "cigcn-ple": lambda d, c: CIGF(d, c, "ple"),
    "funnel-cigf": lambda d, c: FunnelFirst(CIGF(d, c, "mesi"), d),
    "funnel-cigcn-ple": lambda d, c: FunnelFirst(CIGF(d, c, "ple"), d),
    "popularity": lambda d, c: Popularity(d, c),
    "funnel-stage": lambda d, c: FunnelStage(d, c),
    "mf-bpr": lambda d, c: LightGCN(d, c, layers=0),
    "lightgcn": lambda d, c: LightGCN(d, c, layers=c.layers),
    "lightgcn-merged": lambda d, c: LightGCN(d, c, layers=c.layers, merged=True),
}

# Rankings without parameters: one run says all there is, whatever the seed.
UNTRAINED = frozenset({"popularity", "funnel-stage"})


def build_offer_model(name: str, data: Interactions, cfg: OfferConfig, seed: int = 0) -> nn.Module:
    """A fresh offer model of a registered name, initialised from `seed` alone.

    Not from torch's global generator: its state depends on whatever ran before in the process, and a re-run
    of a day (or of one benchmark seed) must start from the same weights."""
    if name not in OFFER_MODELS:
        raise ValueError(f"unknown offer model {name!r}; choose one of {', '.join(OFFER_MODELS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return OFFER_MODELS[name](data, cfg)
