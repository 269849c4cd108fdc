"""``planner profile`` and :mod:`planner.profiling` on CPU with tiny decoder shapes.

The decoder must do the work a serving engine does: its KV-cache decode path reproduces the
logits of a full causal forward over the same tokens, and both agree with a naive reference
written here from the weights (explicit masks, repeated KV heads, per-token expert loops).
Timings are only checked for being positive and for prefill growing with the prompt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.errors import PlannerError
from planner.cli import profile as profile_cli
from planner.cli.main import app
from planner.inputs_tokens import read_token_profile
from planner.profiling import (
    COLUMNS,
    DecoderShape,
    ProfileRow,
    ProfileRun,
    TorchMissing,
    profile_csv,
    write_profile_csv,
)
from planner.profiling.shape import decode_footprint, decoder_shape, prefill_footprint, weight_bytes

torch = pytest.importorskip("torch")

from planner.profiling import model as m  # needs torch
from planner.profiling import profile_model

DENSE = DecoderShape("tiny", layers=2, hidden=64, intermediate=128, heads=4, kv_heads=2,
                     head_dim=16, vocab=256)
MOE = DecoderShape("tiny-moe", layers=2, hidden=64, intermediate=96, heads=4, kv_heads=2,
                   head_dim=16, vocab=256, experts=4, experts_per_token=2, qkv_bias=True,
                   qk_norm=True, tied_embeddings=True)
GRID = {"prefill_tokens": [8, 32], "decode_batches": [1, 4], "decode_contexts": [16, 48]}
FAST = {"repeats": 2, "warmup": 1, "cpu_threads": 1, "device": "cpu"}
runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# A naive reference decoder over the same weights


def _reference_logits(net: m.Decoder, tokens: torch.Tensor) -> torch.Tensor:
    """Logits of every position of one sequence, computed the slow, obvious way."""
    s = net.shape
    t, d = tokens.shape[0], s.head_dim
    half = d // 2
    x = net.embed[tokens].double()
    pos = torch.arange(t, dtype=torch.float64)
    freq = 1.0 / s.rope_theta ** (torch.arange(half, dtype=torch.float64) * 2 / d)
    angle = pos[:, None] * freq[None, :]  # (t, half)

    def rope(v):  # v: (t, heads, d); pairs (j, j + d/2) rotate by angle j
        a, b = v[..., :half], v[..., half:]
        c, sn = angle.cos()[:, None, :], angle.sin()[:, None, :]
        return torch.cat((a * c - b * sn, a * sn + b * c), dim=-1)

    def norm(v, w):
        return v / torch.sqrt((v * v).mean(-1, keepdim=True) + m.RMS_EPS) * w.double()

    def mlp(v, gate_up, down):
        gate, up = (v @ gate_up.double().T).chunk(2, dim=-1)
        return (gate * torch.sigmoid(gate) * up) @ down.double().T

    mask = torch.full((t, t), float("-inf"), dtype=torch.float64).triu(1)
    for layer in net.layers:
        h = norm(x, layer.attn_norm)
        qkv = h @ layer.qkv.double().T
        if layer.qkv_bias is not None:
            qkv = qkv + layer.qkv_bias.double()
        q = qkv[:, :s.heads * d].reshape(t, s.heads, d)
        k = qkv[:, s.heads * d:(s.heads + s.kv_heads) * d].reshape(t, s.kv_heads, d)
        v = qkv[:, (s.heads + s.kv_heads) * d:].reshape(t, s.kv_heads, d)
        if s.qk_norm:
            q, k = norm(q, layer.q_norm), norm(k, layer.k_norm)
        q, k = rope(q), rope(k)
        heads = []
        for i in range(s.heads):
            j = i // (s.heads // s.kv_heads)
            scores = q[:, i] @ k[:, j].T / d**0.5 + mask
            heads.append(torch.softmax(scores, dim=-1) @ v[:, j])
        x = x + torch.cat(heads, dim=-1) @ layer.o.double().T
        h = norm(x, layer.mlp_norm)
        if s.moe:
            out = torch.zeros_like(h)
            probs = torch.softmax(h @ layer.router.double().T, dim=-1)
            for row in range(t):
                w, chosen = probs[row].topk(s.experts_per_token)
                for weight, e in zip(w / w.sum(), chosen.tolist(), strict=True):
                    out[row] += weight * mlp(h[row:row + 1], layer.gate_up[e], layer.down[e])[0]
            x = x + out
        else:
            x = x + mlp(h, layer.gate_up, layer.down)
    return norm(x, net.final_norm) @ net.lm_head.double().T


def _net(shape: DecoderShape, positions: int = 64) -> m.Decoder:
    # a large init std makes attention far from uniform, so a wrong mask or position shows
    return m.Decoder(shape, device="cpu", dtype=torch.float32, max_positions=positions, seed=3,
                     init_std=0.3)


@pytest.mark.parametrize(("shape", "native_gqa"), [(DENSE, False), (DENSE, True), (MOE, False)],
                         ids=["dense", "dense-enable_gqa", "moe"])
def test_prefill_matches_a_naive_reference(shape: DecoderShape, native_gqa: bool) -> None:
    net = _net(shape)
    if native_gqa:  # the CUDA path (SDPA's enable_gqa), here on the CPU math backend
        if not m._GQA_KWARG:
            pytest.skip("SDPA has no enable_gqa before PyTorch 2.5")
        net.native_gqa = True
    tokens = torch.randint(0, shape.vocab, (12,), generator=torch.Generator().manual_seed(1))
    cache = m.KvCache(shape, max_batch=1, max_context=16, device="cpu", dtype=torch.float32)
    with torch.inference_mode():
        got = net.prefill(tokens, cache)
    want = _reference_logits(net, tokens)[-1:]
    assert got.shape == (1, shape.vocab)
    assert torch.allclose(got.double(), want, rtol=1e-4, atol=1e-4 * want.abs().max())
    assert want.std() > 0.1  # the logits carry signal, not a constant


@pytest.mark.parametrize("shape", [DENSE, MOE], ids=["dense", "moe"])
def test_kv_cache_decode_reproduces_the_full_causal_forward(shape: DecoderShape) -> None:
    """Three sequences prefilled into cache slots, then one decode step each at context c:
    the decode logits equal those of a causal prefill of the c + 1 tokens."""
    net = _net(shape)
    c, b = 10, 3
    seqs = torch.randint(0, shape.vocab, (b, c + 1), generator=torch.Generator().manual_seed(2))
    cache = m.KvCache(shape, max_batch=4, max_context=c + 5, device="cpu", dtype=torch.float32)
    scratch = m.KvCache(shape, max_batch=1, max_context=c + 1, device="cpu",
                        dtype=torch.float32)
    with torch.inference_mode():
        for slot in range(b):
            net.prefill(seqs[slot, :c], cache, slot=slot)
        got = net.decode(seqs[:, c], cache, context=c)
        want = torch.cat([net.prefill(seqs[slot], scratch) for slot in range(b)])
    assert got.shape == (b, shape.vocab)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))
    # and the decode step wrote the new token's keys where the next step will read them
    with torch.inference_mode():
        net.prefill(seqs[0], scratch)
    assert torch.allclose(cache.k(1)[0, :, :c + 1], scratch.k(1)[0, :, :c + 1], atol=1e-5)
    # a wrong context (the cache holds c tokens, not c - 1) gives different logits
    with torch.inference_mode():
        wrong = net.decode(seqs[:, c], cache, context=c - 1)
    assert not torch.allclose(wrong, want, rtol=1e-3, atol=1e-3)


def test_moe_plan_replays_the_recorded_routing() -> None:
    net = _net(MOE)
    tokens = torch.randint(0, MOE.vocab, (20,), generator=torch.Generator().manual_seed(4))
    cache = m.KvCache(MOE, max_batch=1, max_context=20, device="cpu", dtype=torch.float32)
    plan = m.MoePlan()
    with torch.inference_mode():
        eager = net.prefill(tokens, cache, moe=plan)
        assert sorted(plan.counts) == [0, 1]
        assert all(sum(c) == 20 * MOE.experts_per_token for c in plan.counts.values())
        replay = net.prefill(tokens, cache, moe=plan.freeze())
    assert torch.equal(eager, replay)


def test_float16_weights_stay_finite() -> None:
    shape = DecoderShape("wide", layers=4, hidden=256, intermediate=512, heads=8, kv_heads=2,
                         head_dim=32, vocab=512)
    net = m.Decoder(shape, device="cpu", dtype=torch.float16, max_positions=65, seed=0)
    cache = m.KvCache(shape, max_batch=2, max_context=65, device="cpu", dtype=torch.float16)
    with torch.inference_mode():
        assert torch.isfinite(net.prefill(torch.arange(64), cache)).all()
        assert torch.isfinite(net.decode(torch.tensor([1, 2]), cache, context=64)).all()


# ---------------------------------------------------------------------------------------------
# The profile


@pytest.mark.parametrize("shape", [DENSE, MOE], ids=["dense", "moe"])
def test_profile_rows_load_with_read_token_profile(shape: DecoderShape, tmp_path: Path) -> None:
    run = profile_model(shape, **GRID, **FAST)
    assert not run.skipped and run.loadable_problems() == []
    assert [(r.phase, r.batch, r.new_tokens_per_sequence, r.context_tokens) for r in run.rows] \
        == [("prefill", 1, 8, 0), ("prefill", 1, 32, 0), ("decode", 1, 1, 16),
            ("decode", 4, 1, 16), ("decode", 1, 1, 48), ("decode", 4, 1, 48)]
    assert all(0 < r.mean_ms <= r.max_ms for r in run.rows)
    version = torch.__version__.split("+")[0]
    assert {r.method for r in run.rows} == {
        f"pytorch {version} eager CPU (perf_counter, 1 thread), preallocated KV cache, SDPA"}
    assert {(r.gpu, r.dtype, r.model) for r in run.rows} == {(run.gpu, "float32", shape.name)}
    path = write_profile_csv(run.rows, tmp_path / "sub" / "profile.csv")
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    profile = read_token_profile(str(path), shape.name, field_path="designs[0].latency")
    assert list(profile.prefill_tokens) == [8, 32]
    assert list(profile.decode_batches) == [1, 4] and list(profile.decode_contexts) == [16, 48]
    assert profile.decode_measured.all()


def test_csv_has_the_shipped_columns(shared_data: Path) -> None:
    shipped = shared_data / "gpu-profiles" / "h100_llm_token_latency.csv"
    assert shipped.read_text().splitlines()[0] == ",".join(COLUMNS)
    row = ProfileRow("NVIDIA H100 80GB HBM3", "pytorch 2.11 CUDA graph, preallocated KV cache, "
                     "SDPA", "float16", "llama-3-8b", "prefill", 1, 128, 0, 7.51234, 7.6)
    assert profile_csv([row]).splitlines()[1] == (
        'NVIDIA H100 80GB HBM3,"pytorch 2.11 CUDA graph, preallocated KV cache, SDPA",float16,'
        "llama-3-8b,prefill,1,128,0,7.5123,7.6000")


def test_points_that_do_not_fit_are_skipped_and_reported() -> None:
    grid = {**GRID, "prefill_tokens": [8, 16]}
    budget = decode_footprint(DENSE, 4, 48, "float32", "cpu").total - 1
    assert prefill_footprint(DENSE, 16, "float32", "cpu").total < budget
    assert decode_footprint(DENSE, 4, 16, "float32", "cpu").total < budget
    seen: list[tuple[int, int, str]] = []
    run = profile_model(DENSE, **grid, **FAST, memory_budget_bytes=budget,
                        progress=lambda done, total, label: seen.append((done, total, label)))
    assert [(r.phase, r.batch, r.context_tokens) for r in run.rows] == [
        ("prefill", 1, 0), ("prefill", 1, 0), ("decode", 1, 16), ("decode", 4, 16),
        ("decode", 1, 48)]
    assert [(s.phase, s.batch, s.context_tokens) for s in run.skipped] == [("decode", 4, 48)]
    assert "KV cache" in run.skipped[0].reason and "> memory budget" in run.skipped[0].reason
    assert [d for d, _, _ in seen] == list(range(1, 7)) and {t for _, t, _ in seen} == {6}
    assert [label for _, _, label in seen if "skipped" in label] == [
        f"decode batch 4 x context 48: skipped ({run.skipped[0].reason})"]
    assert run.loadable_problems()[-1] == (
        "context(s) [48] have a single batch size; the planner needs two per context")
    weights = weight_bytes(DENSE, "float32")
    # nothing fits: every point reported, no rows, no crash
    tiny = profile_model(DENSE, **GRID, **FAST, memory_budget_bytes=weights / 2)
    assert tiny.rows == [] and len(tiny.skipped) == 6
    assert all(s.reason.startswith("weights ") for s in tiny.skipped)
    assert len(tiny.loadable_problems()) == 2


def test_prefill_time_grows_with_tokens() -> None:
    shape = DecoderShape("mid", layers=2, hidden=256, intermediate=1024, heads=8, kv_heads=2,
                         head_dim=32, vocab=1024)
    run = profile_model(shape, prefill_tokens=[16, 1024], decode_batches=[1],
                        decode_contexts=[16], repeats=3, warmup=1, cpu_threads=1, device="cpu")
    pre = {r.new_tokens_per_sequence: r.mean_ms for r in run.rows if r.phase == "prefill"}
    assert pre[1024] > pre[16] > 0


def test_memory_estimates_grow_with_the_grid() -> None:
    assert prefill_footprint(DENSE, 64, "float16", "cuda").total < \
        prefill_footprint(DENSE, 128, "float16", "cuda").total
    assert decode_footprint(DENSE, 8, 512, "float16", "cuda").kv_cache == \
        2 * 2 * 8 * 2 * 513 * 16 * 2
    assert weight_bytes(DENSE, "float16") == 2 * DENSE.params()
    assert MOE.params() < DecoderShape(**{**MOE.__dict__, "tied_embeddings": False}).params()


def test_decoder_shape_of_every_catalog_model_has_its_parameters() -> None:
    from simulators.core.llm_models import MODEL_SPECS, model_spec

    for spec in MODEL_SPECS.values():
        shape = decoder_shape(spec)
        assert shape.params() == spec.parameters(), spec.name
        assert (shape.heads, shape.experts, shape.qk_norm) == \
            (spec.attention_heads, spec.experts, spec.qk_norm)
    shape = decoder_shape(model_spec("llama-3-8b"))
    assert (shape.layers, shape.hidden, shape.heads, shape.kv_heads, shape.head_dim) == \
        (32, 4096, 32, 8, 128)


def test_bad_arguments_raise_planner_errors() -> None:
    with pytest.raises(PlannerError, match="decode_batches: 0"):
        profile_model(DENSE, prefill_tokens=[8], decode_batches=[0], decode_contexts=[8],
                      device="cpu")
    with pytest.raises(PlannerError, match="dtype 'int8'"):
        profile_model(DENSE, dtype="int8", device="cpu")
    with pytest.raises(PlannerError, match="kv_heads"):
        DecoderShape("odd", layers=1, hidden=8, intermediate=8, heads=3, kv_heads=2,
                     head_dim=4, vocab=8)


# ---------------------------------------------------------------------------------------------
# The command


@pytest.fixture()
def tiny_model(monkeypatch):
    """``--model tiny`` resolves to the dense tiny shape."""
    real = profile_cli.resolve_model

    def resolve(ref: str):
        return DENSE if ref == "tiny" else real(ref)

    monkeypatch.setattr(profile_cli, "resolve_model", resolve)


CLI_GRID = ["--prefill-tokens", "8,16", "--batches", "1,2", "--contexts", "8,16",
            "--repeats", "2", "--warmup", "1", "--device", "cpu", "--cpu-threads", "1"]


def test_cli_writes_a_profile(tiny_model, tmp_path: Path) -> None:
    out = tmp_path / "tiny.csv"
    result = runner.invoke(app, ["profile", "--model", "tiny", "--out", str(out), *CLI_GRID])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 6 rows of tiny" in result.stderr
    assert "[6/6] decode batch 2 x context 16" in result.stderr
    assert "note: measured on the CPU" in result.stderr
    profile = read_token_profile(str(out), "tiny", field_path="x")
    assert list(profile.decode_contexts) == [8, 16]


def test_cli_summary_flags_a_gpu_without_a_datasheet(capsys) -> None:
    row = ProfileRow("NVIDIA GeForce GTX 1080", "m", "float16", "tiny", "prefill", 1, 8, 0, 1.0,
                     1.0)
    run = ProfileRun([row], [], "cuda", row.gpu, "float16", 8 * 1024**3)
    profile_cli._summary(profile_cli.stderr_console(), run, None, 1.0)
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: the gpu column 'NVIDIA GeForce GTX 1080' has no datasheet entry" in err
    run = ProfileRun([row], [], "cuda", "NVIDIA H100 80GB HBM3", "float16", 8 * 1024**3)
    profile_cli._summary(profile_cli.stderr_console(), run, None, 1.0)
    assert "datasheet" not in capsys.readouterr().err


def test_cli_prints_to_stdout_and_reports_skipped_points(tiny_model) -> None:
    budget = decode_footprint(DENSE, 2, 200, "float32", "cpu").total - 1
    assert prefill_footprint(DENSE, 16, "float32", "cpu").total < budget
    result = runner.invoke(app, ["profile", "-m", "tiny", *CLI_GRID, "--contexts", "8,200",
                                 "--memory-budget-gib", f"{budget / 1024**3:.12f}"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 1 + 5
    assert lines[-1].split(",")[-6:-2] == ["decode", "1", "1", "200"]
    assert "skipped 1 grid point(s)" in result.stderr
    assert "decode batch 2 x context 200: weights" in result.stderr
    assert "warning: context(s) [200] have a single batch size" in result.stderr
    quiet = runner.invoke(app, ["profile", "-m", "tiny", *CLI_GRID, "--quiet"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert len(quiet.stdout.splitlines()) == 1 + 6


def test_cli_reads_a_hugging_face_config(tmp_path: Path) -> None:
    config = tmp_path / "tiny-llama" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 256, "tie_word_embeddings": False}))
    try:
        decoder_shape(profile_cli.resolve_model(str(config)))
    except PlannerError:
        pytest.skip("no load_model that reads a config.json path is available yet")
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["profile", "-m", str(config), "--name", "mine", "-o", str(out),
                                 *CLI_GRID, "-q"])
    assert result.exit_code == 0, result.output
    assert read_token_profile(str(out), "mine", field_path="x").model == "mine"


def test_cli_nothing_fits_is_an_error(tiny_model) -> None:
    result = runner.invoke(app, ["profile", "-m", "tiny", *CLI_GRID, "--memory-budget-gib",
                                 "0.000001", "-q"])
    assert result.exit_code == 1
    assert "nothing measured: every grid point of tiny was skipped" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "words"), [
    (["-m", "llama-9-nonexistent"], ["--model", "llama-9-nonexistent", "has no shape"]),
    (["-m", "tiny", "--batches", "1,0"], ["--batches", "0 in '1,0' must be >= 1"]),
    (["-m", "tiny", "--contexts", "512,2k"], ["--contexts", "'2k'", "not a whole number"]),
    (["-m", "tiny", "--prefill-tokens", ""], ["--prefill-tokens", "empty"]),
    (["-m", "tiny", "--prefill-tokens", "-5"], ["--prefill-tokens", "-5"]),
    (["-m", "tiny", "--repeats", "0"], ["--repeats", "0 must be >= 1"]),
    (["-m", "tiny", "--warmup", "-1"], ["--warmup", "-1 must be >= 0"]),
    (["-m", "tiny", "--cpu-threads", "0"], ["--cpu-threads", "0 must be >= 1"]),
    (["-m", "tiny", "--memory-budget-gib", "0"], ["--memory-budget-gib", "must be > 0"]),
    (["-m", "tiny", "--dtype", "int8"], ["--dtype", "int8"]),
    (["-m", "tiny", "--device", "tpu"], ["--device", "tpu"]),
    (["-m", "tiny", "--name", "a,b"], ["--name", "'a,b'", "without commas"]),
    (["-m", "/no/such/config.json"], ["--model", "/no/such/config.json"]),
])
def test_cli_bad_options_are_usage_errors(tiny_model, args: list[str],
                                          words: list[str]) -> None:
    result = runner.invoke(app, ["profile", *args])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.replace("│", " ").split())  # undo the error panel's wrapping
    for word in words:
        assert word in text, text
    assert "Traceback" not in result.output


def test_cli_cuda_without_a_gpu_is_a_usage_error(tiny_model) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    result = runner.invoke(app, ["profile", "-m", "tiny", "--device", "cuda"])
    assert result.exit_code == 2
    assert "sees no CUDA device" in " ".join(result.output.replace("│", " ").split())


def test_cli_without_torch_says_how_to_install_it(tiny_model, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    result = runner.invoke(app, ["profile", "-m", "tiny", *CLI_GRID])
    assert result.exit_code == 1
    assert "pip install 'gpu-planner[profile]'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    with pytest.raises(TorchMissing):
        profile_model(DENSE, device="cpu")
