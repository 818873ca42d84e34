"""Frame folders -> flow folders: a known motion through every method, quantisation, bad input, parallel = serial."""
import os

import cv2
import numpy as np
import pytest

from src.data.jobs import PARTIAL_SUFFIX
from src.data.layout import decode_flow, encode_flow, flow_frame_names, read_n_frames, rgb_frame_name
from src.data.optical_flow import FLOW_METHODS, create_flow_method, extract_flow_tree
from src.tools import extract_flow

H, W, SHIFT = 48, 64, 3
BORDER = 8  # content enters at the left edge; flow there is a guess
# Mean |error| of the stored flow (after quantisation and two JPEGs) inside the border, in pixels. On this texture
# all four reach 0.06-0.07; the margins allow for OpenCV builds that round differently.
TOLERANCE = {"tvl1": 0.25, "tvl1_fast": 0.25, "dis": 0.4, "farneback": 0.4}


def sliding_texture(n_frames, seed=0):
    """Grayscale frames of blurred noise moving SHIFT pixels right per frame (frame k+1(x) = frame k(x - SHIFT))."""
    rng = np.random.default_rng(seed)
    margin = SHIFT * n_frames
    wide = cv2.GaussianBlur(rng.uniform(0, 255, (H, W + margin)).astype(np.float32), (0, 0), 2)
    wide = cv2.normalize(wide, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return [wide[:, margin - SHIFT * k:margin - SHIFT * k + W] for k in range(n_frames)]


def write_frame_folder(folder, frames):
    os.makedirs(folder)
    for index, frame in enumerate(frames, start=1):
        cv2.imwrite(os.path.join(folder, rgb_frame_name(index)), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])


def read_flow(folder, index):
    """(x, y) in pixels of stored pair `index`."""
    return [decode_flow(cv2.imread(os.path.join(folder, name), cv2.IMREAD_GRAYSCALE))
            for name in flow_frame_names(index)]


@pytest.mark.parametrize("method", list(FLOW_METHODS))
def test_a_known_translation_is_stored_as_that_flow(tmp_path, method):
    write_frame_folder(tmp_path / "frames" / "slide" / "v", sliding_texture(3))

    report = extract_flow_tree(str(tmp_path / "frames"), str(tmp_path / "flow"), method=method, workers=1)

    assert report.ok and len(report.written) == 1
    folder = tmp_path / "flow" / "slide" / "v"
    assert sorted(os.listdir(folder)) == sorted([*flow_frame_names(1), *flow_frame_names(2), "n_frames"])
    assert read_n_frames(str(folder)) == 2  # pairs, not frames
    for index in (1, 2):
        x, y = (c[BORDER:-BORDER, BORDER:-BORDER] for c in read_flow(str(folder), index))
        assert np.abs(x - SHIFT).mean() < TOLERANCE[method], (method, index, np.median(x))
        assert np.abs(y).mean() < TOLERANCE[method], (method, index, np.median(y))


class ConstantFlow:
    """A stand-in flow method with a known output, to test what the pipeline does with it."""

    def calc(self, prev, nxt, flow):
        out = np.empty(prev.shape + (2,), np.float32)
        out[..., 0], out[..., 1] = 30.0, -7.5
        return out


def test_flow_is_clipped_to_20_pixels_and_quantised_to_8_bits(tmp_path, monkeypatch):
    monkeypatch.setitem(FLOW_METHODS, "constant", ConstantFlow)
    write_frame_folder(tmp_path / "frames" / "c" / "v", sliding_texture(2))

    extract_flow_tree(str(tmp_path / "frames"), str(tmp_path / "flow"), method="constant", workers=1)

    names = flow_frame_names(1)
    x, y = (cv2.imread(str(tmp_path / "flow" / "c" / "v" / name), cv2.IMREAD_GRAYSCALE) for name in names)
    assert (x == 255).all()  # +30 clipped to +20
    assert (y == 80).all()  # round((-7.5 + 20) * 255 / 40) = round(79.69)
    assert np.allclose(decode_flow(np.array([0, 80, 128, 255], np.uint8)), [-20.0, -7.451, 0.078, 20.0], atol=1e-3)
    assert encode_flow(np.array([-25.0, -20.0, 0.0, SHIFT, 20.0, 25.0])).tolist() == [0, 0, 128, 147, 255, 255]


def test_bad_frame_folders_are_named_in_the_summary_and_fail_the_run(tmp_path, capsys):
    frames = tmp_path / "frames"
    write_frame_folder(frames / "c" / "good", sliding_texture(2))
    write_frame_folder(frames / "c" / "one_frame", sliding_texture(1))
    write_frame_folder(frames / "c" / "gap", sliding_texture(3))
    os.remove(frames / "c" / "gap" / rgb_frame_name(2))
    write_frame_folder(frames / "c" / ("killed" + PARTIAL_SUFFIX), sliding_texture(2))
    (frames / "empty_class").mkdir()

    status = extract_flow.main([str(frames), str(tmp_path / "flow"), "--method", "dis", "--workers", "1"])

    out = capsys.readouterr().out
    assert status == 1
    assert "flow (dis): 1 written, 0 already done, 4 problem(s)" in out
    assert f"{frames / 'c' / 'one_frame'}: 1 frame(s); optical flow needs at least 2" in out
    assert f"{frames / 'c' / 'gap'}: rgb frames are not contiguous" in out
    assert f"{frames / 'c' / ('killed' + PARTIAL_SUFFIX)}: unfinished (left by an interrupted run)" in out
    assert f"{frames / 'empty_class'}: class folder holds no video folders" in out
    assert os.listdir(tmp_path / "flow" / "c") == ["good"]


def test_an_unknown_method_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown flow method 'raft'.*tvl1, tvl1_fast, dis, farneback"):
        create_flow_method("raft")
    with pytest.raises(ValueError, match="raft"):
        extract_flow_tree(str(tmp_path), str(tmp_path / "flow"), method="raft")


def test_two_workers_write_the_same_flow_as_one_and_a_rerun_skips_them(tmp_path):
    for seed, name in enumerate(("a", "b", "c")):
        write_frame_folder(tmp_path / "frames" / "slide" / name, sliding_texture(3, seed))

    serial = extract_flow_tree(str(tmp_path / "frames"), str(tmp_path / "serial"), workers=1)
    parallel = extract_flow_tree(str(tmp_path / "frames"), str(tmp_path / "parallel"), workers=2)
    again = extract_flow_tree(str(tmp_path / "frames"), str(tmp_path / "parallel"), workers=2)

    assert serial.ok and parallel.ok and len(parallel.written) == 3
    assert again.written == [] and len(again.already_done) == 3
    for name in ("a", "b", "c"):
        one, two = tmp_path / "serial" / "slide" / name, tmp_path / "parallel" / "slide" / name
        assert sorted(os.listdir(one)) == sorted(os.listdir(two))
        for file_name in os.listdir(one):
            assert (one / file_name).read_bytes() == (two / file_name).read_bytes(), file_name

