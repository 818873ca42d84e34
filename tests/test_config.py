"""The one configuration definition: YAML + command line, booleans, unknown keys, saving."""
import os

import pytest
import yaml

from config import OPTIONS, load_yaml, parse_config, save_config


def test_defaults_cover_every_option():
    cfg = parse_config([])
    assert {k for k in vars(cfg) if k != "config"} == set(OPTIONS)
    assert cfg.verify_export is True and cfg.dynamic_batch is False and cfg.file_format == "MINDIR"


@pytest.mark.parametrize("argv,expected", [
    (["--verify_export=False"], False), (["--verify_export", "false"], False), (["--verify_export=0"], False),
    (["--verify_export"], True), (["--verify_export=True"], True), ([], True)])
def test_booleans_parse_as_booleans(argv, expected):
    assert parse_config(argv).verify_export is expected


@pytest.mark.parametrize("argv,yaml_text,expected", [
    ([], "", "off"), (["--partial_bn"], "", "frozen"), (["--partial_bn=true"], "", "frozen"),
    (["--partial_bn", "affine"], "", "affine"), (["--partial_bn", "Frozen"], "", "frozen"),
    ([], "partial_bn: true\n", "frozen"), ([], "partial_bn: false\n", "off"), ([], "partial_bn: affine\n", "affine"),
    (["--partial_bn", "off"], "partial_bn: affine\n", "off")])
def test_partial_bn_is_a_mode_and_the_booleans_it_was_still_parse(tmp_path, argv, yaml_text, expected):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml_text or "{}\n")
    assert parse_config(["--config", str(path), *argv]).partial_bn == expected


def test_yaml_then_command_line(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("mode: flow\nbatch_size: 4\ndynamic_batch: false\nfile_format: ONNX\n")
    cfg = parse_config(["--config", str(path), "--batch_size", "2"])
    assert (cfg.mode, cfg.batch_size, cfg.dynamic_batch, cfg.file_format) == ("flow", 2, False, "ONNX")


@pytest.mark.parametrize("text,message", [
    ("mdoe: flow\n", "unknown option"),
    ("mode: depth\n", "must be one of"),
    ("batch_size: many\n", "batch_size"),
    ("dynamic_batch: perhaps\n", "boolean"),
    ("- a list\n", "mapping"),
    ("lr: [0.1,\n", "not valid YAML at line 2"),       # a syntax error: one line, not PyYAML's traceback
    ("spatial_size: 0\n", "'spatial_size': must be >= 1, got 0"),
    ("dropout_keep_prob: 0\n", "must be in (0.0, 1.0]"),
    ("lr_half_cycle_epochs: 0\n", "'lr_half_cycle_epochs': must be > 0.0, got 0"),
    ("partial_bn: half\n", "'partial_bn': expected one of ['off', 'frozen', 'affine'] (or true = frozen")])
def test_bad_yaml_is_an_error_naming_the_file(tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        parse_config(["--config", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err


def test_unknown_command_line_option_is_an_error(capsys):
    with pytest.raises(SystemExit):
        parse_config(["--sink_mdoe", "1"])
    assert "unrecognized arguments" in capsys.readouterr().err


def test_saved_config_round_trips(tmp_path):
    cfg = parse_config(["--mode", "flow", "--verify_export=False", "--spatial_size", "112"])
    path = save_config(cfg, str(tmp_path / "run" / "config.yaml"))
    assert load_yaml(path) == {k: v for k, v in vars(cfg).items() if k in OPTIONS}
    assert yaml.safe_load(open(path))["verify_export"] is False
    assert parse_config(["--config", path]).spatial_size == 112


def test_every_option_is_read_by_some_entry_script_or_library():
    """'Every documented option does something': each option name is read as cfg.<name> somewhere."""
    import glob
    from config import OPTIONS
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = [os.path.join(root, name) for name in ("train.py", "eval.py", "export.py", "preprocess.py",
                                                   "postprocess.py", "infer.py")]
    files += glob.glob(os.path.join(root, "src", "**", "*.py"), recursive=True)
    code = "".join(open(f).read() for f in files if os.path.isfile(f))
    assert not [name for name in OPTIONS if f"cfg.{name}" not in code]


def test_upstream_spellings_parse():
    cfg = parse_config(["--context", "gr", "--optimizer", "SGD", "--sink_mode=False", "--no_eval", "true"])
    assert cfg.context == "graph" and cfg.optimizer == "sgd" and cfg.sink_mode is False and cfg.no_eval is True


@pytest.mark.parametrize("argv,message", [
    (["--batch_size", "0"], "--batch_size: must be >= 1, got 0"),   # was a ZeroDivisionError in training
    (["--spatial_size", "0"], "--spatial_size: must be >= 1"),       # was "Framework Unexpected Exception"
    (["--test_sample_duration", "-3"], "must be >= 1"),
    (["--num_epochs", "1.5"], "expected a whole number, got '1.5'"),
    (["--bn_momentum", "1.5"], "must be in [0.0, 1.0]"),
    (["--lr", "-1"], "must be >= 0.0")])
def test_out_of_range_options_are_refused_where_they_are_read(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def _help(script, capsys):
    from config import build_parser
    build_parser("Line one.\n\n    python x.py --a 1 \\\n        --b 2\n", script).print_help()
    return capsys.readouterr().out


def test_help_lists_only_what_the_script_reads(capsys):
    infer_help = _help("infer", capsys)
    assert "--video" in infer_help and "--flow_method" in infer_help and "--spatial_size" in infer_help
    for training_only in ("--lr ", "--amp_level", "--save_dir", "--finetune_prefixes", "--file_format"):
        assert training_only not in infer_help, training_only
    train_help = _help("train", capsys)
    assert "--lr " in train_help and "--amp_level" in train_help and "--video " not in train_help
    assert "--file_format" in _help("export", capsys)


def test_hidden_options_are_still_accepted():
    """One YAML file serves every script: an option a script's --help leaves out still parses."""
    from config import build_parser
    args = build_parser(None, "infer").parse_args(["--lr", "0.5", "--amp_level", "O2"])
    assert args.lr == 0.5 and args.amp_level == "O2"


def test_help_keeps_example_lines_and_says_no_empty_default(capsys):
    text = _help(None, capsys)
    assert "    python x.py --a 1 \\\n        --b 2" in text  # the description's lines as written
    assert "(default: )" not in text and "(default: [])" not in text
    assert "(default: 224)" in text


def test_every_script_names_its_help_options():
    from config import OPTION_GROUPS, SCRIPT_OPTIONS
    for script, items in SCRIPT_OPTIONS.items():
        assert os.path.isfile(os.path.join(os.path.dirname(os.path.dirname(__file__)), f"{script}.py")), script
        assert all(item in OPTION_GROUPS or item in OPTIONS for item in items), script


def test_every_recipe_loads_and_names_a_registered_model_of_its_folder():
    import glob
    from src.models import default_cfg, is_model
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
    recipes = sorted(glob.glob(os.path.join(root, "*", "*.yaml")))
    assert len(recipes) >= 6
    for path in recipes:
        values = load_yaml(path)  # every key known, every value checked
        family = os.path.basename(os.path.dirname(path))
        # the folder is the model's family (its weight format): configs/p3d/p3d199_ucf101.yaml
        assert is_model(values["model"]) and default_cfg(values["model"])["weight_format"] == family, path
        assert os.path.basename(path) == f"{values['model']}_{values['dataset']}.yaml", path
        assert parse_config(["--config", path]).model == values["model"]
