"""The public surface is a visible decision: adding or removing a name changes this test."""

import subprocess
import sys

import tabloop

PUBLIC = [
    "ColumnSchema",
    "Evaluation",
    "MonitorReport",
    "Problem",
    "Profile",
    "ProjectConfig",
    "ReferenceProfile",
    "RetrainResult",
    "Schema",
    "TabloopModel",
    "TrainResult",
    "TrainTest",
    "ValidationReport",
    "__version__",
    "create_app",
    "drift_report",
    "examples",
    "exceptions",
    "infer_schema",
    "infer_task",
    "init_project",
    "list_versions",
    "load_config",
    "load_data",
    "load_model",
    "load_sql",
    "load_training_data",
    "predict",
    "predict_file",
    "profile",
    "promote",
    "register",
    "rollback",
    "run_demo",
    "split",
    "validate",
]


def test_exported_members_are_exactly_the_public_names():
    assert tabloop.__all__ == sorted(PUBLIC)


def test_every_exported_member_resolves():
    for name in tabloop.__all__:
        assert getattr(tabloop, name) is not None


def test_subpackages_declare_sorted_all():
    import tabloop.config
    import tabloop.data
    import tabloop.data.frame
    import tabloop.data.reference
    import tabloop.demo
    import tabloop.evaluate
    import tabloop.examples
    import tabloop.exceptions
    import tabloop.monitor
    import tabloop.monitor.production
    import tabloop.prepare
    import tabloop.registry
    import tabloop.report
    import tabloop.retrain
    import tabloop.scale
    import tabloop.serve
    import tabloop.serve.protocols
    import tabloop.store
    import tabloop.train
    import tabloop.workflows

    for module in (
        tabloop.config,
        tabloop.data,
        tabloop.data.frame,  # shared with the other packages, not the user's API
        tabloop.data.reference,  # idem
        tabloop.demo,
        tabloop.evaluate,
        tabloop.examples,
        tabloop.exceptions,
        tabloop.monitor,
        tabloop.monitor.production,  # shared with retrain, not the user's API
        tabloop.prepare,
        tabloop.registry,
        tabloop.report,
        tabloop.retrain,
        tabloop.scale,
        tabloop.serve,
        tabloop.serve.protocols,
        tabloop.store,
        tabloop.train,
        tabloop.workflows,
    ):
        assert module.__all__ == sorted(module.__all__), module.__name__
        for name in module.__all__:
            assert hasattr(module, name)


def test_errors_subclass_the_builtin_a_user_already_catches():
    from tabloop import exceptions as e

    assert issubclass(e.ConfigError, ValueError) and issubclass(e.SchemaError, ValueError)
    assert issubclass(e.DataFileNotFoundError, FileNotFoundError)
    assert issubclass(e.ConfigNotFoundError, FileNotFoundError)
    assert issubclass(e.MissingDependencyError, ImportError)
    for name in e.__all__:
        assert issubclass(getattr(e, name), e.TabloopError)


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_import_tabloop_loads_no_heavy_library():
    loaded = _modules_after("import tabloop")
    assert not loaded & {"pandas", "numpy", "sklearn", "scipy", "pydantic", "plotly", "sqlalchemy"}


def test_cli_help_loads_no_heavy_library():
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: print(' '.join(sys.modules)))\n"
        "sys.argv = ['tabloop', '--help']\n"
        "from tabloop.cli import main\n"
        "main()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    loaded = set(out.stdout.split())
    assert "typer" in loaded
    assert not loaded & {"pandas", "numpy", "sklearn", "scipy", "pydantic", "plotly", "sqlalchemy"}
