"""Validation and loading of uploaded engines and models. Pure: bytes and dicts in, checked objects out.

Two kinds of upload:
- a decision engine configuration (JSON): which engine and the policy values it runs with (any ClientPolicy field);
- an interruption-risk model (skops-serialised scikit-learn estimator, or ONNX): given a pool's canonical features
  in the order of RISK_FEATURES, it predicts the monthly interruption probability. When active, the decision
  engine uses its prediction instead of the Spot Advisor bucket's representative probability.

skops files are loaded only when every type they contain is one skops trusts by default; anything else is
refused, naming the types, so an upload can never run arbitrary code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from spectra.spot.decisions.engine import (
    ClientPolicy,
    CostMinimisingEngine,
    DecisionContext,
    FleetState,
    InstanceState,
    PoolCandidate,
)

ENGINES = {CostMinimisingEngine.name: CostMinimisingEngine}
RISK_FEATURES = ("price", "volatility", "hours_since_change", "interruption_probability", "on_demand_ratio")
POLICY_FIELDS = {f.name: f.type for f in dataclasses.fields(ClientPolicy)}
# scikit-learn's own tree structure: data only, needed by every tree and forest model; nothing else is added
# to what skops trusts by default.
EXTRA_TRUSTED_TYPES = frozenset({"sklearn.tree._tree.Tree"})


class ModelRejected(ValueError):
    def __init__(self, msg: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(msg)
        self.errors = errors or [{"field": "file", "msg": msg}]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def policy_from(overrides: dict[str, Any] | None, base: ClientPolicy | None = None) -> ClientPolicy:
    """Apply policy overrides (validated: known fields, numbers ≥ 0, shares and probabilities ≤ 1)."""
    base = base or ClientPolicy()
    if not overrides:
        return base
    errors = []
    clean: dict[str, Any] = {}
    for name, value in overrides.items():
        if name not in POLICY_FIELDS:
            errors.append({"field": f"policy.{name}", "msg": "unknown policy field"})
            continue
        current = getattr(base, name)
        if isinstance(current, bool) or name == "auto_switch":
            if not isinstance(value, bool):
                errors.append({"field": f"policy.{name}", "msg": "must be true or false"})
                continue
        elif value is None and name in ("replica_risk_threshold", "switch_cost_usd", "interruption_cost_usd"):
            pass
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            errors.append({"field": f"policy.{name}", "msg": "must be a number ≥ 0"})
            continue
        elif name in ("max_pool_share", "min_on_demand_share", "max_interruption_probability") and value > 1:
            errors.append({"field": f"policy.{name}", "msg": "must be between 0 and 1"})
            continue
        clean[name] = int(value) if name == "min_replicas" else value
    if errors:
        raise ModelRejected("invalid policy", errors)
    return dataclasses.replace(base, **clean)


def validate_engine_config(config: dict[str, Any]) -> dict[str, Any]:
    """An engine config: {"engine": name, "policy": {...}}; smoke-tested on a two-pool context."""
    engine_name = config.get("engine", CostMinimisingEngine.name)
    if engine_name not in ENGINES:
        raise ModelRejected("unknown engine", [{"field": "engine", "msg": f"one of {sorted(ENGINES)}"}])
    policy = policy_from(config.get("policy") or {})
    engine = ENGINES[engine_name]()
    decision = engine.decide(
        DecisionContext(
            instance=InstanceState("smoke", pool_id="a"),
            candidates=[PoolCandidate("a", 0.10), PoolCandidate("b", 0.05)],
            on_demand_price=0.20,
            policy=policy,
            fleet=FleetState(size=1, pool_counts={"a": 1}),
        )
    )
    return {"engine": engine_name, "policy": dataclasses.asdict(policy), "smoke_decision": decision.action.value}


def _smoke_matrix() -> np.ndarray:
    return np.array([[0.10, 0.05, 2.0, 0.125, 0.5], [0.30, 0.0, 0.0, 0.025, 0.9]], dtype=np.float32)


class RiskModel:
    """A loaded interruption-risk model: features (rows in RISK_FEATURES order) → monthly probabilities."""

    def __init__(self, framework: str, data: bytes) -> None:
        self.framework = framework
        if framework == "skops":
            import skops.io as sio

            try:
                untrusted = sio.get_untrusted_types(data=data)
            except Exception as exc:
                raise ModelRejected(f"not a skops file: {exc}") from None
            untrusted = [name for name in untrusted if name not in EXTRA_TRUSTED_TYPES]
            if untrusted:
                raise ModelRejected(
                    "the file contains types that are not trusted: " + ", ".join(untrusted),
                    [{"field": "file", "msg": f"untrusted type {name}"} for name in untrusted],
                )
            self._estimator = sio.loads(data, trusted=sorted(EXTRA_TRUSTED_TYPES))
            if not hasattr(self._estimator, "predict"):
                raise ModelRejected("the estimator has no predict()")
        elif framework == "onnx":
            import onnxruntime

            try:
                self._session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
            except Exception as exc:
                raise ModelRejected(f"not a loadable ONNX model: {exc}") from None
            self._input = self._session.get_inputs()[0].name
        else:
            raise ModelRejected("unknown framework", [{"field": "framework", "msg": "skops | onnx"}])

    def predict(self, rows: Sequence[Sequence[float]] | np.ndarray) -> list[float]:
        matrix = np.asarray(rows, dtype=np.float32).reshape(-1, len(RISK_FEATURES))
        if self.framework == "skops":
            estimator = self._estimator
            if hasattr(estimator, "predict_proba"):
                raw = np.asarray(estimator.predict_proba(matrix))[:, -1]
            else:
                raw = np.asarray(estimator.predict(matrix))
        else:
            raw = np.asarray(self._session.run(None, {self._input: matrix})[0])
        values = raw.reshape(len(matrix), -1)[:, -1].astype(float)
        if not np.all(np.isfinite(values)):
            raise ModelRejected("the model returned non-finite values")
        return [float(v) for v in np.clip(values, 0.0, 1.0)]

    def describe(self) -> dict[str, Any]:
        out = self.predict(_smoke_matrix())
        info: dict[str, Any] = {"features": list(RISK_FEATURES), "smoke_predictions": [round(v, 6) for v in out]}
        if self.framework == "skops":
            info["estimator"] = type(self._estimator).__name__
        return info


def validate_risk_model(framework: str, data: bytes) -> dict[str, Any]:
    try:
        model = RiskModel(framework, data)
        return model.describe()
    except ModelRejected:
        raise
    except Exception as exc:  # a model that loads but cannot score our feature rows is unusable
        raise ModelRejected(f"the model could not score {len(RISK_FEATURES)} features: {exc}") from None


_cache: dict[str, RiskModel] = {}
_cache_lock = threading.Lock()


def load_risk_model(framework: str, data: bytes, digest: str) -> RiskModel:
    with _cache_lock:
        if digest not in _cache:
            if len(_cache) > 8:
                _cache.clear()
            _cache[digest] = RiskModel(framework, data)
        return _cache[digest]
