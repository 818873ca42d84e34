"""Lets a tool run as `python src/tools/<tool>.py` (the upstream way) as well as `python -m src.tools.<tool>`."""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
