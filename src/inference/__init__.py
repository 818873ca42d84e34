"""Inference on video files (infer.py): video -> evaluation clips (flow computed on the fly) -> top-k classes."""
from .labels import KINETICS400_LABEL_MAP, class_names_for, read_label_map  # noqa: F401
from .predict import classify_videos, format_predictions, predictions_record, top_k  # noqa: F401
from .video_clips import DEFAULT_SHORT_SIDE, FlowFrames, VideoClips, check_video, decode_video  # noqa: F401
