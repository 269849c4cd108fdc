"""GPU datasheet catalog and GPU name resolution.

:data:`GPU_SPECS` holds, per part, the vendor datasheet numbers the simulators need: memory,
peak memory bandwidth, peak **dense** (no 2:4 sparsity) FP16/BF16 and FP8 tensor throughput,
and the GPU-to-GPU link a tensor-parallel all-reduce uses.  Every number is cited in the
entry's ``source`` (or, for the three entries whose ``source`` text is pinned in golden
outputs, in the comment above the entry).

Conventions, stated once:

- **dense, not sparse.**  Datasheets print FP16/BF16/FP8 figures "with sparsity" (2:4
  structured sparsity, 2x the dense rate); LLM engines run dense GEMMs, so the dense figure
  (half the sparse one) is stored;
- **FP32 accumulate.**  An LLM engine's BF16 (and FP8) GEMMs accumulate in FP32.  Data-center
  and RTX PRO parts run FP32 accumulation at the full tensor rate; GeForce parts (RTX 4090) run
  it at half the FP16-accumulate rate, and the FP32-accumulate figure is the one stored;
- **interconnect per direction.**  ``interconnect_gb_per_s`` is per GPU and per direction
  (NVLink "900 GB/s" is 450 GB/s each way; PCIe 4.0 x16 is 32 GB/s each way).

:func:`resolve_gpu` maps the names people and tools write (catalog rows, ``nvidia-smi``,
short names) to a :data:`GPU_SPECS` key; it refuses names it cannot map with certainty.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from domain.errors import SimulationError


@dataclass(frozen=True)
class GpuSpec:
    """Datasheet numbers of one GPU.

    Attributes
    ----------
    name : str
        Marketing name of the part.
    memory_gib : float
        Device memory as the vendor states it (GB).
    bandwidth_gb_per_s : float
        Peak memory bandwidth (GB/s).
    dense_tflops : float
        Peak dense (no sparsity) FP16/BF16 tensor TFLOP/s, with FP32 accumulate where the vendor
        distinguishes (GeForce parts run it at half the FP16-accumulate rate).
    source : str
        Where the numbers come from.
    fp8_tflops : float or None
        Peak dense FP8 tensor TFLOP/s (FP32 accumulate); None where the part has no FP8 tensor
        cores (A100, A10G).
    interconnect : str
        GPU-to-GPU link used for tensor-parallel all-reduce, e.g. ``"NVLink 4 (900 GB/s)"``.
    interconnect_gb_per_s : float
        That link's bandwidth per GPU and per direction (GB/s).
    vendor : str
        ``"NVIDIA"`` or ``"AMD"``.
    """

    name: str
    memory_gib: float
    bandwidth_gb_per_s: float
    dense_tflops: float
    source: str
    fp8_tflops: float | None = None
    interconnect: str = "PCIe 4.0 x16"
    interconnect_gb_per_s: float = 32.0
    vendor: str = "NVIDIA"


_NVLINK4 = {"interconnect": "NVLink 4 (900 GB/s)", "interconnect_gb_per_s": 450.0}
_NVLINK3 = {"interconnect": "NVLink 3 (600 GB/s)", "interconnect_gb_per_s": 300.0}
_PCIE5 = {"interconnect": "PCIe 5.0 x16", "interconnect_gb_per_s": 64.0}

GPU_SPECS: dict[str, GpuSpec] = {
    # ``source`` pinned in tests/golden/llm-chat.json (the profile derivation quotes it).
    # FP8: H100 datasheet, SXM FP8 tensor 3,958 TFLOPS with sparsity -> 1,979 dense.
    # Interconnect: same datasheet, SXM "NVLink: 900GB/s" (18 NVLink 4 links, both directions).
    "H100-SXM-80GB": GpuSpec(
        "NVIDIA H100 SXM5 80GB", 80, 3350, 989,
        "NVIDIA H100 Tensor Core GPU datasheet (SXM: 3.35 TB/s HBM3; BF16/FP16 tensor 1,979 "
        "TFLOPS with sparsity, 989 dense)",
        fp8_tflops=1979, **_NVLINK4),
    "H100-PCIE-80GB": GpuSpec(
        "NVIDIA H100 PCIe 80GB", 80, 2000, 756.5,
        "NVIDIA H100 Tensor Core GPU datasheet, H100 PCIe column (80 GB HBM2e, 2 TB/s; "
        "BF16/FP16 tensor 1,513 TFLOPS with sparsity, 756.5 dense; FP8 3,026 with sparsity, "
        "1,513 dense; PCIe Gen5 128 GB/s = 64 GB/s each way; the optional 600 GB/s NVLink "
        "bridge pairs two cards and is not assumed) and NVIDIA H100 PCIe product brief "
        "PB-11133-001 (memory bandwidth over 2,000 GB/s)",
        fp8_tflops=1513, **_PCIE5),
    "H200-SXM-141GB": GpuSpec(
        "NVIDIA H200 SXM 141GB", 141, 4800, 989,
        "NVIDIA H200 Tensor Core GPU datasheet (SXM: 4.8 TB/s HBM3e; BF16/FP16 tensor 1,979 "
        "TFLOPS with sparsity, 989 dense; FP8 3,958 with sparsity, 1,979 dense; NVLink 900 "
        "GB/s = 450 GB/s each way)",
        fp8_tflops=1979, **_NVLINK4),
    "B200-SXM-180GB": GpuSpec(
        "NVIDIA B200 SXM 180GB (HGX/DGX B200)", 180, 8000, 2250,
        "NVIDIA DGX B200 datasheet (8 GPUs: 1,440 GB HBM3e = 180 GB per GPU, 64 TB/s = 8 TB/s "
        "per GPU; NVLink 5 14.4 TB/s aggregate = 1.8 TB/s per GPU, 900 GB/s each way) and HGX "
        "B200 datasheet (8 GPUs: FP16/BF16 tensor 36 PFLOPS and FP8 72 PFLOPS with sparsity = "
        "2,250 and 4,500 TFLOPS dense per GPU, 1,000 W part; the B200 die carries 192 GB, "
        "180 GB usable in HGX/DGX)",
        fp8_tflops=4500, interconnect="NVLink 5 (1.8 TB/s)", interconnect_gb_per_s=900.0),
    "A100-SXM-80GB": GpuSpec(
        "NVIDIA A100 SXM4 80GB", 80, 2039, 312,
        "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM: 2,039 GB/s HBM2e; BF16/FP16 tensor "
        "312 TFLOPS dense, 624 with sparsity; no FP8; NVLink 600 GB/s = 300 GB/s each way)",
        **_NVLINK3),
    # ``source`` pinned in tests/golden/llm-chat.json.  No FP8 tensor cores (Ampere).
    # Interconnect: A100 datasheet, SXM "NVIDIA NVLink: 600GB/s" (12 NVLink 3 links).
    "A100-SXM-40GB": GpuSpec(
        "NVIDIA A100 SXM4 40GB", 40, 1555, 312,
        "NVIDIA A100 Tensor Core GPU datasheet (40GB: 1,555 GB/s HBM2; BF16/FP16 tensor 312 "
        "TFLOPS dense)",
        **_NVLINK3),
    "L40S-48GB": GpuSpec(
        "NVIDIA L40S 48GB", 48, 864, 362,
        "NVIDIA L40S datasheet (864 GB/s GDDR6; BF16/FP16 tensor 362.05 TFLOPS dense, 733 "
        "with sparsity; FP8 1,466 with sparsity, 733 dense; PCIe Gen4 x16 64 GB/s = 32 each "
        "way, no NVLink)",
        fp8_tflops=733),
    # ``source`` pinned in tests/golden/llm-chat.json.
    # FP8: L4 datasheet, FP8 tensor 485 TFLOPS with sparsity -> 242.5 dense.
    # Interconnect: same datasheet, PCIe Gen4 x16 64 GB/s (32 each way), no NVLink.
    "L4-24GB": GpuSpec(
        "NVIDIA L4 24GB", 24, 300, 121,
        "NVIDIA L4 Tensor Core GPU datasheet (300 GB/s GDDR6; FP16/BF16 tensor 242 TFLOPS "
        "with sparsity, 121 dense)",
        fp8_tflops=242.5),
    "RTXPRO6000-96GB": GpuSpec(
        "NVIDIA RTX PRO 6000 Blackwell 96GB", 96, 1792, 504,
        "NVIDIA RTX PRO 6000 Blackwell datasheet and RTX Blackwell architecture whitepaper "
        "(96 GB GDDR7, 512-bit at 28 Gbps: 1,792 GB/s; FP16/BF16 tensor with FP32 accumulate "
        "503.8 TFLOPS dense, 1,007.6 with sparsity; FP8 with FP32 accumulate 1,007.6 dense, "
        "twice BF16 as on every Blackwell tensor core, matching the datasheet's ~4,000 FP4 AI "
        "TOPS with sparsity; PCIe Gen5 x16 = 64 GB/s each way, no NVLink)",
        fp8_tflops=1007.6, **_PCIE5),
    "RTX4090-24GB": GpuSpec(
        "NVIDIA GeForce RTX 4090 24GB", 24, 1008, 165.2,
        "NVIDIA Ada GPU architecture whitepaper, RTX 4090 table (24 GB GDDR6X, 384-bit at 21 "
        "Gbps: 1,008 GB/s; peak FP16 tensor with FP16 accumulate 330.3 dense / 660.6 sparse, "
        "with FP32 accumulate 165.2 / 330.4, BF16 (FP32 accumulate) 165.2 / 330.4: GeForce "
        "runs FP32 accumulation at half rate, and an LLM engine's bf16 GEMMs accumulate in "
        "FP32, so 165.2 is stored; FP8 660.6 dense with FP16 accumulate, 330.3 with FP32 "
        "accumulate (half rate, as for BF16) is stored; PCIe Gen4 x16 = 32 GB/s each way, no "
        "NVLink)",
        fp8_tflops=330.3),
    "A10G-24GB": GpuSpec(
        "NVIDIA A10G 24GB (AWS G5)", 24, 600, 70,
        "NVIDIA publishes no A10G datasheet: 24 GB GDDR6 at 600 GB/s as the A10 datasheet and "
        "AWS G5 documentation state; ~70 TFLOPS dense FP16 tensor per Baseten, 'NVIDIA A10 vs "
        "A10G for ML model inference' (the A10 itself: 125 TFLOPS dense; A10G FP32 31.2 "
        "TFLOPS); Ampere: no FP8; PCIe Gen4 x16 = 32 GB/s each way, no NVLink on G5"),
    "MI300X-192GB": GpuSpec(
        "AMD Instinct MI300X 192GB", 192, 5300, 1307.4,
        "AMD Instinct MI300X accelerator datasheet and CDNA 3 architecture whitepaper (192 GB "
        "HBM3, 5.3 TB/s; peak BF16/FP16 matrix 1,307.4 TFLOPS dense, 2,614.9 with sparsity; "
        "FP8 2,614.9 dense, 5,229.8 with sparsity; 7 Infinity Fabric links of 128 GB/s "
        "(64 GB/s each way) fully connecting 8 OAM GPUs: 7 x 64 = 448 GB/s each way per GPU, "
        "896 GB/s aggregate both ways)",
        fp8_tflops=2614.9, interconnect="Infinity Fabric (7 x 128 GB/s links)",
        interconnect_gb_per_s=448.0, vendor="AMD"),
}

# Name resolution ------------------------------------------------------------------------------

# family code (upper case, no spaces/dashes/underscores, vendor words and form stripped) -> keys
_GPU_FAMILIES: dict[str, tuple[str, ...]] = {
    "H100": ("H100-SXM-80GB", "H100-PCIE-80GB"),
    "H200": ("H200-SXM-141GB",),
    "B200": ("B200-SXM-180GB",),
    "A100": ("A100-SXM-80GB", "A100-SXM-40GB"),
    "A10G": ("A10G-24GB",),
    "L4": ("L4-24GB",),
    "L40S": ("L40S-48GB",),
    "RTX4090": ("RTX4090-24GB",),
    "RTXPRO6000": ("RTXPRO6000-96GB",),
    "MI300X": ("MI300X-192GB",),
}

# board form of the keys that come in several ("SXM" or "PCIE"); a bare family name means SXM
_FORMS: dict[str, str] = {
    "H100-SXM-80GB": "SXM", "H100-PCIE-80GB": "PCIE", "H200-SXM-141GB": "SXM",
    "B200-SXM-180GB": "SXM", "A100-SXM-80GB": "SXM", "A100-SXM-40GB": "SXM",
}

# the name each key goes by in price catalogs, for messages (first: 'NVIDIA H100')
_KNOWN_NAMES: dict[str, str] = {
    "H100-SXM-80GB": "NVIDIA H100", "H100-PCIE-80GB": "NVIDIA H100 PCIe",
    "H200-SXM-141GB": "NVIDIA H200", "B200-SXM-180GB": "NVIDIA B200",
    "A100-SXM-80GB": "NVIDIA A100 80GB", "A100-SXM-40GB": "NVIDIA A100 40GB",
    "L40S-48GB": "NVIDIA L40S", "L4-24GB": "NVIDIA L4",
    "RTXPRO6000-96GB": "NVIDIA RTX PRO 6000 Blackwell", "RTX4090-24GB": "NVIDIA GeForce RTX 4090",
    "A10G-24GB": "NVIDIA A10G", "MI300X-192GB": "AMD Instinct MI300X",
}

# words that name the vendor, product line, memory type or edition and nothing else
_NOISE = ("NVIDIA", "GEFORCE", "TESLA", "AMD", "INSTINCT", "TENSORCOREGPU", "HBM3E", "HBM3",
          "HBM2E", "HBM2", "GDDR6X", "GDDR6", "GDDR7", "BLACKWELL", "SERVEREDITION",
          "WORKSTATIONEDITION", "OAM")
_MEMORY = re.compile(r"(?<![A-Z0-9.])(\d+(?:\.\d+)?)\s*GI?B(?![A-Z0-9])")
_SXM = re.compile(r"SXM\d?")
_PCIE = re.compile(r"PCIE(?:GEN)?\d?(?:\.\d)?")
_TOLERANCE = 0.1  # a stated memory must be within 10 % of the datasheet's


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_]+", "", text.upper())


_SQUASHED_KEYS = {_squash(k): k for k in GPU_SPECS}


def resolve_gpu(name: str, memory_gib: float | None = None) -> str:
    """Return the :data:`GPU_SPECS` key of the GPU called ``name``.

    Parameters
    ----------
    name : str
        A key (``"H100-SXM-80GB"``), a short name (``"H200"``, ``"RTX 4090"``, ``"A100 40GB"``)
        or a vendor name as ``nvidia-smi`` and price catalogs print it (``"NVIDIA H100 80GB
        HBM3"``, ``"NVIDIA A100-SXM4-40GB"``, ``"AMD Instinct MI300X"``).  Case, spaces, dashes
        and underscores are ignored, and so is a parenthesised suffix (``"(A3 Mega)"``).
        A bare ``"H100"``/``"H200"`` is the SXM part (the cloud norm); ``"H100 PCIe"`` the PCIe
        one.
    memory_gib : float, optional
        Device memory (GB); picks the variant (A100 40 or 80 GB) and must agree within 10 %
        with the datasheet and with a size written in ``name``.

    Returns
    -------
    str
        The :data:`GPU_SPECS` key.

    Raises
    ------
    SimulationError
        Unknown names (with a did-you-mean and the known names), NVL parts (H100 NVL, 94 GB,
        is a different part from the SXM), an ambiguous family without memory, or a memory that
        matches no variant.
    """
    return _resolve(name, memory_gib, "memory_gib")


def gpu_key(gpu_model: str, gpu_memory_gib: float | None = None) -> str:
    """Return the :data:`GPU_SPECS` key of a catalog GPU (``gpu_model``, ``gpu_memory_gib``).

    :func:`resolve_gpu` under the price catalog's column names: accepts the catalog's names
    (``"NVIDIA H100"``, ``"NVIDIA A100 40GB"``, ``"NVIDIA H100 80GB (A3 Mega)"``) and the
    profile's (``"NVIDIA H100 80GB HBM3"``).  The memory picks the variant (A100 40 or 80 GB)
    and must match the datasheet within 10 %: an H100 NVL (94 GB) is a different part with other
    bandwidth and is refused rather than mistaken for the SXM.
    """
    return _resolve(gpu_model, gpu_memory_gib, "gpu_memory_gib")


def _resolve(name: str, memory: float | None, memory_arg: str) -> str:
    text = str(name)
    if memory is not None and math.isnan(float(memory)):  # NaN: a catalog's missing memory
        memory = None
    squashed = _squash(text)
    if squashed in _SQUASHED_KEYS:
        key = _SQUASHED_KEYS[squashed]
        if memory is not None and not _close(float(memory), GPU_SPECS[key].memory_gib):
            raise SimulationError(
                f"GPU {text!r} has {GPU_SPECS[key].memory_gib:g} GB but {memory_arg}={memory} "
                f"matches no known variant; fix the memory or the name")
        return key
    upper = re.sub(r"\(.*?\)", " ", text.upper())  # "(A3 Mega)", "(AWS G5)"
    sizes = [float(m) for m in _MEMORY.findall(upper)]
    rest = _squash(_MEMORY.sub(" ", upper))
    for word in _NOISE:
        rest = rest.replace(word, "")
    form = None
    if _SXM.search(rest):
        form, rest = "SXM", _SXM.sub("", rest)
    if _PCIE.search(rest):
        form, rest = "PCIE", _PCIE.sub("", rest)
    nvl = "NVL" in rest
    family = rest.replace("NVL", "")
    if family not in _GPU_FAMILIES:
        raise SimulationError(_unknown(text, family))
    if nvl:
        detail = (" (94 GB HBM3 at 3.9 TB/s, other tensor peaks, against the SXM's 80 GB at "
                  "3.35 TB/s)" if family == "H100" else "")
        raise SimulationError(
            f"GPU {text!r} matches no known variant: the {family} NVL is a different part"
            f"{detail} from the {family} in GPU_SPECS, refused rather than mistaken for it; "
            f"{_how_to_add()}")
    stated = sizes[0] if sizes else None
    if memory is not None and stated is not None and not _close(float(memory), stated):
        raise SimulationError(
            f"GPU {text!r} names {stated:g} GB but {memory_arg}={memory}; fix one of them")
    mem = stated if stated is not None else (None if memory is None else float(memory))
    keys = _GPU_FAMILIES[family]
    formed = [k for k in keys if k in _FORMS]
    if form is not None and formed:
        keys = tuple(k for k in keys if _FORMS.get(k) == form)
        if not keys:
            raise SimulationError(
                f"GPU {text!r} matches no known variant: GPU_SPECS has the {family} only as "
                f"{', '.join(formed)} (other boards have other bandwidth); {_how_to_add()}")
    elif form is None and any(_FORMS.get(k) == "SXM" for k in keys):
        keys = tuple(k for k in keys if _FORMS.get(k, "SXM") == "SXM")
    sizes_known = ", ".join(f"{GPU_SPECS[k].memory_gib:g} GB: {k}" for k in keys)
    if mem is None:
        if len(keys) > 1:
            raise SimulationError(
                f"GPU {text!r} comes in several variants ({sizes_known}); pass {memory_arg} to "
                f"choose one, or name the size (e.g. '{family} "
                f"{GPU_SPECS[keys[-1]].memory_gib:g}GB')")
        return keys[0]
    matches = [k for k in keys if _close(mem, GPU_SPECS[k].memory_gib)]
    if not matches:
        hint = (" (an H100 NVL, 94 GB, or a GH200's H100, 96 GB, is a different part from the "
                "80 GB SXM and is refused rather than mistaken for it)"
                if family == "H100" and mem > 80 else "")
        raise SimulationError(
            f"GPU {text!r} with {mem:g} GB matches no known variant (known sizes: "
            f"{sizes_known}){hint}; fix the memory, or {_how_to_add()}")
    return matches[0]


def _close(memory: float, datasheet: float) -> bool:
    return abs(memory - datasheet) <= _TOLERANCE * datasheet


def _known() -> str:
    return ", ".join(f"'{_KNOWN_NAMES[k]}' ({k})" for k in GPU_SPECS)


def _how_to_add() -> str:
    return ("to add a GPU, put a GpuSpec with its datasheet numbers and cited sources in "
            "simulators.core.gpus.GPU_SPECS, its family code in _GPU_FAMILIES and its catalog "
            "name in _KNOWN_NAMES")


def _unknown(text: str, family: str) -> str:
    choices = {**{f: keys[0] for f, keys in _GPU_FAMILIES.items()}, **_SQUASHED_KEYS}
    close = difflib.get_close_matches(family, list(choices), n=3, cutoff=0.6)
    names = list(dict.fromkeys(f"'{_KNOWN_NAMES[choices[c]]}'" for c in close))
    guess = f" (did you mean {' or '.join(names)}?)" if names else ""
    return (f"GPU {text!r} has no datasheet entry in GPU_SPECS{guess}; known: {_known()}; "
            f"{_how_to_add()}")


__all__ = ["GPU_SPECS", "GpuSpec", "gpu_key", "resolve_gpu"]
