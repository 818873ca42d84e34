"""Is the built-in sample dataset learnable in a few minutes on a laptop CPU? (issue: Data, the sizing)

    python benchmarks/sample_dataset_learnability.py [--epochs 4] [--out benchmarks/results/sample_learnability.json]

Builds the default sample dataset (6 motion classes x 16 videos), prepares it with the one-command tool (DIS flow,
shorter side 128), fine-tunes the flow-stream I3D from DeepMind's Kinetics-400 RGB weights (cross-modality init)
on 16x112x112 clips and prints validation accuracy per epoch against chance (1/6). A deliberately bare loop
(Adam, constant lr) for this one measurement; train.py is the real trainer.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import src  # noqa: E402,F401
import mindspore as ms  # noqa: E402
import numpy as np  # noqa: E402
from mindspore import nn  # noqa: E402

from src.data.sample_dataset import make_sample_dataset  # noqa: E402
from src.factory import create_dataset, create_model  # noqa: E402
from src.tools import i3d_jax2ckpt, prepare_dataset  # noqa: E402


def accuracy(net, dataset):
    net.set_train(False)
    correct = total = 0
    for clip, label, _ in dataset.create_tuple_iterator(num_epochs=1):
        correct += int((net(clip).asnumpy().argmax(1) == label.asnumpy()).sum())
        total += label.shape[0]
    return correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--bn_momentum", type=float, default=0.9, help="MindSpore convention (weight kept)")
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "sample_learnability.json"))
    args = parser.parse_args()
    ms.set_seed(0)
    with tempfile.TemporaryDirectory() as root:
        make_sample_dataset(root, seed=0, progress=False)
        prepared = os.path.join(root, "prepared")
        if prepare_dataset.main(["--dataset", "hmdb51", "--video_root", os.path.join(root, "videos"),
                                 "--split_dir", os.path.join(root, "splits"), "--out_dir", prepared,
                                 "--short_side", "128", "--flow_method", "dis"]) != 0:
            raise SystemExit("preparing the sample dataset failed")
        checkpoint = os.path.join(root, "rgb_imagenet.ckpt")
        i3d_jax2ckpt.main(["--save_path", checkpoint])
        tree, annotation = os.path.join(prepared, "flow"), os.path.join(prepared, "annotations", "hmdb51_1.json")
        clip_args = {"clip_len": 16, "spatial_size": 112, "batch_size": args.batch_size}
        train, source = create_dataset("sample", tree, annotation, "training", "flow", num_workers=2, seed=0,
                                       **clip_args)
        val, val_source = create_dataset("sample", tree, annotation, "validation", "flow", **clip_args)
        net = create_model("i3d", num_classes=len(source.class_names), mode="flow", checkpoint_path=checkpoint,
                           cross_modality=True, bn_momentum=args.bn_momentum)
        loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Adam(net.trainable_params(), args.lr))
        rows, start = [], time.perf_counter()
        for epoch in range(args.epochs):
            step.set_train(True)
            losses = [float(step(clip, label).asnumpy()) for clip, label, _ in train.create_tuple_iterator(num_epochs=1)]
            rows.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_top1": accuracy(net, val),
                         "minutes": (time.perf_counter() - start) / 60})
            print(f"epoch {epoch + 1}: loss {rows[-1]['train_loss']:.3f}, validation top-1 {rows[-1]['val_top1']:.3f} "
                  f"({len(val_source.records)} videos, chance {1 / len(source.class_names):.3f}), "
                  f"{rows[-1]['minutes']:.1f} min", flush=True)
    result = {"stream": "flow", "clips": "16x112x112", "train_videos": len(source.records),
              "val_videos": len(val_source.records), "chance": 1 / len(source.class_names), **vars(args), "rows": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
