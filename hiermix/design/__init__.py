"""Spec + data -> Design: the matrices and encodings both engines start from."""

from __future__ import annotations

from .design import Design, NewData, RankDeficiencyWarning, build_design
from .frame import ModelFrame, build_frame
from .reterm import ReTerm

__all__ = ["Design", "ModelFrame", "NewData", "RankDeficiencyWarning", "ReTerm", "build_design",
           "build_frame"]
