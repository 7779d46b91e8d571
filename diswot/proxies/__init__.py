"""Zero-cost proxies in one registry: DisWOT, KD-based zero-proxies and classic baselines.

Every proxy is higher-is-better, returns a finite float (or raises naming proxy and arch)
and is deterministic for a seed. ``diswot list proxies`` prints each one's formula.
"""

from diswot.proxies.aggregate import Aggregate, Calibration, parse_aggregate
from diswot.proxies.base import (
    PROXIES,
    Batch,
    Probe,
    ProxySpec,
    TeacherContext,
    preserved_state,
    register_proxy,
)
from diswot.proxies.scorer import ProxyResult, ProxyScorer, arch_seed, resolve_proxies
from diswot.registry import load_plugins

__all__ = [
    "PROXIES",
    "Aggregate",
    "Batch",
    "Calibration",
    "Probe",
    "ProxyResult",
    "ProxyScorer",
    "ProxySpec",
    "TeacherContext",
    "arch_seed",
    "parse_aggregate",
    "preserved_state",
    "register_proxy",
    "resolve_proxies",
]

# every module of this folder registers its plug-ins: a new one is a new file, nothing to list here
load_plugins(__name__, __path__)
