"""Synthetic PyTorch state dicts from the released key lists in tests/fixtures/state_dict_keys/ ('key [d0,d1,...]'
per line, '#' lines a header): where every converted value went can be checked by its number."""
import ast
import os

import numpy as np

KEYS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "state_dict_keys")


def read_key_list(filename):
    """{key: shape} of a key-list file."""
    entries = {}
    with open(os.path.join(KEYS_DIR, filename)) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, shape = line.split(None, 1)
                entries[key] = tuple(ast.literal_eval(shape))
    return entries


def numbered_state(entries):
    """Each tensor filled with its own index (its position in the sorted keys)."""
    return {key: np.full(shape, index, np.float32) for index, (key, shape) in enumerate(sorted(entries.items()))}
