"""Evaluation: score fusion (clips -> videos, rgb + flow -> joint) and metrics, shared by every evaluator."""
from .metrics import (classification_report, confusion_matrix, fuse_clip_scores, fuse_two_stream,  # noqa: F401
                      topk_accuracy)
