"""Evaluation: score fusion (clips -> videos, rgb + flow -> joint), metrics and the one evaluation loop."""
from .evaluate import (format_metrics, joint_video_scores, network_predictor, predict_clips, report,  # noqa: F401
                       scores_by_video, video_scores, write_evaluation, write_summary)
from .metrics import (classification_report, confusion_matrix, fuse_clip_scores, fuse_two_stream,  # noqa: F401
                      topk_accuracy)
