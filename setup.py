"""Everything is in pyproject.toml except one mapping it cannot say: the top-level ``sql/`` folder of
migrations is installed inside the package, as ``orchestrator.migrations``."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["orchestrator*", "cbr_emulator*"]), "orchestrator.migrations"],
    package_dir={"orchestrator.migrations": "sql"},
)
