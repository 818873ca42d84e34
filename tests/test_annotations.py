"""HMDB51 / UCF101 annotation JSONs and n_frames files from the upstream split formats and real frame folders."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from src.data.annotations import (FrameFolderError, build_hmdb51_annotation, build_ucf101_annotation, count_frames,
                                  read_ucf101_class_index, write_annotation, write_n_frames_tree)
from src.data.layout import PARTIAL_SUFFIX, N_FRAMES_FILE, flow_frame_names, read_n_frames, rgb_frame_name
from src.tools import generate_n_frames, hmdb51_json, ucf101_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_JPEG = cv2.imencode(".jpg", np.full((4, 4, 3), 128, np.uint8))[1].tobytes()


def make_frames(video_dir, indices, mode="rgb", skip_y=()):
    """Tiny JPEG frames of `indices` in `video_dir` (flow: an x and a y file each, except the y of `skip_y`)."""
    os.makedirs(video_dir, exist_ok=True)
    for index in indices:
        names = [rgb_frame_name(index)] if mode == "rgb" else list(flow_frame_names(index))
        if index in skip_y:
            names = names[:1]
        for name in names:
            with open(os.path.join(video_dir, name), "wb") as f:
                f.write(TINY_JPEG)


def write_text(path, text, newline="\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline=newline) as f:
        f.write(text)


# HMDB51's own names: 'sword' and 'sword_exercise' sort differently as labels than as split file names.
HMDB_VIDEOS = {  # class: [(video stem, frames, split-1 id)]
    "brush_hair": [("April_09_brush_hair_u_nm_np1_ba_goo_0", 3, 1), ("Brushing_Hair_h_nm_np2_le_goo_1", 5, 2),
                   ("Brush_my_hair_u_nm_np1_fr_med_2", 4, 0)],
    "sword": [("Sword_Fight_f_cm_np2_ri_bad_0", 6, 2), ("Sword_Fight_f_cm_np2_le_bad_1", 2, 1)],
    "sword_exercise": [("Kata_sword_exercise_f_cm_np1_fr_med_0", 7, 1)],
}


@pytest.fixture
def hmdb(tmp_path):
    """An HMDB51 split dir (split k swaps ids 1 and 2 for k = 2; split 3 = split 1) and its RGB frame tree."""
    split_dir, frames = str(tmp_path / "splits"), str(tmp_path / "frames")
    for label, videos in HMDB_VIDEOS.items():
        for stem, n, _ in videos:
            make_frames(os.path.join(frames, label, stem), range(1, n + 1))
        for split in (1, 2, 3):
            swap = {1: 2, 2: 1, 0: 0} if split == 2 else {1: 1, 2: 2, 0: 0}
            lines = "".join(f"{stem}.avi {swap[sid]} \n" for stem, _, sid in videos)  # upstream's trailing space
            write_text(os.path.join(split_dir, f"{label}_test_split{split}.txt"), lines)
    return split_dir, frames


def test_hmdb51_labels_subsets_and_segments_from_frame_folders(hmdb):
    data, problems = build_hmdb51_annotation(*hmdb, split=1)
    assert problems == []
    assert data["labels"] == ["brush_hair", "sword", "sword_exercise"]
    assert data["database"] == {
        "April_09_brush_hair_u_nm_np1_ba_goo_0": {"subset": "training",
                                                  "annotations": {"label": "brush_hair", "segment": [1, 4]}},
        "Brushing_Hair_h_nm_np2_le_goo_1": {"subset": "validation",
                                            "annotations": {"label": "brush_hair", "segment": [1, 6]}},
        "Kata_sword_exercise_f_cm_np1_fr_med_0": {"subset": "training",
                                                  "annotations": {"label": "sword_exercise", "segment": [1, 8]}},
        "Sword_Fight_f_cm_np2_le_bad_1": {"subset": "training", "annotations": {"label": "sword", "segment": [1, 3]}},
        "Sword_Fight_f_cm_np2_ri_bad_0": {"subset": "validation",
                                          "annotations": {"label": "sword", "segment": [1, 7]}},
    }
    assert "Brush_my_hair_u_nm_np1_fr_med_2" not in data["database"]  # id 0: not used by the split
    assert list(data["database"]) == sorted(data["database"])


def test_hmdb51_tool_writes_all_three_splits_and_they_round_trip(hmdb, tmp_path, capsys):
    out = str(tmp_path / "json")
    assert hmdb51_json.main([*hmdb, out]) == 0
    assert sorted(os.listdir(out)) == ["hmdb51_1.json", "hmdb51_2.json", "hmdb51_3.json"]
    for split in (1, 2, 3):
        with open(os.path.join(out, f"hmdb51_{split}.json")) as f:
            written = json.load(f)
        assert written == build_hmdb51_annotation(*hmdb, split=split)[0]
        assert list(written) == ["labels", "database"]
    with open(os.path.join(out, "hmdb51_2.json")) as f:
        split2 = json.load(f)["database"]
    assert split2["April_09_brush_hair_u_nm_np1_ba_goo_0"]["subset"] == "validation"
    assert split2["Sword_Fight_f_cm_np2_ri_bad_0"]["subset"] == "training"
    assert "no problems found" in capsys.readouterr().out


def test_hmdb51_splits_option_writes_only_those(hmdb, tmp_path):
    out = str(tmp_path / "json")
    assert hmdb51_json.main([*hmdb, out, "--splits", "2"]) == 0
    assert os.listdir(out) == ["hmdb51_2.json"]


def test_hmdb51_bad_inputs_are_reported_and_nothing_is_dropped_silently(hmdb, tmp_path, capsys):
    split_dir, frames = hmdb
    bad_file = os.path.join(split_dir, "brush_hair_test_split1.txt")
    write_text(bad_file, "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1\n"
                         "Brushing_Hair_h_nm_np2_le_goo_1.avi\n"      # line 2: no id
                         "Not_Extracted_0.avi 1\n"                     # line 3: no frame folder
                         "Empty_Folder_0.avi 2\n"                      # line 4: a folder without frames
                         "Gappy_0.avi 1\n")                            # line 5: frame 2 missing
    os.makedirs(os.path.join(frames, "brush_hair", "Empty_Folder_0"))
    make_frames(os.path.join(frames, "brush_hair", "Gappy_0"), [1, 3])
    write_text(os.path.join(split_dir, "cartwheel_test_split1.txt"), "Cartwheel_0.avi 1\nCartwheel_1.avi 2\n")
    write_text(os.path.join(split_dir, "pour_test_split1.txt"), "Pour_0.avi 0\n")
    data, problems = build_hmdb51_annotation(split_dir, frames, 1)
    assert data["labels"] == ["brush_hair", "cartwheel", "pour", "sword", "sword_exercise"]
    assert "April_09_brush_hair_u_nm_np1_ba_goo_0" in data["database"]
    assert len(data["database"]) == 4
    expected = [
        (f"{bad_file}:2:", "expected '<video>.avi <0|1|2>'"),
        (f"{bad_file}:3:", os.path.join(frames, "brush_hair", "Not_Extracted_0") + ": frame folder not found"),
        (f"{bad_file}:4:", "Empty_Folder_0: no rgb frames"),
        (f"{bad_file}:5:", "not contiguous 1..3: 1 missing (image_00002.jpg)"),
        (os.path.join(split_dir, "cartwheel_test_split1.txt"), "its 2 videos are left out"),
        (os.path.join(split_dir, "pour_test_split1.txt"), "lists no training or validation video"),
    ]
    assert len(problems) == len(expected)
    for problem, (start, detail) in zip(problems, expected):
        assert problem.startswith(start) and detail in problem, problem

    assert hmdb51_json.main([split_dir, frames, str(tmp_path / "json"), "--splits", "1"]) == 1
    err = capsys.readouterr().err
    assert "6 problem(s)" in err and "FAILED" in err and f"{bad_file}:3:" in err
    with open(tmp_path / "json" / "hmdb51_1.json") as f:
        assert json.load(f) == data  # still written, without the affected videos


def test_hmdb51_duplicate_video_and_missing_inputs(hmdb, tmp_path):
    split_dir, frames = hmdb
    sword_file = os.path.join(split_dir, "sword_test_split1.txt")
    write_text(sword_file, "Sword_Fight_f_cm_np2_ri_bad_0.avi 1\nSword_Fight_f_cm_np2_ri_bad_0.avi 2\n")
    data, problems = build_hmdb51_annotation(split_dir, frames, 1)
    assert data["database"]["Sword_Fight_f_cm_np2_ri_bad_0"]["subset"] == "training"
    assert problems == [f"{sword_file}:2: video 'Sword_Fight_f_cm_np2_ri_bad_0' is listed twice "
                        f"(first at {sword_file}:1); the second is left out"]
    with pytest.raises(FileNotFoundError, match="no HMDB51 split files <class>_test_split1.txt"):
        build_hmdb51_annotation(str(tmp_path), frames, 1)
    with pytest.raises(FileNotFoundError, match="nowhere: RGB frame tree not found"):
        build_hmdb51_annotation(split_dir, str(tmp_path / "nowhere"), 1)
    with pytest.raises(ValueError, match="split must be 1, 2 or 3"):
        build_hmdb51_annotation(split_dir, frames, 4)


@pytest.fixture
def ucf(tmp_path):
    """A UCF101 split dir in the official CRLF files, with a class order that is not alphabetical."""
    split_dir, frames = str(tmp_path / "ucfTrainTestlist"), str(tmp_path / "frames")
    write_text(os.path.join(split_dir, "classInd.txt"), "1 YoYo\n2 ApplyEyeMakeup\n3 HandstandPushups\n",
               newline="\r\n")
    videos = {"YoYo": ["v_YoYo_g01_c01", "v_YoYo_g08_c01"], "ApplyEyeMakeup": ["v_ApplyEyeMakeup_g01_c01"],
              "HandstandPushups": ["v_HandStandPushups_g08_c02"]}  # the real folder/file spelling mismatch
    for n, (label, stems) in enumerate(videos.items(), start=2):
        for stem in stems:
            make_frames(os.path.join(frames, label, stem), range(1, n + 1))
    for split in (1, 2, 3):
        write_text(os.path.join(split_dir, f"trainlist0{split}.txt"),
                   "YoYo/v_YoYo_g08_c01.avi 1\nHandstandPushups/v_HandStandPushups_g08_c02.avi 3\n", newline="\r\n")
        write_text(os.path.join(split_dir, f"testlist0{split}.txt"),
                   "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nYoYo/v_YoYo_g01_c01.avi\n", newline="\r\n")
    return split_dir, frames


def test_ucf101_labels_in_class_index_order_and_subsets(ucf):
    data, problems = build_ucf101_annotation(*ucf, split=1)
    assert problems == []
    assert data["labels"] == ["YoYo", "ApplyEyeMakeup", "HandstandPushups"]
    assert data["database"] == {
        "v_ApplyEyeMakeup_g01_c01": {"subset": "validation",
                                     "annotations": {"label": "ApplyEyeMakeup", "segment": [1, 4]}},
        "v_HandStandPushups_g08_c02": {"subset": "training",
                                       "annotations": {"label": "HandstandPushups", "segment": [1, 5]}},
        "v_YoYo_g01_c01": {"subset": "validation", "annotations": {"label": "YoYo", "segment": [1, 3]}},
        "v_YoYo_g08_c01": {"subset": "training", "annotations": {"label": "YoYo", "segment": [1, 3]}},
    }


def test_ucf101_tool_writes_all_three_splits(ucf, tmp_path):
    out = str(tmp_path / "json")
    assert ucf101_json.main([*ucf, out]) == 0
    assert sorted(os.listdir(out)) == ["ucf101_01.json", "ucf101_02.json", "ucf101_03.json"]
    with open(os.path.join(out, "ucf101_03.json")) as f:
        assert json.load(f) == build_ucf101_annotation(*ucf, split=3)[0]


def test_ucf101_bad_lines_are_reported_with_file_and_line(ucf, tmp_path, capsys):
    split_dir, frames = ucf
    train = os.path.join(split_dir, "trainlist01.txt")
    write_text(train, "YoYo/v_YoYo_g08_c01.avi 1\n"
                      "Skiing/v_Skiing_g01_c01.avi 4\n"            # line 2: class not in classInd
                      "YoYo/v_YoYo_g01_c01.avi 2\n"                # line 3: YoYo is 1 in classInd
                      "v_YoYo_g02_c01.avi 1\n"                     # line 4: no class folder
                      "YoYo/v_YoYo_g03_c01.avi 1\n")               # line 5: no frames extracted
    data, problems = build_ucf101_annotation(split_dir, frames, 1)
    assert sorted(data["database"]) == ["v_ApplyEyeMakeup_g01_c01", "v_YoYo_g01_c01", "v_YoYo_g08_c01"]
    assert data["database"]["v_YoYo_g01_c01"]["subset"] == "validation"  # from the test list, line 3 left out
    assert problems == [
        f"{train}:2: class 'Skiing' is not in classInd.txt",
        f"{train}:3: class id 2 disagrees with classInd.txt, where 'YoYo' is 1",
        f"{train}:4: expected '<class>/<video>.avi' with an optional class id, found 'v_YoYo_g02_c01.avi 1'",
        f"{train}:5: {os.path.join(frames, 'YoYo', 'v_YoYo_g03_c01')}: frame folder not found",
    ]
    assert ucf101_json.main([split_dir, frames, str(tmp_path / "json"), "--splits", "1"]) == 1
    assert "4 problem(s)" in capsys.readouterr().err


def test_ucf101_bad_class_index_or_missing_list_stops_the_tool(ucf, tmp_path, capsys):
    split_dir, frames = ucf
    class_index = os.path.join(split_dir, "classInd.txt")
    write_text(class_index, "1 YoYo\n3 ApplyEyeMakeup\n")
    with pytest.raises(ValueError, match=r"classInd.txt:2: expected '2 <class name>'"):
        read_ucf101_class_index(class_index)
    write_text(class_index, "1 YoYo\n2 ApplyEyeMakeup\n3 HandstandPushups\n")
    os.remove(os.path.join(split_dir, "testlist02.txt"))
    with pytest.raises(SystemExit) as stop:
        ucf101_json.main([split_dir, frames, str(tmp_path / "json")])
    assert stop.value.code == 2
    assert "testlist02.txt: UCF101 list file not found" in capsys.readouterr().err


def test_write_annotation_is_sorted_atomic_and_checks_entries(tmp_path):
    path = str(tmp_path / "deep" / "a.json")
    entry = {"subset": "training", "annotations": {"label": "b", "segment": [1, 5]}}
    data = {"labels": ["b", "a"], "database": {"z": entry, "m": entry}}
    assert write_annotation(data, path) == path
    assert os.listdir(tmp_path / "deep") == ["a.json"]
    with open(path) as f:
        text = f.read()
    assert json.loads(text) == data
    assert text.index('"m"') < text.index('"z"')
    bad = {"labels": ["b"], "database": {"z": dict(entry, subset="testing")}}
    with pytest.raises(ValueError, match="video 'z' has subset 'testing'"):
        write_annotation(bad, path)


@pytest.fixture
def frame_trees(tmp_path):
    rgb, flow = str(tmp_path / "rgb"), str(tmp_path / "flow")
    make_frames(os.path.join(rgb, "brush_hair", "v1"), range(1, 4))
    make_frames(os.path.join(rgb, "brush_hair", "v2"), range(1, 13))
    make_frames(os.path.join(flow, "brush_hair", "v1"), range(1, 3), mode="flow")
    return rgb, flow


def test_n_frames_for_rgb_and_flow_trees(frame_trees, capsys):
    rgb, flow = frame_trees
    assert generate_n_frames.main([rgb]) == 0
    with open(os.path.join(rgb, "brush_hair", "v1", N_FRAMES_FILE)) as f:
        assert f.read() == "3"
    assert read_n_frames(os.path.join(rgb, "brush_hair", "v2")) == 12
    assert generate_n_frames.main([flow, "--mode", "flow"]) == 0
    assert read_n_frames(os.path.join(flow, "brush_hair", "v1")) == 2  # pairs, not files
    assert "wrote n_frames for 1 videos" in capsys.readouterr().out


def test_n_frames_refuses_gaps_lone_flow_frames_and_empty_classes(frame_trees, capsys):
    rgb, flow = frame_trees
    make_frames(os.path.join(rgb, "cartwheel", "gappy"), [1, 2, 4, 5, 9])
    os.makedirs(os.path.join(rgb, "pour"))
    make_frames(os.path.join(flow, "brush_hair", "no_y"), range(1, 4), mode="flow", skip_y=(2,))
    make_frames(os.path.join(flow, "brush_hair", "no_x"), range(1, 3), mode="flow")
    make_frames(os.path.join(flow, "brush_hair", "no_x"), [3], mode="flow")
    os.remove(os.path.join(flow, "brush_hair", "no_x", flow_frame_names(3)[0]))

    counts, problems = write_n_frames_tree(rgb, "rgb", progress=False)
    gappy = os.path.join(rgb, "cartwheel", "gappy")
    assert sorted(counts.values()) == [3, 12]
    assert problems == [
        f"{os.path.join(rgb, 'pour')}: class folder holds no video folders",
        f"{gappy}: rgb frames are not contiguous 1..9: 4 missing "
        "(image_00003.jpg, image_00006.jpg, image_00007.jpg, image_00008.jpg)",
    ]
    assert not os.path.exists(os.path.join(gappy, N_FRAMES_FILE))

    assert generate_n_frames.main([flow, "--mode", "flow"]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert f"{os.path.join(flow, 'brush_hair', 'no_y')}: 1 flow x frames without their y frame " \
           "(first: image_00002x.jpg)" in err
    assert f"{os.path.join(flow, 'brush_hair', 'no_x')}: 1 flow y frames without their x frame " \
           "(first: image_00003y.jpg)" in err
    with pytest.raises(FrameFolderError, match="holds flow frames: use mode 'flow'"):
        count_frames(os.path.join(flow, "brush_hair", "v1"), "rgb")


def test_tools_run_as_scripts_and_explain_themselves(frame_trees):
    rgb, _ = frame_trees
    os.remove(os.path.join(rgb, "brush_hair", "v1", rgb_frame_name(2)))
    run = subprocess.run([sys.executable, "src/tools/generate_n_frames.py", rgb], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 1
    assert "1 problem(s)" in run.stderr and "image_00002.jpg" in run.stderr
    for tool in ("hmdb51_json", "ucf101_json"):
        run = subprocess.run([sys.executable, f"src/tools/{tool}.py", "--help"], cwd=ROOT, capture_output=True,
                             text=True, check=True)
        assert "video_path" in run.stdout and "--splits" in run.stdout


def test_n_frames_reports_unfinished_partial_folders(frame_trees):
    """A `<video>.partial` folder left by a killed extraction is reported, and gets no n_frames."""
    rgb, _ = frame_trees
    partial = os.path.join(rgb, "brush_hair", "v3" + PARTIAL_SUFFIX)
    make_frames(partial, [1, 2])
    counts, problems = write_n_frames_tree(rgb, "rgb", progress=False)
    assert partial not in counts and not os.path.exists(os.path.join(partial, N_FRAMES_FILE))
    assert problems == [f"{partial}: unfinished (left by an interrupted run); re-run the extraction"]


def test_annotation_file_names_are_upstreams():
    """One definition serves the CLIs and prepare_dataset.py (which once wrote ucf101_1.json)."""
    from src.data.annotations import annotation_file_name
    assert [annotation_file_name("hmdb51", k) for k in (1, 2, 3)] == ["hmdb51_1.json", "hmdb51_2.json", "hmdb51_3.json"]
    assert [annotation_file_name("ucf101", k) for k in (1, 2, 3)] == ["ucf101_01.json", "ucf101_02.json", "ucf101_03.json"]
    with pytest.raises(ValueError, match="kinetics"):
        annotation_file_name("kinetics", 1)
