"""Model registry: each model file registers small named constructors with `@register_model`.

A constructor takes keyword arguments only (num_classes, in_channels, dropout_keep_prob, ...) and returns
an `nn.Cell`. Its default configuration (`default_cfg`) names the classifier and the first convolution so
that head replacement, freezing and cross-modality initialisation work the same way for every backbone.
"""
_model_entrypoints = {}
_default_cfgs = {}


def register_model(fn=None, *, default_cfg=None):
    """Register `fn` under its function name, with its default configuration."""
    def decorator(constructor):
        name = constructor.__name__
        if name in _model_entrypoints:
            raise ValueError(f"model '{name}' is registered twice")
        _model_entrypoints[name] = constructor
        _default_cfgs[name] = dict(default_cfg or {})
        return constructor
    return decorator(fn) if fn is not None else decorator


def list_models():
    return sorted(_model_entrypoints)


def is_model(name):
    return name in _model_entrypoints


def model_entrypoint(name):
    if name not in _model_entrypoints:
        raise ValueError(f"unknown model '{name}'; registered models: {', '.join(list_models())}")
    return _model_entrypoints[name]


def default_cfg(name):
    model_entrypoint(name)
    return dict(_default_cfgs[name])
