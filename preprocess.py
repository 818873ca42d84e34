r"""Write the VALIDATION clips of one stream as raw float32 batches for the C++ inference program (310 route).

    python preprocess.py --dataset hmdb51 --mode rgb --video_path FRAMES --annotation_path ANN.json \
        --batch_size 8 [--test_sample_duration 64 --spatial_size 224 --num_val_samples 1]

The clips are exactly eval.py's (its spatial views, --num_val_crops; the model's temporal sampling: evenly
spaced windows or TSN segments; the same normalisation), so the 310 accuracy from postprocess.py equals eval.py's on the same model.
Layout (src/deploy/batch_files.py): preprocess_Result/data/<dataset>/<mode>/*.bin,
preprocess_Result/label/<dataset>/<mode>/ (labels, manifest).
"""
import src  # noqa: F401  (runtime fixes before MindSpore runs anything)
from config import explicit_options, parse_config
from src.context import set_global_seed
from src.deploy.batch_files import write_clip_batches
from src.entry import run_entry
from src.factory import apply_model_input, dataset_from_config, stream_paths
from src.progress import Progress


def main(argv=None):
    cfg = apply_model_input(parse_config(argv, description=__doc__, script="preprocess"), explicit_options(argv))
    set_global_seed(cfg.seed)
    video_path, annotation_path = stream_paths(cfg, cfg.mode)
    data, source = dataset_from_config(cfg, "validation", cfg.mode, video_path, annotation_path)
    with Progress(data.get_dataset_size(), f"{cfg.dataset} {cfg.mode}", unit="batch") as bar:
        data_dir, label_dir = write_clip_batches(
            cfg.preprocess_result, cfg.dataset, cfg.mode, data.create_tuple_iterator(num_epochs=1, output_numpy=True),
            source, cfg.batch_size, cfg.num_val_samples, progress=bar)
    print(f"{len(source.records)} videos x {cfg.num_val_samples} clips x {cfg.num_val_crops} crops in batches of "
          f"{cfg.batch_size}: {data_dir} "
          f"(labels and manifest: {label_dir})")
    return data_dir


if __name__ == "__main__":
    run_entry(main)
