"""The GPU datasheet catalog and GPU name resolution (:mod:`simulators.core.gpus`).

Names as people, ``nvidia-smi`` and the price catalogs write them map to one spec; parts the
catalog lacks (H100 NVL, A100 PCIe, accelerators that are not GPUs) are refused with the value,
a did-you-mean, the known names and how to add one; the stored numbers obey the relations that
hold by construction of the parts (dense FP8 is twice dense BF16, the H200 is an H100 die with
faster memory, ...).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from domain.errors import SimulationError
from simulators.core import gpus, tokens
from simulators.core.gpus import GPU_SPECS, GpuSpec, gpu_key, resolve_gpu

CATALOG = Path(__file__).resolve().parents[2] / "costmodels" / "data" / "gpu_catalog_snapshot.csv"
ACCELERATORS = ("AWS Inferentia", "AWS Trainium")  # catalog rows with chips that are not GPUs

REQUIRED = ("H100-SXM-80GB", "H100-PCIE-80GB", "H200-SXM-141GB", "B200-SXM-180GB",
            "A100-SXM-80GB", "A100-SXM-40GB", "A10G-24GB", "L4-24GB", "L40S-48GB",
            "RTX4090-24GB", "RTXPRO6000-96GB", "MI300X-192GB")


# ----------------------------------------------------------------------------- resolution


@pytest.mark.parametrize(("name", "memory", "key"), [
    # the keys themselves, any case, with or without separators
    ("h100-sxm-80gb", None, "H100-SXM-80GB"),
    ("H100_SXM_80GB", None, "H100-SXM-80GB"),
    ("rtxpro6000-96gb", 96, "RTXPRO6000-96GB"),
    ("a10g 24gb", None, "A10G-24GB"),
    # short names
    ("H200", None, "H200-SXM-141GB"),
    ("h100", None, "H100-SXM-80GB"),
    ("H100 SXM", None, "H100-SXM-80GB"),
    ("H100 PCIe", None, "H100-PCIE-80GB"),
    ("RTX 4090", None, "RTX4090-24GB"),
    ("rtx4090", None, "RTX4090-24GB"),
    ("L40S", None, "L40S-48GB"),
    ("l4", None, "L4-24GB"),
    ("A100", 40, "A100-SXM-40GB"),
    ("A100", 80, "A100-SXM-80GB"),
    ("A100 40GB", None, "A100-SXM-40GB"),
    ("A100-80GB", None, "A100-SXM-80GB"),
    ("MI300X", None, "MI300X-192GB"),
    ("B200", None, "B200-SXM-180GB"),
    ("B200 192GB", None, "B200-SXM-180GB"),
    ("RTX PRO 6000", None, "RTXPRO6000-96GB"),
    ("RTX PRO 6000 Blackwell", None, "RTXPRO6000-96GB"),
    # vendor names as nvidia-smi / rocm-smi and the price catalogs print them
    ("NVIDIA H100 80GB HBM3", None, "H100-SXM-80GB"),
    ("NVIDIA H100 PCIe", None, "H100-PCIE-80GB"),
    ("NVIDIA A100-SXM4-40GB", None, "A100-SXM-40GB"),
    ("NVIDIA A100-SXM4-80GB", None, "A100-SXM-80GB"),
    ("NVIDIA A10G", None, "A10G-24GB"),
    ("NVIDIA L4", None, "L4-24GB"),
    ("NVIDIA L40S", 48, "L40S-48GB"),
    ("NVIDIA GeForce RTX 4090", None, "RTX4090-24GB"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", None, "RTXPRO6000-96GB"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", 96, "RTXPRO6000-96GB"),
    ("AMD Instinct MI300X", None, "MI300X-192GB"),
    ("NVIDIA H100 80GB (A3 Mega)", 80, "H100-SXM-80GB"),
    ("NVIDIA H200 141GB", None, "H200-SXM-141GB"),
    ("NVIDIA H100", 80, "H100-SXM-80GB"),
    ("NVIDIA H100 Tensor Core GPU", None, "H100-SXM-80GB"),
    # GCP's price table names (no vendor)
    ("H100 80GB (Mega)", None, "H100-SXM-80GB"),
    ("A100 40GB", 40, "A100-SXM-40GB"),
])
def test_names_resolve_to_one_spec(name: str, memory: float | None, key: str) -> None:
    assert resolve_gpu(name, memory) == key
    assert gpu_key(name, memory) == key


@pytest.mark.parametrize("key", list(GPU_SPECS))
def test_every_key_and_marketing_name_resolves_to_itself(key: str) -> None:
    spec = GPU_SPECS[key]
    assert resolve_gpu(key) == key
    assert resolve_gpu(key.lower().replace("-", " ")) == key
    assert resolve_gpu(key, spec.memory_gib) == key
    assert resolve_gpu(spec.name) == key
    assert resolve_gpu(gpus._KNOWN_NAMES[key], spec.memory_gib) == key


def test_the_catalog_has_the_required_parts_and_tokens_reexports_it() -> None:
    assert set(REQUIRED) <= set(GPU_SPECS)
    assert set(gpus._KNOWN_NAMES) == set(GPU_SPECS)
    assert {k for keys in gpus._GPU_FAMILIES.values() for k in keys} == set(GPU_SPECS)
    assert tokens.GPU_SPECS is GPU_SPECS and tokens.GpuSpec is GpuSpec
    assert tokens.gpu_key is gpu_key


def test_the_profile_gpu_name_is_the_h100_sxm() -> None:
    assert resolve_gpu("NVIDIA H100 80GB HBM3") == "H100-SXM-80GB"
    assert gpu_key("NVIDIA H100 80GB HBM3", 80) == "H100-SXM-80GB"


# ----------------------------------------------------------------------------- refusals


def _refusal(name: str, memory: float | None = None) -> str:
    with pytest.raises(SimulationError) as info:
        resolve_gpu(name, memory)
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_unknown_names_give_the_value_a_guess_the_known_names_and_how_to_add_one() -> None:
    msg = _refusal("NVIDIA A10")  # the A10 (125 TFLOPS dense) is not the A10G
    assert "'NVIDIA A10'" in msg and "did you mean 'NVIDIA A10G'" in msg
    assert "known: 'NVIDIA H100' (H100-SXM-80GB)" in msg
    assert all(f"({k})" in msg for k in GPU_SPECS)
    assert "simulators.core.gpus.GPU_SPECS" in msg and "cited sources" in msg
    assert "did you mean 'NVIDIA RTX PRO 6000 Blackwell'" in _refusal("RTX 6000 Ada")
    msg = _refusal("AWS Inferentia2", 32)
    assert "'AWS Inferentia2'" in msg and "did you mean" not in msg and "known:" in msg
    assert "known: 'NVIDIA H100'" in _refusal("")


@pytest.mark.parametrize("name", ["NVIDIA H100 NVL", "H100 NVL", "h100-nvl-94gb"])
def test_an_h100_nvl_is_refused_not_mistaken_for_the_sxm(name: str) -> None:
    msg = _refusal(name)
    assert "NVL is a different part" in msg and "94 GB" in msg and "matches no known variant" in msg
    assert "matches no known variant" in _refusal("NVIDIA H200 NVL")
    with pytest.raises(ValueError, match="matches no known variant"):
        gpu_key(name, 94)


def test_a_memory_that_fits_no_variant_is_refused() -> None:
    msg = _refusal("NVIDIA H100", 94)
    assert "94 GB matches no known variant" in msg and "80 GB: H100-SXM-80GB" in msg
    assert "H100 NVL" in msg
    assert "matches no known variant" in _refusal("L4", 48)
    assert "matches no known variant" in _refusal("H100-SXM-80GB", 94)
    assert "names 40 GB but memory_gib=80" in _refusal("A100 40GB", 80)


def test_a_family_with_several_sizes_needs_the_memory() -> None:
    msg = _refusal("NVIDIA A100")
    assert "A100-SXM-80GB" in msg and "A100-SXM-40GB" in msg and "pass memory_gib" in msg
    with pytest.raises(ValueError, match="pass gpu_memory_gib"):
        gpu_key("NVIDIA A100")


def test_a_board_the_catalog_lacks_is_refused() -> None:
    msg = _refusal("NVIDIA A100 80GB PCIe")
    assert "only as A100-SXM-80GB, A100-SXM-40GB" in msg
    assert "matches no known variant" in _refusal("H200 PCIe")


# ----------------------------------------------------------------------------- catalogs


def _mapped(model: str, memory: float | None) -> None:
    key = resolve_gpu(model, memory)
    if memory is not None:
        assert GPU_SPECS[key].memory_gib == pytest.approx(memory, rel=0.1), (model, memory, key)


def test_every_gpu_instance_of_the_bundled_catalog_maps_to_a_spec() -> None:
    with CATALOG.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["gpu_model"]]
    gpu_rows = [r for r in rows if not r["gpu_model"].startswith(ACCELERATORS)]
    assert len(gpu_rows) >= 50
    for row in gpu_rows:
        _mapped(row["gpu_model"], float(row["gpu_memory_gib"]))
    for row in rows:
        if row["gpu_model"].startswith(ACCELERATORS):
            with pytest.raises(ValueError, match="no datasheet entry"):
                resolve_gpu(row["gpu_model"], float(row["gpu_memory_gib"]))


def test_every_gpu_of_the_shared_price_tables_maps_to_a_spec(shared_data: Path) -> None:
    table = shared_data / "catalog" / "gpu_instances.csv"
    with table.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["gpu_model"].startswith(ACCELERATORS):
                _mapped(row["gpu_model"], float(row["gpu_memory_gb_per_gpu"]))
    gcp = next((shared_data / "catalog").glob("*/gcp_gpu_machine_prices.csv"), None)
    if gcp is not None:
        with gcp.open(newline="") as fh:
            for model in {r["gpu_model"] for r in csv.DictReader(fh)}:
                _mapped(model, None)


# ----------------------------------------------------------------------------- the numbers


@pytest.mark.parametrize("key", list(GPU_SPECS))
def test_every_spec_is_physically_sane(key: str) -> None:
    s = GPU_SPECS[key]
    assert s.memory_gib > 0 and s.bandwidth_gb_per_s > 0 and s.dense_tflops > 0
    assert s.interconnect_gb_per_s > 0 and s.source and s.vendor in {"NVIDIA", "AMD"}
    # the key states the memory
    assert float(re.search(r"(\d+)GB$", key).group(1)) == s.memory_gib
    # FP8 tensor cores run at twice the BF16 rate; a sparse figure stored by mistake breaks it
    # (2.5 %: the L40S datasheet prints BF16 362.05 dense but FP8 733 dense)
    if s.fp8_tflops is not None:
        assert s.fp8_tflops >= s.dense_tflops
        assert s.fp8_tflops / s.dense_tflops == pytest.approx(2, rel=0.025)
    # dense BF16 FLOP per byte of memory traffic (the roofline ridge) of every part here
    # lies in 100..450; a with-sparsity figure would double it
    assert 100 <= s.dense_tflops * 1e3 / s.bandwidth_gb_per_s <= 450
    # the GPU-to-GPU link is slower than the memory
    assert s.interconnect_gb_per_s < s.bandwidth_gb_per_s
    if "PCIe 4.0" in s.interconnect:
        assert s.interconnect_gb_per_s == 32
    if "PCIe 5.0" in s.interconnect:
        assert s.interconnect_gb_per_s == 64


def test_the_numbers_relate_as_the_parts_do() -> None:
    h100, h200 = GPU_SPECS["H100-SXM-80GB"], GPU_SPECS["H200-SXM-141GB"]
    assert h200.bandwidth_gb_per_s / h100.bandwidth_gb_per_s == pytest.approx(4.8 / 3.35)
    # the H200 is the H100 die with HBM3e: same tensor peaks and NVLink
    assert (h200.dense_tflops, h200.fp8_tflops) == (h100.dense_tflops, h100.fp8_tflops)
    assert h200.interconnect_gb_per_s == h100.interconnect_gb_per_s == 450
    # the PCIe H100 has fewer SMs, lower clocks and HBM2e
    pcie = GPU_SPECS["H100-PCIE-80GB"]
    assert pcie.dense_tflops < h100.dense_tflops and pcie.bandwidth_gb_per_s < h100.bandwidth_gb_per_s
    # both A100 sizes are the same die: same tensor peak and NVLink, no FP8
    a40, a80 = GPU_SPECS["A100-SXM-40GB"], GPU_SPECS["A100-SXM-80GB"]
    assert a40.dense_tflops == a80.dense_tflops == 312 and a40.fp8_tflops is a80.fp8_tflops is None
    assert a40.interconnect_gb_per_s == a80.interconnect_gb_per_s == 300
    assert GPU_SPECS["A10G-24GB"].fp8_tflops is None
    # GeForce: BF16 with FP32 accumulate at half the FP16-accumulate rate (165.2, not 330.3)
    assert GPU_SPECS["RTX4090-24GB"].dense_tflops == 165.2
    mi = GPU_SPECS["MI300X-192GB"]
    assert (mi.vendor, mi.dense_tflops, mi.fp8_tflops, mi.bandwidth_gb_per_s) == (
        "AMD", 1307.4, 2614.9, 5300)
    assert GPU_SPECS["B200-SXM-180GB"].dense_tflops > h100.dense_tflops
