"""Packaging detail pyproject.toml cannot say: install ``resources/`` as ``convviz/_resources``."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["convviz", "convviz.*"]) + ["convviz._resources"],
    package_dir={"convviz._resources": "resources"},
    package_data={"convviz._resources": ["**/*"]},
)
