"""Uploaded engines and risk models: validation and scoring (ONNX built by hand, skops from scikit-learn)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import skops.io as sio
from sklearn.dummy import DummyRegressor

from spectra.spot.decisions.registry import ModelRejected, RiskModel, policy_from, validate_engine_config


def _field(number: int, value: int | str | bytes) -> bytes:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def onnx_linear_model(weights: list[float]) -> bytes:
    """A minimal ONNX model, Y[N,1] = X[N,5] · W, encoded field by field (protobuf wire format)."""

    def value_info(name: str, dims: list[int | str]) -> bytes:
        shape = b"".join(_field(1, _field(2, d) if isinstance(d, str) else _field(1, d)) for d in dims)
        return _field(1, name) + _field(2, _field(1, _field(1, 1) + _field(2, shape)))

    tensor = _field(1, 5) + _field(1, 1) + _field(2, 1) + _field(8, "W") + _field(9, struct.pack("<5f", *weights))
    node = _field(1, "X") + _field(1, "W") + _field(2, "Y") + _field(4, "MatMul")
    graph = (
        _field(1, node)
        + _field(2, "risk")
        + _field(5, tensor)
        + _field(11, value_info("X", ["N", 5]))
        + _field(12, value_info("Y", ["N", 1]))
    )
    return _field(1, 8) + _field(8, _field(1, "") + _field(2, 13)) + _field(7, graph)


def test_onnx_model_scores_feature_rows() -> None:
    # three times the advisor probability (4th feature), clipped to [0, 1]
    model = RiskModel("onnx", onnx_linear_model([0, 0, 0, 3, 0]))
    assert model.predict([[0.1, 0.0, 2.0, 0.125, 0.5], [0.1, 0.0, 2.0, 0.5, 0.5]]) == pytest.approx([0.375, 1.0])
    assert model.describe()["smoke_predictions"] == pytest.approx([0.375, 0.075])


def test_skops_regressor_scores_and_untrusted_types_are_refused() -> None:
    constant = DummyRegressor(strategy="constant", constant=0.07).fit(np.zeros((2, 5)), [0.07, 0.07])
    assert RiskModel("skops", sio.dumps(constant)).predict([[0.1, 0, 0, 0.1, 0.5]]) == pytest.approx([0.07])

    class Sneaky(DummyRegressor):
        pass

    sneaky = Sneaky(strategy="constant", constant=0.1).fit(np.zeros((2, 5)), [0.1, 0.1])
    with pytest.raises(ModelRejected) as caught:
        RiskModel("skops", sio.dumps(sneaky))
    assert any("Sneaky" in e["msg"] for e in caught.value.errors)


def test_unknown_framework_is_refused() -> None:
    with pytest.raises(ModelRejected):
        RiskModel("pickle", b"\x80\x04")


def test_policy_overrides_are_validated() -> None:
    policy = policy_from({"hysteresis_pct": 0.1, "min_replicas": 2.0, "auto_switch": False})
    assert (policy.hysteresis_pct, policy.min_replicas, policy.auto_switch) == (0.1, 2, False)
    with pytest.raises(ModelRejected) as caught:
        policy_from({"max_pool_share": 1.5, "auto_switch": "yes", "switch_cost_usd": "cheap"})
    assert {e["field"] for e in caught.value.errors} == {
        "policy.max_pool_share",
        "policy.auto_switch",
        "policy.switch_cost_usd",
    }


def test_engine_config_is_smoke_tested() -> None:
    result = validate_engine_config({"policy": {"hysteresis_pct": 0.01}})
    assert result["engine"] == "cost-minimising-v1"
    assert result["smoke_decision"] == "switch"  # 0.05 + amortised move vs 0.10 now
    with pytest.raises(ModelRejected):
        validate_engine_config({"engine": "magic"})
