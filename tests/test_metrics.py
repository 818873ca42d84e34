"""Score fusion (clips -> videos, rgb + flow -> joint) and metrics."""
import numpy as np
import pytest

from src.evaluation import classification_report, confusion_matrix, fuse_clip_scores, fuse_two_stream, topk_accuracy


def test_clip_scores_are_averaged_per_video_not_per_row():
    scores = [[1, 0], [3, 0], [0, 5], [2, 2], [0, 1]]
    videos, fused, labels = fuse_clip_scores(scores, [7, 7, 2, 7, 2], labels=[0, 0, 1, 0, 1])
    assert videos.tolist() == [2, 7]
    assert np.allclose(fused, [[0, 3], [2, 2 / 3]])
    assert labels.tolist() == [1, 0]


def test_clips_of_one_video_must_agree_on_the_label():
    with pytest.raises(ValueError, match="different labels"):
        fuse_clip_scores([[1, 0], [0, 1]], [4, 4], labels=[0, 1])
    with pytest.raises(ValueError, match="2 score rows but 3"):
        fuse_clip_scores([[1, 0], [0, 1]], [4, 4, 5])


def test_two_streams_are_matched_by_id_not_position():
    rgb = {"b": np.array([1.0, 0.0]), "a": np.array([0.0, 2.0])}
    flow = {"a": np.array([3.0, 0.0]), "b": np.array([0.0, 0.5])}  # other order
    joint = fuse_two_stream(rgb, flow)
    assert np.allclose(joint["a"], [3, 2]) and np.allclose(joint["b"], [1, 0.5])
    weighted = fuse_two_stream(rgb, flow, weights=(1.0, 2.0))
    assert np.allclose(weighted["a"], [6, 2])
    soft = fuse_two_stream(rgb, flow, softmax=True)
    assert np.isclose(soft["a"].sum(), 2.0)  # two probability vectors
    assert np.allclose(soft["b"], [np.exp(1) / (np.exp(1) + 1) + 1 / (1 + np.exp(0.5)),
                                   1 / (np.exp(1) + 1) + np.exp(0.5) / (1 + np.exp(0.5))])


def test_a_video_in_only_one_stream_is_an_error():
    with pytest.raises(ValueError, match=r"1 only in rgb \['c'\], 0 only in flow"):
        fuse_two_stream({"a": [1, 0], "c": [0, 1]}, {"a": [1, 0]})


def test_topk_and_confusion():
    scores = np.array([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    labels = np.array([2, 0, 1, 1])
    assert topk_accuracy(scores, labels, 1) == 0.5   # rows 1 and 3
    assert topk_accuracy(scores, labels, 2) == 0.75  # row 2 ties 0 and 1 at 0.3: the lower index, 0, is kept
    assert topk_accuracy(scores, labels, 3) == 1.0
    assert confusion_matrix(labels, scores.argmax(1), 3).tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]


def test_classification_report():
    scores = np.eye(3)[[0, 1, 1, 2, 2, 0]]  # predictions 0 1 1 2 2 0
    labels = np.array([0, 1, 2, 2, 2, 1])
    report = classification_report(scores, labels, ["a", "b", "c", "d"][:3])
    assert report["top1"] == pytest.approx(4 / 6)
    assert report["per_class_accuracy"] == {"a": 1.0, "b": 0.5, "c": pytest.approx(2 / 3)}
    assert report["mean_class_accuracy"] == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    assert report["confusion_matrix"] == [[1, 0, 0], [1, 1, 0], [0, 1, 2]]
    absent = classification_report(np.eye(4)[[0, 1]], np.array([0, 1]), list("abcd"))
    assert absent["per_class_accuracy"]["d"] is None and absent["mean_class_accuracy"] == 1.0
    with pytest.raises(ValueError, match="3 classes"):
        classification_report(np.zeros((2, 4)), np.array([0, 1]), ["a", "b", "c"])


def test_clip_fusion_by_softmax_averages_probabilities():
    from src.evaluation import scores_by_video
    clips = np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # video 0: one confident clip, two mild ones
    logits, _ = scores_by_video(clips, [0, 0, 0], [0, 0, 0], ["v"])
    probabilities, _ = scores_by_video(clips, [0, 0, 0], [0, 0, 0], ["v"], clip_fusion="softmax")
    assert np.argmax(logits["v"]) == 0 and np.argmax(probabilities["v"]) == 1
    e = np.exp(clips - clips.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probabilities["v"], (e / e.sum(axis=1, keepdims=True)).mean(axis=0))
